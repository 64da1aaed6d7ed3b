//! Starting a node: reading and checking the configuration ([`load`]),
//! then [`run`]: the run directory and pid file, this run's generation,
//! leftover groups stopped, media, ping, control socket, signal and
//! watchdog set up, and the event loop ([`super::event_loop`]) started;
//! cleaning up after it ends.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use tracing::{error, info, warn};

use crate::config::authkeys::{check_permissions, AuthKeys};
use crate::config::hacf::HaConfig;
use crate::config::haresources::{HaResources, ResourceGroup};
use crate::config::{ConfigError, Warning};
use crate::membership::intake::{unix_time, DropCounters, Intake, Warnings};
use crate::membership::liveness::Liveness;
use crate::membership::replay::{bump_generation, PeerGenerations, ReplayGuard, PEER_GENERATIONS_FILE};
use crate::resources::{GroupStatus, HaPaths, ResourceRunner};
use stonith::Fencer;

use super::cluster::{Cluster, Fencing, GroupInfo, GroupKey};
use super::control::{self, ControlCommand};
use super::event_loop::{Event, Feeding, Node};
use super::fence_speed::FenceSpeed;
use super::media::{Datagram, Media};
use super::watchdog_link::WatchdogLink;
use super::{ping, rundir, signals};

/// Where a node finds its files.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory of ha.cf, authkeys, haresources and resource.d (`/etc/ha.d`).
    pub config_dir: PathBuf,
    /// This node's name (`uname -n` unless given).
    pub node: String,
    /// Per-node directory of the control socket, pid file and generation.
    pub run_dir: PathBuf,
}

/// The three configuration files, checked.
#[derive(Debug)]
pub struct Loaded {
    /// ha.cf.
    pub ha: HaConfig,
    /// authkeys.
    pub keys: AuthKeys,
    /// haresources (empty when the file does not exist).
    pub resources: HaResources,
    /// Everything worth a warning.
    pub warnings: Vec<Warning>,
}

/// Reads and checks ha.cf, authkeys (mode 600) and haresources.
pub fn load(options: &Options) -> Result<Loaded, ConfigError> {
    let dir = &options.config_dir;
    let (ha, mut warnings) = HaConfig::load(&dir.join("ha.cf"), &options.node)?;
    let keys_path = dir.join("authkeys");
    check_permissions(&keys_path)?;
    let (keys, w) = AuthKeys::load(&keys_path)?;
    warnings.extend(w);
    let (resources, w) = HaResources::load(&dir.join("haresources"), &ha.nodes)?;
    warnings.extend(w);
    if !ha.respawn.is_empty() {
        warnings.push(Warning::file(
            &ha.path,
            "respawn is not implemented: ipfail's job (ping node arbitration) is built into the core",
        ));
    }
    if !ha.apiauth.is_empty() {
        warnings.push(Warning::file(&ha.path, "apiauth has no effect: the core has no client API"));
    }
    Ok(Loaded { ha, keys, resources, warnings })
}

/// Capacity of the main loop's event queue. Datagrams are judged on the
/// receive threads and only authentic, fresh messages are queued — when
/// the queue is full they are dropped and counted, never waited for; the
/// other events (few, and not driven by the network) wait for room.
const EVENT_QUEUE: usize = 1024;

/// Why `run` ended without a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A configuration file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else that prevents starting.
    #[error("{0}")]
    Start(String),
}

/// Runs the node until a graceful stop completes.
pub fn run(options: &Options, loaded: Loaded) -> Result<(), RunError> {
    let Loaded { ha, keys, resources, warnings } = loaded;
    for w in &warnings {
        warn!("{w}");
    }
    rundir::prepare(&options.run_dir).map_err(|e| RunError::Start(e.to_string()))?;
    if let Ok(Some(answer)) = control::send(&options.run_dir, ControlCommand::Pid) {
        return Err(RunError::Start(format!("heartbeat: already running [pid {}].", answer.to_string().trim())));
    }
    let pid_file = rundir::write_pid_file(&options.run_dir).map_err(|e| start_error("pid file", e))?;
    let started = start_node(options, ha, keys, resources, &pid_file);
    if started.is_err() {
        let _ = std::fs::remove_file(&pid_file);
    }
    started
}

/// [`run`] once the run directory and pid file are in place.
fn start_node(
    options: &Options,
    ha: HaConfig,
    keys: AuthKeys,
    resources: HaResources,
    pid_file: &Path,
) -> Result<(), RunError> {
    signals::block_termination();
    if ha.realtime {
        crate::realtime::enter(ha.rtprio);
    }
    let history = History::load(&options.run_dir)?;
    info!("Configuration validated. Starting heartbeat 3.0.6 (compatible core)");
    info!("Heartbeat generation: {}", history.generation);
    let runner = resource_runner(&ha, options);
    release_leftovers(&runner, &resources.groups);

    let mut media = Media::open(&ha.media).map_err(|e| RunError::Start(e.to_string()))?;
    let (tx, rx) = mpsc::sync_channel::<Event>(EVENT_QUEUE);
    let dropped = Arc::new(DropCounters::default());
    spawn_receivers(&mut media, options, &ha, &keys, &history.seeds, &dropped, &tx)?;
    let mut pinger = start_pinger(&ha, &tx)?;
    serve_control_and_signals(options, &tx)?;
    let mut watchdog =
        ha.watchdog.as_ref().and_then(|dev| WatchdogLink::open(dev, &ha.watchdog_socket, ha.timing.deadtime));
    // Announced to the peers, which wait this long (+ 1 s) before taking over from a silent node. A node that
    // stops feeding when it declares its peer dead does so up to one keepalive later than the peer declares it
    // dead (spec §6 and `cluster`), so that keepalive is part of the figure.
    let watchdog_timeout =
        watchdog.as_ref().map_or(Duration::ZERO, |(_, t)| if t.is_zero() { *t } else { *t + ha.timing.keepalive });
    let fencer = ha.fencer_for(&options.node);
    let cluster = new_cluster(options, &ha, &resources, fencer.is_some(), watchdog_timeout);

    let parts = Parts { history, runner, fencer, cluster, dropped, tx };
    let mut node = assemble(options, ha, keys, &resources, parts);
    node.main_loop(rx, &mut media, pinger.as_mut(), watchdog.as_mut().map(|(w, _)| w));
    if let Some((w, _)) = watchdog {
        w.close();
    }
    let _ = std::fs::remove_file(control::socket_path(&options.run_dir));
    let _ = std::fs::remove_file(pid_file);
    info!("{} Heartbeat shutdown complete.", options.node);
    Ok(())
}

/// A start-up step's I/O error, named.
fn start_error(what: &str, e: std::io::Error) -> RunError {
    RunError::Start(format!("{what}: {e}"))
}

/// This run's generation (bumped at every start) and the peers' last ones.
struct History {
    generation: u64,
    peers: PeerGenerations,
    /// The peers' generations as (node, generation) pairs.
    seeds: Vec<(String, u64)>,
}

impl History {
    /// Bumps this node's generation and reads the peers' in `run_dir`.
    fn load(run_dir: &Path) -> Result<History, RunError> {
        let unix_now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let generation =
            bump_generation(&run_dir.join("hb_generation"), unix_now).map_err(|e| start_error("generation file", e))?;
        let peers = PeerGenerations::load(&run_dir.join(PEER_GENERATIONS_FILE))
            .map_err(|e| start_error("peer generations", e))?;
        let seeds = peers.iter().map(|(n, g)| (n.to_string(), g)).collect();
        Ok(History { generation, peers, seeds })
    }
}

/// The resource script runner, with the `HA_*` environment.
fn resource_runner(ha: &HaConfig, options: &Options) -> ResourceRunner {
    let paths = HaPaths { ha_dir: options.config_dir.clone(), ..HaPaths::default() };
    let mut runner = ResourceRunner::new(paths);
    runner.env = script_environment(ha, options);
    runner
}

/// Starts a receive thread per medium: each datagram is judged there and
/// only authentic, fresh messages are queued (when the queue is full they
/// are dropped and counted).
fn spawn_receivers(
    media: &mut Media,
    options: &Options,
    ha: &HaConfig,
    keys: &AuthKeys,
    seeds: &[(String, u64)],
    dropped: &Arc<DropCounters>,
    tx: &mpsc::SyncSender<Event>,
) -> Result<(), RunError> {
    let warnings = Warnings::default();
    media
        .spawn_receivers(|| {
            let mut intake =
                Intake::new(keys.clone(), &options.node, &ha.nodes, seeds, dropped.clone(), warnings.clone());
            let tx = tx.clone();
            move |d: Datagram<'_>| {
                let Some(msg) = intake.admit(d.bytes, d.from, d.iface, Instant::now(), unix_time()) else { return };
                if let Err(mpsc::TrySendError::Full(_)) = tx.try_send(Event::Heard { msg, iface: d.iface.to_string() })
                {
                    DropCounters::bump(&intake.counters().queue_full);
                }
            }
        })
        .map_err(|e| start_error("media", e))
}

/// The pinger of the ping nodes and groups, its replies queued (`None`: none configured).
fn start_pinger(ha: &HaConfig, tx: &mpsc::SyncSender<Event>) -> Result<Option<ping::Pinger>, RunError> {
    let ping_targets: Vec<Ipv4Addr> =
        ha.ping_nodes.iter().chain(ha.ping_groups.iter().flat_map(|g| &g.members)).copied().collect();
    if ping_targets.is_empty() {
        return Ok(None);
    }
    let p = ping::Pinger::new(&ping_targets).map_err(|e| RunError::Start(e.to_string()))?;
    let tx = tx.clone();
    p.spawn_receiver(move |ip| drop(tx.try_send(Event::PingReply(ip)))).map_err(|e| start_error("ping", e))?;
    Ok(Some(p))
}

/// Queues control commands and the termination signals.
fn serve_control_and_signals(options: &Options, tx: &mpsc::SyncSender<Event>) -> Result<(), RunError> {
    {
        let tx = tx.clone();
        control::serve(&options.run_dir, move |r| drop(tx.send(Event::Control(r))))
            .map_err(|e| RunError::Start(e.to_string()))?;
    }
    let tx = tx.clone();
    signals::spawn_waiter(move || drop(tx.send(Event::Shutdown)));
    Ok(())
}

/// The decision core for this node (warns when there is no fence agent).
fn new_cluster(
    options: &Options,
    ha: &HaConfig,
    resources: &HaResources,
    has_fencer: bool,
    watchdog_timeout: Duration,
) -> Cluster {
    let fencing = if has_fencer {
        Fencing::Agent { delay: ha.stonith.delay, keepalive: ha.timing.keepalive, power_on: ha.stonith.power_on }
    } else {
        Fencing::None { unfenced_takeover: ha.unfenced_takeover }
    };
    if !has_fencer {
        warn!("No STONITH device configured.");
    }
    let group_info =
        resources.groups.iter().map(|g| GroupInfo { key: GroupKey::from(&g.key), home: g.home.clone() }).collect();
    Cluster::new(&options.node, &ha.nodes, group_info, ha.auto_failback, fencing, watchdog_timeout)
}

/// What [`assemble`] builds the node from, besides the configuration.
struct Parts {
    history: History,
    runner: ResourceRunner,
    fencer: Option<Fencer>,
    cluster: Cluster,
    dropped: Arc<DropCounters>,
    tx: mpsc::SyncSender<Event>,
}

/// The node as the event loop starts it.
fn assemble(options: &Options, ha: HaConfig, keys: AuthKeys, resources: &HaResources, parts: Parts) -> Node {
    let Parts { history, runner, fencer, cluster, dropped, tx } = parts;
    let groups: BTreeMap<GroupKey, ResourceGroup> =
        resources.groups.iter().map(|g| (GroupKey::from(&g.key), g.clone())).collect();
    Node {
        keepalive: ha.timing.keepalive,
        liveness: Liveness::new(ha.timing.deadtime, ha.timing.warntime),
        ping_liveness: Liveness::new(ha.timing.deadping, ha.timing.deadping),
        ping_names: ping_names(&ha),
        cluster,
        ha,
        keys,
        options: options.clone(),
        generation: history.generation,
        seq: 0,
        node_guard: seeded_guard(&history.seeds),
        peer_generations: history.peers,
        seen_alive: HashMap::new(),
        dropped,
        tx,
        runner,
        groups,
        fencer,
        fencing_now: BTreeMap::new(),
        fence_speed: FenceSpeed::default(),
        next_device_check: None,
        monitoring: Default::default(),
        next_monitor: Instant::now(),
        timers: Vec::new(),
        started: Instant::now(),
        shutting_down: false,
        feeding: Feeding::On,
    }
}

/// `HA_*` variables for resource scripts (spec §1.9).
fn script_environment(ha: &HaConfig, options: &Options) -> Vec<(String, String)> {
    let dir = options.config_dir.display().to_string();
    let mut env = vec![
        ("HA_CURHOST".to_string(), options.node.clone()),
        ("HA_DIR".to_string(), dir.clone()),
        ("HA_RCDIR".to_string(), format!("{dir}/rc.d")),
        ("HA_RESOURCEDIR".to_string(), format!("{dir}/resource.d")),
        ("HA_keepalive".to_string(), format!("{}ms", ha.timing.keepalive.as_millis())),
        ("HA_deadtime".to_string(), format!("{}ms", ha.timing.deadtime.as_millis())),
        ("HA_udpport".to_string(), ha.udp_port.to_string()),
    ];
    if let Some(logfile) = &ha.logging.logfile {
        env.push(("HA_LOGFILE".to_string(), logfile.display().to_string()));
    }
    env.extend(ha.env.iter().cloned());
    env
}

/// Stops every group found (partly) running before this node joins: a
/// starting node owns nothing until the cluster decides.
fn release_leftovers(runner: &ResourceRunner, groups: &[ResourceGroup]) {
    for group in groups {
        match runner.group_status(group) {
            Ok(GroupStatus::None) => {}
            Ok(_) => {
                error!(crit = true, "Resource {} is active, and should not be! Stopping it before joining.", group.key);
                let _ = runner.stop_group(group);
            }
            Err(e) => warn!("status of {} at start-up: {e}", group.key),
        }
    }
}

/// Ping pseudo-node name of each address: the address, or its ping_group.
fn ping_names(ha: &HaConfig) -> HashMap<Ipv4Addr, String> {
    let mut names = HashMap::new();
    for a in &ha.ping_nodes {
        names.insert(*a, a.to_string());
    }
    for group in &ha.ping_groups {
        for a in &group.members {
            names.insert(*a, group.name.clone());
        }
    }
    names
}

/// A replay guard that treats generations older than the persisted ones as replays.
fn seeded_guard(seeds: &[(String, u64)]) -> ReplayGuard<String> {
    let mut guard = ReplayGuard::default();
    for (node, generation) in seeds {
        guard.seed(node.clone(), *generation);
    }
    guard
}
