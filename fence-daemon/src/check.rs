//! `fence_virtd --check-config`: everything a start checks — the
//! configuration file (trust, syntax, values), the listener's key (trust,
//! presence), the interface, the plugins being built in — without binding a
//! socket, connecting to libvirt or detaching; then what would be used, in
//! a few lines an admin can compare across hosts (the key by fingerprint).

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Result};
use keys::CheckReport;

use crate::config::{BackendConfig, DaemonConfig, ListenerConfig};
use crate::registry::not_built_in;
use crate::server;

/// Checks `path` as a start would (`allow_insecure` as
/// `--allow-insecure-permissions`) and returns the report to print; warnings
/// come first, each on a line starting with `warning:`.
pub fn check(path: &Path, allow_insecure: bool) -> Result<String> {
    let (config, warnings) = DaemonConfig::load_trusted(path, allow_insecure)?;
    config.check_host()?;
    for id in [config.listener.plugin(), config.backend.plugin()] {
        if !id.plugin().implemented {
            bail!(not_built_in(id));
        }
    }
    let Some(settings) = config.listener.auth() else { bail!(not_built_in(config.listener.plugin())) };
    server::load_auth(settings, path, allow_insecure)?;
    let fingerprint =
        if settings.key_required() { Some(CheckReport::for_file(&settings.key_file)?.0.fingerprint()) } else { None };
    let mut out = String::new();
    for w in &warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out.push_str(&report(&config, fingerprint.as_deref()));
    Ok(out)
}

/// What `config` makes the daemon use; `fingerprint` is the key's (`None`:
/// no key needed).
pub fn report(config: &DaemonConfig, fingerprint: Option<&str>) -> String {
    let mut out = format!("configuration: {} is valid\n", config.path.display());
    let _ = writeln!(out, "listener: {}", listener_line(&config.listener));
    if let Some(auth) = config.listener.auth() {
        let _ = match fingerprint {
            Some(fp) => writeln!(out, "key: {} {fp} (hash {}, auth {})", auth.key_file.display(), auth.hash, auth.auth),
            None => writeln!(out, "key: none (hash and auth are \"none\": requests are NOT authenticated)"),
        };
    }
    let _ = writeln!(out, "backend: {}", backend_line(&config.backend));
    if config.groups.is_empty() {
        out.push_str("groups: none (every requester may fence every domain)\n");
    }
    for group in &config.groups {
        let name = group.name.as_deref().unwrap_or("(unnamed)");
        let at = group.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "group {name}{at}: requesters [{}], domains [{}]",
            group.ips.join(", "),
            group.uuids.join(", ")
        );
    }
    out
}

fn listener_line(listener: &ListenerConfig) -> String {
    match listener {
        ListenerConfig::Multicast(m) => format!(
            "multicast {} port {} on {}{}",
            m.address,
            m.port,
            m.interface.as_deref().unwrap_or("every interface"),
            if m.require_source_match { "" } else { ", callback address not checked against the sender" }
        ),
        ListenerConfig::Tcp(t) => format!("tcp {} port {}", t.address, t.port),
        other => other.plugin().name().to_string(),
    }
}

fn backend_line(backend: &BackendConfig) -> String {
    match backend {
        BackendConfig::Libvirt(l) => format!(
            "libvirt {} (reboot_method {}, timeout {} s)",
            l.uris.join(", "),
            match l.reboot_method {
                plugins::backend::RebootMethod::Cycle => "cycle",
                plugins::backend::RebootMethod::Reset => "reset",
            },
            l.call_timeout.as_secs()
        ),
        other => other.plugin().name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_valid_configuration_reports_listener_key_fingerprint_backend_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let key = write(dir.path(), "fence_xvm.key", "0123456789abcdef0123456789abcdef", 0o600);
        let conf = write(
            dir.path(),
            "fence_virt.conf",
            &format!(
                "fence_virtd {{ listener = \"tcp\"; backend = \"libvirt\"; }}\n\
                 listeners {{ tcp {{ key_file = \"{}\"; address = \"127.0.0.1\"; port = \"1230\"; }} }}\n\
                 backends {{ libvirt {{ uri = \"test:///default\"; }} }}\n\
                 groups {{ group {{ name = \"web\"; ip = \"198.18.0.5\"; uuid = \"test\"; }} }}\n",
                key.display()
            ),
            0o600,
        );
        let text = check(&conf, false).unwrap();
        let fingerprint = keys::Key::from_bytes(b"0123456789abcdef0123456789abcdef").fingerprint();
        assert_eq!(
            text,
            format!(
                "configuration: {} is valid\nlistener: tcp 127.0.0.1 port 1230\n\
                 key: {} {fingerprint} (hash sha256, auth sha256)\n\
                 backend: libvirt test:///default (reboot_method cycle, timeout 30 s)\n\
                 group web (line 4): requesters [198.18.0.5], domains [test]\n",
                conf.display(),
                key.display()
            )
        );
    }

    #[test]
    fn a_missing_key_or_an_unbuilt_plugin_fails_as_a_start_would() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.key");
        let conf = write(
            dir.path(),
            "fence_virt.conf",
            &format!(
                "fence_virtd {{ listener = \"tcp\"; backend = \"libvirt\"; }}\n\
                 listeners {{ tcp {{ key_file = \"{}\"; }} }}\n\
                 backends {{ libvirt {{ uri = \"test:///default\"; }} }}\n",
                missing.display()
            ),
            0o600,
        );
        let err = format!("{:#}", check(&conf, false).unwrap_err());
        assert!(err.contains(&missing.display().to_string()), "{err}");
        let conf = write(
            dir.path(),
            "vsock.conf",
            "fence_virtd { listener = \"vsock\"; backend = \"libvirt\"; }\nbackends { libvirt { uri = \"test:///default\"; } }\n",
            0o600,
        );
        let err = check(&conf, false).unwrap_err().to_string();
        assert!(err.starts_with("the vsock listener is not built in"), "{err}");
    }
}
