//! The node's event loop: one thread owns all state ([`Node`]) and reacts
//! to [`Event`]s from helper threads — messages from the media (judged on
//! their receive threads, see [`crate::membership::intake`]), ping
//! replies, control commands, finished resource operations and fence calls,
//! and signals — and to its own tick and timers. What it decides to do
//! ([`Action`]s from [`super::cluster`]) is carried out by [`Node::apply`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use crate::config::authkeys::AuthKeys;
use crate::config::hacf::HaConfig;
use crate::config::haresources::ResourceGroup;
use crate::membership::cluster_message::ClusterMessage;
use crate::membership::intake::DropCounters;
use crate::membership::liveness::{Event as LiveEvent, Liveness};
use crate::membership::message::Message;
use crate::membership::replay::{PeerGenerations, ReplayGuard};
use crate::resources::ResourceRunner;
use plumbing::process::Cancel;
use stonith::Fencer;

use super::cluster::{Action, CleanReason, Cluster, GroupKey, GroupResult, NodeStatus};
use super::fence_speed::FenceSpeed;
use super::media::Media;
use super::watchdog_link::WatchdogLink;
use super::workers::{AgentReport, DeviceCheck, GroupHealth, GroupOp};
use super::{control, ping, Options};

/// Events for the main loop.
pub(super) enum Event {
    /// An authenticated message, fresh on the link it arrived on.
    Heard { msg: Message, iface: String },
    /// A ping node answered.
    PingReply(Ipv4Addr),
    /// A valid control command.
    Control(control::Request),
    /// A start or stop of a group finished.
    GroupDone(GroupKey, GroupResult),
    /// A running group's status check finished.
    Monitored { group: GroupKey, health: GroupHealth },
    /// A fence-agent call finished.
    Agent(AgentReport),
    /// SIGTERM, SIGINT or SIGHUP: stop gracefully.
    Shutdown,
}

/// Deferred work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Timer {
    /// Fence the node (unless that is no longer needed).
    Fence(String),
    /// Consider the node reset by its watchdog.
    WatchdogExpiry(String),
}

/// Whether the node feeds its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feeding {
    /// Fed each keepalive (the normal case).
    On,
    /// Not fed while this node gives up its groups to a peer it cannot
    /// fence (see [`super::cluster`]): it resets unless they stop first.
    Withheld,
}

/// The running node: all state, owned by the main loop's thread.
pub(super) struct Node {
    /// Interval of status messages (and of the tick).
    pub(super) keepalive: Duration,
    /// When each peer was last heard, on each link.
    pub(super) liveness: Liveness,
    /// When each ping node was last heard.
    pub(super) ping_liveness: Liveness,
    /// Ping pseudo-node name of each ping address.
    pub(super) ping_names: HashMap<Ipv4Addr, String>,
    /// The decisions.
    pub(super) cluster: Cluster,
    /// ha.cf.
    pub(super) ha: HaConfig,
    /// Signing keys.
    pub(super) keys: AuthKeys,
    /// Where the node finds its files.
    pub(super) options: Options,
    /// This run's generation (in every message).
    pub(super) generation: u64,
    /// Sequence number of the last message sent.
    pub(super) seq: u64,
    /// Replay guard per sending node (content is read once per node).
    pub(super) node_guard: ReplayGuard<String>,
    /// Each peer's last generation, persisted across restarts.
    pub(super) peer_generations: PeerGenerations,
    /// The generation each peer was heard heartbeating with in this run:
    /// only that generation's `shutdown` is believed.
    pub(super) seen_alive: HashMap<String, u64>,
    /// Dropped-packet counters (shared with the receive threads).
    pub(super) dropped: Arc<DropCounters>,
    /// Sender of the event queue (for helper threads).
    pub(super) tx: mpsc::SyncSender<Event>,
    /// Runs resource scripts.
    pub(super) runner: ResourceRunner,
    /// haresources groups by key.
    pub(super) groups: BTreeMap<GroupKey, ResourceGroup>,
    /// The fence agent for peers (`None`: no STONITH device).
    pub(super) fencer: Option<Fencer>,
    /// Fence agents running, by victim: cancelled when the reason is gone.
    pub(super) fencing_now: BTreeMap<String, Cancel>,
    /// Durations of this node's agent queries (its announced fence time).
    pub(super) fence_speed: FenceSpeed,
    /// When the fence device is checked again (`None`: not yet active, or
    /// a check is running).
    pub(super) next_device_check: Option<Instant>,
    /// Groups whose status check is running.
    pub(super) monitoring: BTreeSet<GroupKey>,
    /// When running groups are checked next (`monitor_interval`).
    pub(super) next_monitor: Instant,
    /// Deferred work, by due time.
    pub(super) timers: Vec<(Instant, Timer)>,
    /// When the node started.
    pub(super) started: Instant,
    /// Whether a graceful stop is under way.
    pub(super) shutting_down: bool,
    /// Whether the watchdog is fed each keepalive.
    pub(super) feeding: Feeding,
}

/// How often groups that failed here are retried when nobody runs them.
const FAILED_RETRY: Duration = Duration::from_secs(30);

impl Node {
    /// Runs until the event queue closes or a graceful stop completes.
    pub(super) fn main_loop(
        &mut self,
        rx: mpsc::Receiver<Event>,
        media: &mut Media,
        mut pinger: Option<&mut ping::Pinger>,
        mut watchdog: Option<&mut WatchdogLink>,
    ) {
        let mut next_tick = Instant::now();
        // systemd's WatchdogSec= watches this loop (it also sends the heartbeats).
        let keep_alive_every = plumbing::service_manager::keep_alive_interval();
        let mut next_keep_alive = Instant::now();
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
                if let Some(every) = keep_alive_every.filter(|_| now >= next_keep_alive) {
                    plumbing::service_manager::keep_alive();
                    next_keep_alive = now + every;
                }
                if let Some(p) = pinger.as_deref_mut() {
                    p.send_round();
                }
                if let Some(w) = watchdog.as_deref_mut().filter(|_| self.feeding == Feeding::On) {
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
                // systemd (Type=notify): the node takes part in the cluster now.
                plumbing::service_manager::ready(&format!(
                    "active as {} in a cluster of {} nodes",
                    self.options.node,
                    self.ha.nodes.len()
                ));
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

    pub(super) fn on_live_event(&mut self, event: LiveEvent) -> Vec<Action> {
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

    pub(super) fn begin_shutdown(&mut self) -> Vec<Action> {
        if self.shutting_down {
            return Vec::new();
        }
        self.shutting_down = true;
        plumbing::service_manager::stopping();
        info!("Heartbeat shutdown in progress. ({})", std::process::id());
        info!("Giving up all HA resources.");
        self.cluster.begin_shutdown()
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

    /// Carries out the cluster's decisions.
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
                Action::StopFeeding => self.feeding = Feeding::Withheld,
                Action::ResumeFeeding => self.feeding = Feeding::On,
            }
        }
        if announce {
            self.send_status(media);
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
