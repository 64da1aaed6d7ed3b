//! Builds the configured plugins and runs them until a stop signal;
//! SIGHUP re-reads the configuration and key (off the runtime, with a
//! deadline) while requests keep flowing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use keys::{CheckReport, Key, KeyError};
use plugins::backend::libvirt::{LibvirtBackend, LibvirtConfig as BackendLibvirtConfig};
use plugins::backend::Backend;
use plugins::listener::multicast::{MulticastConfig as ListenMulticast, MulticastListener};
use plugins::listener::tcp::TcpListener;
use plugins::listener::{Deadlines, Listener, ListenerAuth, ListenerStats, SharedAuth};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{reload, AuthSettings, BackendConfig, DaemonConfig, GroupConfig, ListenerConfig, Warning};
use crate::dispatcher::{DispatchLimits, Dispatcher};
use crate::permissions::{Group, PermissionMap};
use crate::registry::{not_built_in, PluginId};

/// How often initialisation is retried with `-w`.
const INIT_RETRY: Duration = Duration::from_secs(1);
/// How long a reload may take to read its files.
const RELOAD_LIMIT: Duration = Duration::from_secs(10);
/// How long a stop waits for requests in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Reads the listener's key. Fails closed: a missing, unreadable or empty
/// key is an error unless both `hash` and `auth` are `none`, and so is a key
/// that is not a regular file, is a symbolic link, is open to group or
/// others, or is owned by another user than root or us — the last two only
/// warned about with `allow_insecure` (`--allow-insecure-permissions`).
pub fn load_auth(settings: &AuthSettings, config_path: &Path, allow_insecure: bool) -> Result<ListenerAuth> {
    let key = if settings.key_required() {
        let where_ = settings
            .key_file_line
            .map(|l| format!("{}:{l}", config_path.display()))
            .unwrap_or_else(|| format!("{} (default key_file)", config_path.display()));
        let (key, report) = CheckReport::for_file(&settings.key_file).map_err(|e| match &e {
            KeyError::Empty { .. } | KeyError::Unreadable { .. } if !is_special_file(&e) => {
                anyhow!("{e} (set in {where_}; generate one with `fence_virt_key generate {}`, or set hash and auth to \"none\" to run without authentication)", settings.key_file.display())
            }
            _ => anyhow!("{e} (set in {where_})"),
        })?;
        if !report.problems.is_empty() {
            let problems = report.problems.join("; ");
            if !allow_insecure {
                bail!("{problems}, or start fence_virtd with --allow-insecure-permissions");
            }
            tracing::warn!("{problems} (accepted: --allow-insecure-permissions)");
        }
        for warning in report.warnings {
            tracing::warn!("{warning}");
        }
        key.as_bytes().to_vec()
    } else {
        tracing::warn!("hash and auth are both \"none\": requests are NOT authenticated");
        Key::from_bytes(b"").as_bytes().to_vec()
    };
    Ok(ListenerAuth::new(key, settings.hash, settings.auth))
}

/// A symlink, FIFO or other non-regular file: generating a key there is not the fix.
fn is_special_file(e: &KeyError) -> bool {
    matches!(e, KeyError::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::Other)
}

/// The permission map of the configured groups.
pub fn permission_map(groups: &[GroupConfig]) -> PermissionMap {
    PermissionMap::new(groups.iter().map(|g| Group::from_entries(g.name.clone(), &g.ips, &g.uuids)).collect())
}

/// Connects the configured backend.
pub fn build_backend(config: &BackendConfig) -> Result<Arc<dyn Backend>> {
    match config {
        BackendConfig::Libvirt(c) => {
            let backend = LibvirtBackend::connect(BackendLibvirtConfig {
                uris: c.uris.clone(),
                reboot_method: c.reboot_method,
                call_timeout: c.call_timeout,
            })
            .context("libvirt backend failed to initialize")?;
            Ok(Arc::new(backend))
        }
        BackendConfig::Cpg(_) => bail!(not_built_in(PluginId::Cpg)),
    }
}

/// Binds the configured listener (inside the runtime).
pub fn bind_listener(
    config: &ListenerConfig,
    auth: SharedAuth,
    stats: Arc<ListenerStats>,
) -> Result<Box<dyn Listener>> {
    let deadlines = Deadlines::default();
    match config {
        ListenerConfig::Multicast(m) => {
            let interface_index = match &m.interface {
                Some(name) => {
                    Some(nix::net::if_::if_nametoindex(name.as_str()).with_context(|| format!("interface {name}"))?)
                }
                None => None,
            };
            let listen = ListenMulticast {
                group: m.address,
                port: m.port,
                interface_index,
                require_source_match: m.require_source_match,
            };
            let listener = MulticastListener::bind(listen, auth, deadlines, stats)
                .with_context(|| format!("multicast listener on {}:{} failed to initialize", m.address, m.port))?;
            Ok(Box::new(listener))
        }
        ListenerConfig::Tcp(t) => {
            let address = SocketAddr::new(t.address, t.port);
            let listener = TcpListener::bind(address, auth, deadlines, stats)
                .with_context(|| format!("tcp listener on {address} failed to initialize"))?;
            Ok(Box::new(listener))
        }
        other => bail!(not_built_in(other.plugin())),
    }
}

/// How long connecting the backend may take: its call `timeout`.
fn init_limit(config: &BackendConfig) -> Duration {
    match config {
        BackendConfig::Libvirt(c) => c.call_timeout,
        BackendConfig::Cpg(_) => plugins::backend::libvirt::DEFAULT_CALL_TIMEOUT,
    }
}

/// Connects the backend off the runtime. A hypervisor that does not answer
/// within the limit is an error — or, with `wait`, a warning while the same
/// attempt goes on (no second connection piles up behind a hung one).
async fn init_backend(config: &BackendConfig, wait: bool) -> Result<Arc<dyn Backend>> {
    let limit = init_limit(config);
    loop {
        let mut attempt = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || build_backend(&config))
        };
        let result = loop {
            match tokio::time::timeout(limit, &mut attempt).await {
                Ok(joined) => break joined?,
                Err(_) if wait => {
                    tracing::warn!("{} backend: no answer within {} s; still waiting", config.name(), limit.as_secs())
                }
                Err(_) => {
                    bail!("{} backend failed to initialize: no answer within {} s", config.name(), limit.as_secs())
                }
            }
        };
        match result {
            Ok(b) => return Ok(b),
            Err(e) if wait => {
                tracing::warn!("{e:#}; retrying in {} s", INIT_RETRY.as_secs());
                tokio::time::sleep(INIT_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT, with the listener's
/// credentials already loaded by [`load_auth`].
/// `allow_insecure` (`--allow-insecure-permissions`) holds for reloads too.
pub async fn serve(
    config: DaemonConfig,
    config_path: PathBuf,
    wait: bool,
    allow_insecure: bool,
    initial_auth: ListenerAuth,
) -> Result<()> {
    let backend = init_backend(&config.backend, wait).await?;
    let auth: SharedAuth = Arc::new(RwLock::new(Arc::new(initial_auth)));
    let stats = Arc::new(ListenerStats::default());
    let listener = loop {
        match bind_listener(&config.listener, auth.clone(), stats.clone()) {
            Ok(l) => break l,
            Err(e) if wait => {
                tracing::warn!("{e:#}; retrying in {} s", INIT_RETRY.as_secs());
                tokio::time::sleep(INIT_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    };
    let dispatcher = Dispatcher::new(backend.clone(), permission_map(&config.groups), DispatchLimits::default());
    // Before saying ready: a SIGTERM right after READY=1 must stop us gracefully.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tracing::info!(
        "fence_virtd {} ready: listener {}, backend {}, {} group(s)",
        env!("CARGO_PKG_VERSION"),
        listener.name(),
        backend.name(),
        config.groups.len()
    );
    let serving = tokio::spawn(listener.serve(Arc::new(dispatcher.clone())));
    // systemd (Type=notify): ready now; with WatchdogSec=, keep-alives from
    // the runtime itself, so a stalled runtime stops them.
    plumbing::service_manager::ready(&format!(
        "serving: listener {}, backend {}, {} group(s)",
        config.listener.plugin().name(),
        config.backend.plugin().name(),
        config.groups.len()
    ));
    let keep_alive = plumbing::service_manager::keep_alive_interval().map(|every| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                plumbing::service_manager::keep_alive();
            }
        })
    });

    let mut current = config;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => reload(&config_path, allow_insecure, &mut current, &auth, &dispatcher).await,
        }
    }
    plumbing::service_manager::stopping();
    serving.abort();
    if let Some(task) = keep_alive {
        task.abort();
    }
    let drained = crate::wait_until(DRAIN_LIMIT, || dispatcher.in_flight() == 0).await;
    if !drained {
        tracing::warn!("stopping with {} request(s) still in flight", dispatcher.in_flight());
    }
    use std::sync::atomic::Ordering::Relaxed;
    tracing::info!(
        "served {} request(s); dropped {} bad, {} duplicate, {} busy; {} failed callbacks, {} failed authentications; \
         {} connections refused, {} accept errors",
        stats.served.load(Relaxed),
        stats.rejected.load(Relaxed),
        stats.duplicates.load(Relaxed),
        stats.busy.load(Relaxed),
        stats.callback_failures.load(Relaxed),
        stats.auth_failures.load(Relaxed),
        stats.refused_connections.load(Relaxed),
        stats.accept_failures.load(Relaxed)
    );
    Ok(())
}

/// What a reload read.
struct Reread {
    fresh: DaemonConfig,
    warnings: Vec<Warning>,
    auth: ListenerAuth,
}

/// Reads the configuration and the key as at start-up. Blocking: run it
/// off the runtime.
fn reread(path: &Path, allow_insecure: bool) -> Result<Reread> {
    let (fresh, warnings) = DaemonConfig::load_trusted(path, allow_insecure)?;
    let settings =
        fresh.listener.auth().ok_or_else(|| anyhow!("listener {} is not built in", fresh.listener.name()))?;
    let auth = load_auth(settings, path, allow_insecure)?;
    Ok(Reread { fresh, warnings, auth })
}

/// SIGHUP: re-read config and key off the runtime, within [`RELOAD_LIMIT`];
/// swap credentials and permissions. Every other change is named as needing
/// a restart, and the running value kept.
async fn reload(
    path: &Path,
    allow_insecure: bool,
    current: &mut DaemonConfig,
    auth: &SharedAuth,
    dispatcher: &Dispatcher,
) {
    let reading = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || reread(&path, allow_insecure))
    };
    let read = match tokio::time::timeout(RELOAD_LIMIT, reading).await {
        Ok(Ok(Ok(read))) => read,
        Ok(Ok(Err(e))) => {
            tracing::error!("SIGHUP: keeping the running configuration: {e:#}");
            return;
        }
        Ok(Err(e)) => {
            tracing::error!("SIGHUP: keeping the running configuration: reading failed: {e}");
            return;
        }
        Err(_) => {
            tracing::error!(
                "SIGHUP: keeping the running configuration: reading {} and its key took longer than {} s",
                path.display(),
                RELOAD_LIMIT.as_secs()
            );
            return;
        }
    };
    for w in read.warnings {
        tracing::warn!("{w}");
    }
    *auth.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(read.auth);
    dispatcher.set_permissions(permission_map(&read.fresh.groups));
    for setting in reload::restart_needed(current, &read.fresh) {
        tracing::error!(
            "SIGHUP: {setting} changed in {}: this setting needs a restart; still running with the old value",
            path.display()
        );
    }
    tracing::info!("SIGHUP: reloaded key and {} group(s) from {}", read.fresh.groups.len(), path.display());
    *current = reload::applied(current, &read.fresh);
}
