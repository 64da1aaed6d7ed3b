//! A running cluster node: `heartbeat run`.
//!
//! One thread owns all state ([`cluster::Cluster`], liveness, the per-node
//! replay guard) and reacts to events from helper threads: messages from
//! the media (judged on their receive threads, see
//! [`crate::membership::intake`]), ping replies, control commands, finished resource operations and
//! fence calls, and signals. Resource operations and fencing run on their
//! own threads, so heartbeats keep flowing while a script runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, error, info, warn};

use crate::config::authkeys::{check_permissions, AuthKeys};
use crate::config::hacf::HaConfig;
use crate::config::haresources::{HaResources, ResourceGroup};
use crate::config::{ConfigError, Warning};
use crate::membership::cluster_message::{ClusterMessage, DecodeError};
use crate::membership::intake::{unix_time, DropCounters, Intake, Warnings};
use crate::membership::liveness::{Event as LiveEvent, Liveness};
use crate::membership::message::Message;
use crate::membership::replay::{bump_generation, Freshness, PeerGenerations, ReplayGuard, PEER_GENERATIONS_FILE};
use crate::process::{Cancel, RunError as AgentRunError};
use crate::resources::{GroupStatus, HaPaths, ResourceRunner};
use crate::stonith::{FenceError, Fencer, Power};

pub mod cluster;
pub mod control;
mod fence_speed;
pub mod log;
pub mod media;
pub mod ping;
mod report;
pub mod rundir;
mod signals;
pub mod watchdog_link;

use cluster::{Action, CleanReason, Cluster, Fencing, GroupInfo, GroupResult, NodeStatus};
use control::{ControlCommand, ControlReply};
use fence_speed::FenceSpeed;
use media::{Datagram, Media};
use watchdog_link::WatchdogLink;

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

/// Events for the main loop.
enum Event {
    /// An authenticated message, fresh on the link it arrived on.
    Heard {
        msg: Message,
        iface: String,
    },
    PingReply(Ipv4Addr),
    Control(control::Request),
    GroupDone(String, GroupResult),
    /// A running group's status check finished.
    Monitored {
        group: String,
        health: GroupHealth,
    },
    Agent(AgentReport),
    Shutdown,
}

/// A finished fence-agent call.
enum AgentReport {
    /// A fence of `node`.
    Fence { node: String, outcome: FenceOutcome },
    /// A power-state query of `node` (`None`: the agent could not tell).
    Power { node: String, power: Option<Power>, took: Duration },
    /// A check of the fence device (`None`: it did not answer).
    DeviceCheck { answered_in: Option<Duration> },
}

/// How a fence call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FenceOutcome {
    Done,
    Failed,
    /// Killed because its reason was gone.
    Cancelled,
}

/// What the status check of a running group found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupHealth {
    /// Every resource runs.
    Running,
    /// Some resource stopped (or the check failed): the group died here.
    Died,
}

/// A resource group operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupOp {
    Start,
    Stop,
}

/// Which check of the fence device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceCheck {
    /// The first, when the node becomes active (`monitor`: logs that it runs).
    First,
    /// The periodic re-check (`probe`: logs only a failure).
    Again,
}

/// Deferred work.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Timer {
    Fence(String),
    WatchdogExpiry(String),
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
    let start = |what: &str, e: std::io::Error| RunError::Start(format!("{what}: {e}"));
    rundir::prepare(&options.run_dir).map_err(|e| RunError::Start(e.to_string()))?;
    if let Ok(Some(answer)) = control::send(&options.run_dir, ControlCommand::Pid) {
        return Err(RunError::Start(format!("heartbeat: already running [pid {}].", answer.to_string().trim())));
    }
    let pid_file = rundir::write_pid_file(&options.run_dir).map_err(|e| start("pid file", e))?;
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
    pid_file: &std::path::Path,
) -> Result<(), RunError> {
    let start = |what: &str, e: std::io::Error| RunError::Start(format!("{what}: {e}"));
    signals::block_termination();
    if ha.realtime {
        crate::realtime::enter(ha.rtprio);
    }
    let unix_now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let generation =
        bump_generation(&options.run_dir.join("hb_generation"), unix_now).map_err(|e| start("generation file", e))?;
    let peer_generations = PeerGenerations::load(&options.run_dir.join(PEER_GENERATIONS_FILE))
        .map_err(|e| start("peer generations", e))?;
    let seeds: Vec<(String, u64)> = peer_generations.iter().map(|(n, g)| (n.to_string(), g)).collect();
    info!("Configuration validated. Starting heartbeat 3.0.6 (compatible core)");
    info!("Heartbeat generation: {generation}");

    let paths = HaPaths { ha_dir: options.config_dir.clone(), ..HaPaths::default() };
    let mut runner = ResourceRunner::new(paths);
    runner.env = script_environment(&ha, options);
    let groups: BTreeMap<String, ResourceGroup> = resources.groups.iter().map(|g| (g.key.clone(), g.clone())).collect();
    release_leftovers(&runner, &resources.groups);

    let mut media = Media::open(&ha.media).map_err(|e| RunError::Start(e.to_string()))?;
    let (tx, rx) = mpsc::sync_channel::<Event>(EVENT_QUEUE);
    let dropped = Arc::new(DropCounters::default());
    let warnings = Warnings::default();
    media
        .spawn_receivers(|| {
            let mut intake =
                Intake::new(keys.clone(), &options.node, &ha.nodes, &seeds, dropped.clone(), warnings.clone());
            let tx = tx.clone();
            move |d: Datagram<'_>| {
                let Some(msg) = intake.admit(d.bytes, d.from, d.iface, Instant::now(), unix_time()) else { return };
                if let Err(mpsc::TrySendError::Full(_)) = tx.try_send(Event::Heard { msg, iface: d.iface.to_string() })
                {
                    DropCounters::bump(&intake.counters().queue_full);
                }
            }
        })
        .map_err(|e| start("media", e))?;
    let ping_targets: Vec<_> =
        ha.ping_nodes.iter().copied().chain(ha.ping_groups.iter().flat_map(|g| g.members.iter().copied())).collect();
    let mut pinger = if ping_targets.is_empty() {
        None
    } else {
        let p = ping::Pinger::new(&ping_targets).map_err(|e| RunError::Start(e.to_string()))?;
        let tx = tx.clone();
        p.spawn_receiver(move |ip| drop(tx.try_send(Event::PingReply(ip)))).map_err(|e| start("ping", e))?;
        Some(p)
    };
    {
        let tx = tx.clone();
        control::serve(&options.run_dir, move |r| drop(tx.send(Event::Control(r))))
            .map_err(|e| RunError::Start(e.to_string()))?;
    }
    {
        let tx = tx.clone();
        signals::spawn_waiter(move || drop(tx.send(Event::Shutdown)));
    }
    let mut watchdog =
        ha.watchdog.as_ref().and_then(|dev| WatchdogLink::open(dev, &ha.watchdog_socket, ha.timing.deadtime));
    // Announced to the peers, which wait this long (+ 1 s) before taking over from a silent node. A node that
    // stops feeding when it declares its peer dead does so up to one keepalive later than the peer declares it
    // dead (spec §6 and `cluster`), so that keepalive is part of the figure.
    let watchdog_timeout =
        watchdog.as_ref().map_or(Duration::ZERO, |(_, t)| if t.is_zero() { *t } else { *t + ha.timing.keepalive });

    let fencer = Fencer::for_node(&ha, &options.node);
    let fencing = match &fencer {
        Some(_) => {
            Fencing::Agent { delay: ha.stonith.delay, keepalive: ha.timing.keepalive, power_on: ha.stonith.power_on }
        }
        None => Fencing::None { unfenced_takeover: ha.unfenced_takeover },
    };
    if fencer.is_none() {
        warn!("No STONITH device configured.");
    }
    let group_info = resources.groups.iter().map(|g| GroupInfo { key: g.key.clone(), home: g.home.clone() }).collect();
    let cluster = Cluster::new(&options.node, &ha.nodes, group_info, ha.auto_failback, fencing, watchdog_timeout);

    let mut node = Node {
        keepalive: ha.timing.keepalive,
        liveness: Liveness::new(ha.timing.deadtime, ha.timing.warntime),
        ping_liveness: Liveness::new(ha.timing.deadping, ha.timing.deadping),
        ping_names: ping_names(&ha),
        cluster,
        ha,
        keys,
        options: options.clone(),
        generation,
        seq: 0,
        node_guard: seeded_guard(&seeds),
        peer_generations,
        seen_alive: HashMap::new(),
        dropped,
        tx,
        runner,
        groups,
        fencer,
        fencing_now: BTreeMap::new(),
        fence_speed: FenceSpeed::default(),
        next_device_check: None,
        monitoring: BTreeSet::new(),
        next_monitor: Instant::now(),
        timers: Vec::new(),
        started: Instant::now(),
        shutting_down: false,
        feeding: true,
    };
    node.main_loop(rx, &mut media, pinger.as_mut(), watchdog.as_mut().map(|(w, _)| w));
    if let Some((w, _)) = watchdog {
        w.close();
    }
    let _ = std::fs::remove_file(control::socket_path(&options.run_dir));
    let _ = std::fs::remove_file(pid_file);
    info!("{} Heartbeat shutdown complete.", options.node);
    Ok(())
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
    for ip in &ha.ping_nodes {
        if let std::net::IpAddr::V4(a) = ip {
            names.insert(*a, a.to_string());
        }
    }
    for group in &ha.ping_groups {
        for ip in &group.members {
            if let std::net::IpAddr::V4(a) = ip {
                names.insert(*a, group.name.clone());
            }
        }
    }
    names
}

struct Node {
    keepalive: Duration,
    liveness: Liveness,
    ping_liveness: Liveness,
    ping_names: HashMap<Ipv4Addr, String>,
    cluster: Cluster,
    ha: HaConfig,
    keys: AuthKeys,
    options: Options,
    generation: u64,
    seq: u64,
    node_guard: ReplayGuard<String>,
    /// Each peer's last generation, persisted across restarts.
    peer_generations: PeerGenerations,
    /// The generation each peer was heard heartbeating with in this run:
    /// only that generation's `shutdown` is believed.
    seen_alive: HashMap<String, u64>,
    dropped: Arc<DropCounters>,
    tx: mpsc::SyncSender<Event>,
    runner: ResourceRunner,
    groups: BTreeMap<String, ResourceGroup>,
    fencer: Option<Fencer>,
    /// Fence agents running, by victim: cancelled when the reason is gone.
    fencing_now: BTreeMap<String, Cancel>,
    /// Durations of this node's agent queries (its announced fence time).
    fence_speed: FenceSpeed,
    /// When the fence device is checked again (`None`: not yet active, or
    /// a check is running).
    next_device_check: Option<Instant>,
    monitoring: BTreeSet<String>,
    next_monitor: Instant,
    timers: Vec<(Instant, Timer)>,
    started: Instant,
    shutting_down: bool,
    /// Whether the watchdog is fed (false while this node gives up its
    /// groups to a peer it cannot fence: see [`cluster`]).
    feeding: bool,
}

/// How often groups that failed here are retried when nobody runs them.
const FAILED_RETRY: Duration = Duration::from_secs(30);
/// Pause between fencing attempts (Heartbeat's).
const FENCE_RETRY: Duration = Duration::from_secs(5);

impl Node {
    fn main_loop(
        &mut self,
        rx: mpsc::Receiver<Event>,
        media: &mut Media,
        mut pinger: Option<&mut ping::Pinger>,
        mut watchdog: Option<&mut WatchdogLink>,
    ) {
        let mut next_tick = Instant::now();
        let mut next_retry = Instant::now() + FAILED_RETRY;
        loop {
            let now = Instant::now();
            let mut deadline = next_tick;
            if let Some((t, _)) = self.timers.iter().min_by_key(|(t, _)| *t) {
                deadline = deadline.min(*t);
            }
            // Wake when a link's deadtime runs out, not at the next tick.
            let expiry = self.liveness.next_expiry().map(|t| t + Duration::from_millis(1));
            if let Some(t) = expiry {
                deadline = deadline.min(t);
            }
            let mut actions = Vec::new();
            match rx.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(event) => actions.extend(self.handle(event, media)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            if expiry.is_some_and(|t| now >= t) && now < next_tick {
                for event in self.liveness.expire(now) {
                    actions.extend(self.on_live_event(event));
                }
            }
            if now >= next_tick {
                next_tick = (next_tick + self.keepalive).max(now);
                if let Some(p) = pinger.as_deref_mut() {
                    p.send_round();
                }
                if let Some(w) = watchdog.as_deref_mut().filter(|_| self.feeding) {
                    if !w.feed() {
                        watchdog = None;
                    }
                }
                actions.extend(self.tick(now));
                if now >= next_retry {
                    next_retry = now + FAILED_RETRY;
                    actions.extend(self.cluster.retry_failed());
                }
                self.send_status(media);
            }
            let due: Vec<Timer> = self.take_due_timers(now);
            for timer in due {
                actions.extend(self.fire(timer));
            }
            self.apply(actions, media);
            if let Some(reason) = self.cluster.take_initial_completion() {
                info!("Initial resource acquisition complete ({reason})");
            }
            if self.shutting_down && self.cluster.shutdown_complete() {
                info!("All HA resources relinquished.");
                self.send_status(media);
                for _ in 0..3 {
                    self.send(&ClusterMessage::Shutdown, media);
                }
                return;
            }
        }
    }

    fn take_due_timers(&mut self, now: Instant) -> Vec<Timer> {
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(t, _)| *t <= now);
        self.timers = later;
        due.into_iter().map(|(_, t)| t).collect()
    }

    /// Signs and sends `content` as this node's next message.
    fn send(&mut self, content: &ClusterMessage, media: &mut Media) {
        self.seq += 1;
        let msg = content.to_message(&self.options.node, self.generation, self.seq);
        media.send(&msg.encode(&self.keys));
    }

    fn send_status(&mut self, media: &mut Media) {
        self.send(&ClusterMessage::Status(self.cluster.announcement()), media);
    }

    fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in self.liveness.expire(now) {
            actions.extend(self.on_live_event(event));
        }
        for event in self.ping_liveness.expire(now) {
            log_ping_event(&event);
        }
        actions.extend(self.cluster.set_ping_count(self.ping_count()));
        if self.cluster.status() == NodeStatus::Up && !self.shutting_down {
            let waited = now.duration_since(self.started);
            let settled = waited >= self.keepalive * 2;
            if settled && (self.cluster.all_peers_heard() || waited >= self.ha.timing.initdead) {
                actions.extend(self.cluster.become_active());
                self.check_fence_device(DeviceCheck::First);
            }
        }
        if self.next_device_check.is_some_and(|t| now >= t) && !self.shutting_down {
            self.check_fence_device(DeviceCheck::Again);
        }
        if !self.ha.monitor_interval.is_zero() && now >= self.next_monitor {
            self.next_monitor = now + self.ha.monitor_interval;
            self.start_monitors();
        }
        actions
    }

    fn ping_count(&self) -> usize {
        let names: BTreeSet<&String> = self.ping_names.values().collect();
        names.into_iter().filter(|n| self.ping_liveness.is_alive(n)).count()
    }

    /// Checks the fence device (`monitor`) on its own thread; the answer's
    /// duration feeds the announced fence time.
    fn check_fence_device(&mut self, check: DeviceCheck) {
        self.next_device_check = None;
        if let Some(fencer) = self.fencer.clone() {
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let answered = match check {
                    DeviceCheck::First => fencer.monitor(),
                    DeviceCheck::Again => fencer.probe(),
                };
                let answered_in = answered.ok().map(|_| started.elapsed());
                let _ = tx.send(Event::Agent(AgentReport::DeviceCheck { answered_in }));
            });
        }
    }

    /// Runs a fence of `node` on its own thread, cancellable.
    fn spawn_fence(&mut self, node: String) {
        let Some(fencer) = self.fencer.clone() else { return };
        let cancel = Cancel::new();
        self.fencing_now.insert(node.clone(), cancel.clone());
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let outcome = match fencer.fence_cancellable(&node, &cancel) {
                Ok(()) => FenceOutcome::Done,
                Err(FenceError::Run(AgentRunError::Cancelled { .. })) => FenceOutcome::Cancelled,
                Err(_) => FenceOutcome::Failed,
            };
            let _ = tx.send(Event::Agent(AgentReport::Fence { node, outcome }));
        });
    }

    /// Asks the device for `node`'s power state on its own thread.
    fn spawn_power_check(&self, node: String) {
        let Some(fencer) = self.fencer.clone() else { return };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let power = match fencer.power_status(&node) {
                Ok(power) => Some(power),
                Err(e) => {
                    warn!("Power status of {node} unknown: {e}");
                    None
                }
            };
            let _ = tx.send(Event::Agent(AgentReport::Power { node, power, took: started.elapsed() }));
        });
    }

    /// A fence agent call finished.
    fn on_agent_report(&mut self, report: AgentReport) -> Vec<Action> {
        match report {
            AgentReport::Fence { node, outcome } => {
                self.fencing_now.remove(&node);
                match outcome {
                    FenceOutcome::Done => self.cluster.on_node_safe(&node, CleanReason::Fenced),
                    FenceOutcome::Failed if self.cluster.may_fence(&node) => {
                        error!("STONITH of {node} failed.  Retrying...");
                        self.timers.push((Instant::now() + FENCE_RETRY, Timer::Fence(node)));
                        Vec::new()
                    }
                    FenceOutcome::Failed | FenceOutcome::Cancelled => Vec::new(),
                }
            }
            AgentReport::Power { node, power, took } => {
                let mut actions = Vec::new();
                if power.is_some() {
                    self.fence_speed.record_query(took);
                    actions.extend(self.cluster.set_fence_time(self.fence_speed.estimate()));
                }
                match power {
                    Some(Power::Off) => actions.extend(self.cluster.on_power_off(&node)),
                    Some(Power::On) if self.cluster.needs_fencing(&node) => {
                        info!("node {node} is powered on: fencing it after the delay")
                    }
                    _ => {}
                }
                actions
            }
            AgentReport::DeviceCheck { answered_in } => {
                self.next_device_check = Some(Instant::now() + self.fence_speed.next_check_in());
                let Some(took) = answered_in else { return Vec::new() };
                self.fence_speed.record_query(took);
                let estimate = self.fence_speed.estimate();
                if estimate == self.cluster.announcement().fence_time {
                    return Vec::new();
                }
                info!(
                    "STONITH device answered in {} ms: announcing a fence time of {} ms",
                    took.as_millis(),
                    estimate.as_millis()
                );
                self.cluster.set_fence_time(estimate)
            }
        }
    }

    fn start_monitors(&mut self) {
        for info in self.cluster.groups().to_vec() {
            if self.cluster.local_group(&info.key) != cluster::LocalGroup::Running
                || self.monitoring.contains(&info.key)
            {
                continue;
            }
            let Some(group) = self.groups.get(&info.key).cloned() else { continue };
            self.monitoring.insert(info.key.clone());
            let runner = self.runner.clone();
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let health = match runner.group_status(&group) {
                    Ok(GroupStatus::All) => GroupHealth::Running,
                    _ => GroupHealth::Died,
                };
                let _ = tx.send(Event::Monitored { group: group.key.clone(), health });
            });
        }
    }

    fn on_live_event(&mut self, event: LiveEvent) -> Vec<Action> {
        match &event {
            LiveEvent::NodeDead { node } => {
                warn!("{event}");
                self.cluster.on_node_dead(node)
            }
            LiveEvent::LateHeartbeat { beyond_deadtime: true, .. } => {
                error!(crit = true, "{event}");
                Vec::new()
            }
            LiveEvent::LateHeartbeat { .. } => {
                warn!("{event}");
                Vec::new()
            }
            LiveEvent::NodeUp { .. } => {
                debug!("{event}");
                Vec::new()
            }
            _ => {
                info!("{event}");
                Vec::new()
            }
        }
    }

    fn handle(&mut self, event: Event, media: &mut Media) -> Vec<Action> {
        match event {
            Event::Heard { msg, iface } => self.on_heard(msg, &iface),
            Event::PingReply(ip) => {
                if let Some(name) = self.ping_names.get(&ip).cloned() {
                    for e in self.ping_liveness.heard(&name, &ip.to_string(), Instant::now()) {
                        log_ping_event(&e);
                    }
                }
                let count = self.ping_count();
                self.cluster.set_ping_count(count)
            }
            Event::Control(request) => {
                let (reply, actions) = self.control(request.command, media);
                let _ = request.reply.send(reply);
                actions
            }
            Event::GroupDone(key, result) => self.cluster.on_group_done(&key, result),
            Event::Monitored { group, health } => {
                self.monitoring.remove(&group);
                match health {
                    GroupHealth::Running => Vec::new(),
                    GroupHealth::Died => self.cluster.on_group_died(&group),
                }
            }
            Event::Agent(report) => self.on_agent_report(report),
            Event::Shutdown => self.begin_shutdown(),
        }
    }

    fn begin_shutdown(&mut self) -> Vec<Action> {
        if self.shutting_down {
            return Vec::new();
        }
        self.shutting_down = true;
        info!("Heartbeat shutdown in progress. ({})", std::process::id());
        info!("Giving up all HA resources.");
        self.cluster.begin_shutdown()
    }

    /// An authenticated message, fresh on link `iface` (the receive
    /// thread checked that): liveness, then content once per node.
    fn on_heard(&mut self, msg: Message, iface: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in self.liveness.heard(&msg.src, iface, Instant::now()) {
            actions.extend(self.on_live_event(event));
        }
        let previous_generation = self.node_guard.generation(&msg.src);
        if self.node_guard.check(&msg.src, msg.generation, msg.seq) != Freshness::Fresh {
            return actions;
        }
        if previous_generation != Some(msg.generation) {
            if let Err(e) = self.peer_generations.record(&msg.src, msg.generation) {
                warn!("cannot persist the generation of {}: {e}", msg.src);
            }
        }
        if previous_generation.is_some_and(|g| g < msg.generation) {
            actions.extend(self.cluster.on_restart(&msg.src));
        }
        actions.extend(self.on_message(&msg));
        actions
    }

    fn on_message(&mut self, msg: &Message) -> Vec<Action> {
        match ClusterMessage::decode(msg) {
            Ok(ClusterMessage::Status(a)) => {
                self.seen_alive.insert(msg.src.clone(), msg.generation);
                self.cluster.on_announcement(&msg.src, a)
            }
            Ok(ClusterMessage::Shutdown) if self.seen_alive.get(&msg.src) == Some(&msg.generation) => {
                self.cluster.on_shutdown_notice(&msg.src)
            }
            Ok(ClusterMessage::Shutdown) => {
                DropCounters::bump(&self.dropped.replayed);
                warn!(
                    "Ignoring shutdown notice from {} (generation {}): that generation was not heard alive in this run",
                    msg.src, msg.generation
                );
                Vec::new()
            }
            Ok(ClusterMessage::Takeover(set)) if !self.shutting_down => {
                info!("{} asks to take over [{set}]", msg.src);
                self.cluster.go_standby(set.mirrored())
            }
            Ok(ClusterMessage::Takeover(_)) | Err(DecodeError::BadTakeover) => Vec::new(),
            Err(DecodeError::BadStatus) => {
                DropCounters::bump(&self.dropped.malformed);
                Vec::new()
            }
            Err(DecodeError::UnknownKind(other)) => {
                debug!("message type [{other}] from {} ignored", msg.src);
                Vec::new()
            }
        }
    }

    fn fire(&mut self, timer: Timer) -> Vec<Action> {
        match timer {
            Timer::Fence(node) => {
                if self.cluster.may_fence(&node) && !self.fencing_now.contains_key(&node) {
                    self.spawn_fence(node);
                }
                Vec::new()
            }
            Timer::WatchdogExpiry(node) => self.cluster.on_node_safe(&node, CleanReason::WatchdogExpired),
        }
    }

    fn apply(&mut self, mut actions: Vec<Action>, media: &mut Media) {
        let mut announce = false;
        // A fence whose reason is gone stops before anything else moves.
        actions.sort_by_key(|a| !matches!(a, Action::CancelFence(_)));
        for action in actions {
            match action {
                Action::Start(key) | Action::Stop(key) if !self.groups.contains_key(&key) => {
                    error!("no group {key} in haresources");
                }
                Action::Start(key) => self.spawn_group_op(key, GroupOp::Start),
                Action::Stop(key) => self.spawn_group_op(key, GroupOp::Stop),
                Action::Fence { node, after } => self.timers.push((Instant::now() + after, Timer::Fence(node))),
                Action::CancelFence(node) => {
                    self.timers.retain(|(_, t)| *t != Timer::Fence(node.clone()));
                    if let Some(cancel) = self.fencing_now.get(&node) {
                        cancel.cancel();
                    }
                }
                Action::CheckPower(node) => self.spawn_power_check(node),
                Action::PowerOn(node) => {
                    if let Some(fencer) = self.fencer.clone() {
                        std::thread::spawn(move || drop(fencer.power_on(&node)));
                    }
                }
                Action::AwaitWatchdog { node, after } => {
                    self.timers.push((Instant::now() + after, Timer::WatchdogExpiry(node)))
                }
                Action::Announce => announce = true,
                Action::StopFeeding => self.feeding = false,
                Action::ResumeFeeding => self.feeding = true,
            }
        }
        if announce {
            self.send_status(media);
        }
    }

    /// Starts or stops group `key` on its own thread.
    fn spawn_group_op(&self, key: String, op: GroupOp) {
        let group = self.groups[&key].clone();
        let runner = self.runner.clone();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let result = match op {
                GroupOp::Start => match runner.start_group(&group) {
                    Ok(()) => GroupResult::Started,
                    Err(e) => {
                        error!(crit = true, "{e}");
                        if e.rollback.is_some() {
                            GroupResult::StopFailed
                        } else {
                            GroupResult::StartFailed
                        }
                    }
                },
                GroupOp::Stop => match runner.stop_group(&group) {
                    Ok(()) => GroupResult::Stopped,
                    Err(_) => GroupResult::StopFailed,
                },
            };
            let _ = tx.send(Event::GroupDone(key, result));
        });
    }

    fn control(&mut self, command: ControlCommand, media: &mut Media) -> (ControlReply, Vec<Action>) {
        let answer = |text: String| ControlReply::Answer(text);
        match command {
            ControlCommand::Pid => (answer(format!("{}\n", std::process::id())), Vec::new()),
            ControlCommand::Status => (answer(report::status(self)), Vec::new()),
            ControlCommand::Nodes => (answer(report::nodes(self)), Vec::new()),
            ControlCommand::Stop => (answer("stopping\n".into()), self.begin_shutdown()),
            ControlCommand::Standby(_) | ControlCommand::Takeover(_) if self.shutting_down => {
                (ControlReply::Error("shutdown in progress".into()), Vec::new())
            }
            ControlCommand::Standby(set) => {
                (answer(format!("standby [{set}] requested\n")), self.cluster.go_standby(set))
            }
            ControlCommand::Takeover(set) => {
                info!("{} asks to take over [{set}]", self.options.node);
                self.send(&ClusterMessage::Takeover(set), media);
                (answer(format!("takeover [{set}] requested\n")), self.cluster.leave_standby())
            }
        }
    }
}

fn log_ping_event(event: &LiveEvent) {
    match event {
        LiveEvent::NodeUp { node } => info!("Status update for node {node}: status ping"),
        LiveEvent::NodeDead { node } => warn!("node {node}: is dead"),
        _ => debug!("{event}"),
    }
}

/// A replay guard that treats generations older than the persisted ones as replays.
fn seeded_guard(seeds: &[(String, u64)]) -> ReplayGuard<String> {
    let mut guard = ReplayGuard::default();
    for (node, generation) in seeds {
        guard.seed(node.clone(), *generation);
    }
    guard
}
