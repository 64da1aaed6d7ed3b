//! The cluster's decisions, without sockets, threads or clocks of its own:
//! who should run each resource group, when this node starts or stops a
//! group, and when a dead peer must be fenced first.
//!
//! Rules (spec §4, with the fixes of §9):
//! * Every node computes the same *desired owner* of a group from what all
//!   nodes announce: candidates are the active nodes; a node that sees fewer
//!   ping nodes than another candidate is no candidate (ipfail); a node in
//!   standby for the group is no candidate while another one is; then the
//!   current holder keeps it (`auto_failback off`), else its home node,
//!   else the first candidate in `node` order.
//! * A group is started here only when this node is the desired owner, no
//!   live peer announces holding it, and no peer is dead-but-unfenced.
//! * A holder that is no longer the desired owner stops the group and says
//!   so at once; the new owner starts it on that news (graceful handover
//!   takes one message, not a deadtime).
//! * A peer that dies without a shutdown notice must be fenced before any
//!   group starts anywhere. In a partition both sides see the other die; the
//!   side with the better claim (more ping nodes, then more groups held,
//!   then earlier in `node` order) fences at once, the other waits
//!   `stonith_delay`, so one survives. With `stonith_delay auto` (the
//!   default) that wait is the peer's own announced fence time — how long
//!   its fence of this node takes to take effect, measured on its device —
//!   plus two keepalives for the skew between the two sides' deadtime: the
//!   holder wins the race by construction, and the wait is no longer than
//!   that. While it waits, the weaker side asks the device for the peer's
//!   power state: a peer found powered off runs nothing, so nothing more is
//!   waited for (a real power loss fails over in deadtime plus one status
//!   call).
//! * A fence whose reason is gone — the peer is heard again, it restarted,
//!   or this node is leaving — is cancelled (its agent killed) before
//!   anything else is done.
//! * Without a fence agent, a claim decides too (ping nodes first, then
//!   *fewer* groups held, then `node` order), and the watchdog does the
//!   fencing: the side with the better claim waits the peer's announced
//!   watchdog time (+ 1 s) and then takes over; the other side cannot tell
//!   a dead peer from a cut-off one, so it never takes over from it, and if
//!   it holds groups it stops them and stops feeding its watchdog at once —
//!   its node resets within its own timeout, before the peer's wait ends,
//!   unless every group has stopped by then (then it feeds again, passive).
//!   Status messages name the peers their sender has declared dead, so a
//!   node still heard by a peer that no longer hears it (a one-way cut)
//!   gives way in the same manner.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::hacf::{AutoFailback, StonithDelay, FALLBACK_STONITH_DELAY};

pub use crate::membership::announcement::{Announcement, GroupSet, NodeStatus};
pub use crate::membership::names::GroupKey;

/// Why a peer no longer holds anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanReason {
    /// Fenced by this node.
    Fenced,
    /// Announced its shutdown after releasing its groups.
    Left,
    /// Silent for longer than its watchdog timeout.
    WatchdogExpired,
    /// Its fence device reported it powered off.
    FoundOff,
    /// No way to fence it; taken over anyway (`unfenced_takeover yes`).
    Unprotected,
}

/// A peer as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// Not heard since this node started.
    Unknown,
    /// Heard recently.
    Alive(Announcement),
    /// Dead without notice: may still run its groups until fenced.
    Unclean {
        /// What it announced last (what it may still run).
        last: Option<Announcement>,
    },
    /// Known to run nothing.
    Clean(CleanReason),
}

/// A group's state on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalGroup {
    /// Not running here.
    Stopped,
    /// Start in progress.
    Starting,
    /// Running here.
    Running,
    /// Stop in progress.
    Stopping,
    /// Start failed here (or it died and could not be restarted): others
    /// take precedence for it.
    Failed,
    /// A stop failed: it may still run here; nothing more is done with it.
    StopFailed,
}

impl LocalGroup {
    /// Whether the group may be running here (announced as held).
    pub fn is_held(self) -> bool {
        matches!(self, LocalGroup::Starting | LocalGroup::Running | LocalGroup::Stopping | LocalGroup::StopFailed)
    }
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the group here.
    Start(GroupKey),
    /// Stop the group here.
    Stop(GroupKey),
    /// Fence the node after the delay (unless it is back by then).
    Fence { node: String, after: Duration },
    /// Kill the fence agent running (or cancel the one scheduled) for the
    /// node: its reason is gone. Comes before any other action.
    CancelFence(String),
    /// Ask the fence device whether the node is powered off
    /// ([`Cluster::on_power_off`] takes an "off").
    CheckPower(String),
    /// Power the node on (`stonith_power_on yes`).
    PowerOn(String),
    /// Consider the node reset by its watchdog after the delay.
    AwaitWatchdog { node: String, after: Duration },
    /// Send a status message now (holdings changed).
    Announce,
    /// Stop feeding the watchdog: the node resets within its own timeout
    /// unless [`Action::ResumeFeeding`] comes first.
    StopFeeding,
    /// Feed the watchdog again (everything it had to give up is stopped).
    ResumeFeeding,
}

/// How dead peers are made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fencing {
    /// A `stonith_host` line applies to this node.
    Agent {
        /// Wait of the weaker side in a partition.
        delay: StonithDelay,
        /// The keepalive interval (the skew allowance of `delay` auto is two).
        keepalive: Duration,
        /// `stonith_power_on yes`.
        power_on: bool,
    },
    /// No fence agent: rely on the peer's watchdog, or (if allowed) take over unprotected.
    None {
        /// `unfenced_takeover yes`.
        unfenced_takeover: bool,
    },
}

/// One group of haresources, as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Group key.
    pub key: GroupKey,
    /// Home node.
    pub home: String,
}

/// The cluster as this node sees it.
#[derive(Debug)]
pub struct Cluster {
    local: String,
    nodes: Vec<String>,
    groups: Vec<GroupInfo>,
    auto_failback: AutoFailback,
    fencing: Fencing,
    watchdog: Duration,
    status: NodeStatus,
    ping: usize,
    standby: Option<GroupSet>,
    peers: BTreeMap<String, PeerState>,
    local_groups: BTreeMap<GroupKey, LocalGroup>,
    /// Last node seen holding each group (for "Resources being acquired from X").
    last_holder: BTreeMap<GroupKey, String>,
    initial_done: bool,
    /// Peers lost without fencing that have the better claim: this node
    /// runs nothing while any of them may still run groups.
    yielded_to: BTreeSet<String>,
    /// Whether this node stopped feeding its watchdog (see [`Action::StopFeeding`]).
    feeding_stopped: bool,
    /// This node's fence time, announced (see [`Announcement::fence_time`]).
    fence_time: Duration,
}

impl Cluster {
    /// A cluster of `nodes` (ha.cf order) seen from `local`.
    pub fn new(
        local: &str,
        nodes: &[String],
        groups: Vec<GroupInfo>,
        auto_failback: AutoFailback,
        fencing: Fencing,
        watchdog: Duration,
    ) -> Self {
        let peers = nodes.iter().filter(|n| *n != local).map(|n| (n.clone(), PeerState::Unknown)).collect();
        let local_groups = groups.iter().map(|g| (g.key.clone(), LocalGroup::Stopped)).collect();
        Cluster {
            local: local.to_string(),
            nodes: nodes.to_vec(),
            groups,
            auto_failback,
            fencing,
            watchdog,
            status: NodeStatus::Up,
            ping: 0,
            standby: None,
            peers,
            local_groups,
            last_holder: BTreeMap::new(),
            initial_done: false,
            yielded_to: BTreeSet::new(),
            feeding_stopped: false,
            fence_time: Duration::ZERO,
        }
    }

    /// This node's name.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// This node's state.
    pub fn status(&self) -> NodeStatus {
        self.status
    }

    /// The groups, in haresources order.
    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    /// A group's state here.
    pub fn local_group(&self, key: &GroupKey) -> LocalGroup {
        self.local_groups.get(key).copied().unwrap_or(LocalGroup::Stopped)
    }

    /// A peer's state.
    pub fn peer(&self, node: &str) -> Option<&PeerState> {
        self.peers.get(node)
    }

    /// This node's standby set.
    pub fn standby(&self) -> Option<GroupSet> {
        self.standby
    }

    /// What this node announces.
    pub fn announcement(&self) -> Announcement {
        Announcement {
            status: self.status,
            holds: self.local_groups.iter().filter(|(_, s)| s.is_held()).map(|(k, _)| k.clone()).collect(),
            ping: self.ping,
            standby: self.standby,
            watchdog: self.watchdog,
            unclean: self
                .peers
                .iter()
                .filter(|(_, p)| matches!(p, PeerState::Unclean { .. }))
                .map(|(n, _)| n.clone())
                .collect(),
            fence_time: self.fence_time,
        }
    }

    /// This node's measured fence time changed: announce it.
    pub fn set_fence_time(&mut self, fence_time: Duration) -> Vec<Action> {
        if self.fence_time == fence_time {
            return Vec::new();
        }
        self.fence_time = fence_time;
        vec![Action::Announce]
    }

    /// The node that holds `key` (here or as announced by a live peer).
    /// When several hold it (after a partition), the first in `node` order,
    /// so that every node picks the same one.
    pub fn holder(&self, key: &GroupKey) -> Option<&str> {
        self.nodes.iter().map(String::as_str).find(|n| {
            if *n == self.local {
                self.local_group(key).is_held()
            } else {
                self.peers.get(*n).is_some_and(|p| holds(p, key))
            }
        })
    }

    /// Puts `key` in the running state, as after a start here (tests: a
    /// node that has run for a while). At start-up the runtime does not
    /// adopt groups it finds running: it stops them before joining.
    #[cfg(test)]
    pub(crate) fn adopt_running(&mut self, key: &GroupKey) {
        self.local_groups.insert(key.clone(), LocalGroup::Running);
    }

    /// This node now takes part in resource decisions.
    pub fn become_active(&mut self) -> Vec<Action> {
        if self.status != NodeStatus::Up {
            return Vec::new();
        }
        self.status = NodeStatus::Active;
        info!("Local status now set to: 'active'");
        let mut actions = vec![Action::Announce];
        let never_heard: Vec<String> =
            self.peers.iter().filter(|(_, p)| **p == PeerState::Unknown).map(|(n, _)| n.clone()).collect();
        for node in never_heard {
            warn!("node {node}: is dead");
            actions.extend(self.mark_unclean(&node));
        }
        actions.extend(self.reconcile());
        actions
    }

    /// Whether every peer has been heard (then there is no need to wait for initdead).
    pub fn all_peers_heard(&self) -> bool {
        self.peers.values().all(|p| matches!(p, PeerState::Alive(_)))
    }

    /// Graceful shutdown: release everything. Fencing stops: a leaving
    /// node takes nothing over, so it has no reason to fence.
    pub fn begin_shutdown(&mut self) -> Vec<Action> {
        self.status = NodeStatus::Leaving;
        let mut actions: Vec<Action> = self
            .peers
            .iter()
            .filter(|(_, p)| matches!(p, PeerState::Unclean { .. }))
            .map(|(n, _)| Action::CancelFence(n.clone()))
            .collect();
        actions.push(Action::Announce);
        actions.extend(self.reconcile());
        actions
    }

    /// Whether a shutdown has released everything it could.
    pub fn shutdown_complete(&self) -> bool {
        self.status == NodeStatus::Leaving
            && self
                .local_groups
                .values()
                .all(|s| matches!(s, LocalGroup::Stopped | LocalGroup::Failed | LocalGroup::StopFailed))
    }

    /// The number of ping nodes this node reaches changed.
    pub fn set_ping_count(&mut self, count: usize) -> Vec<Action> {
        if self.ping == count {
            return Vec::new();
        }
        self.ping = count;
        let mut actions = vec![Action::Announce];
        actions.extend(self.reconcile());
        actions
    }

    /// `heartbeat standby SET` on this node.
    pub fn go_standby(&mut self, set: GroupSet) -> Vec<Action> {
        info!("{} wants to go standby [{set}]", self.local);
        self.standby = Some(set);
        let mut actions = vec![Action::Announce];
        actions.extend(self.reconcile());
        actions
    }

    /// `heartbeat takeover SET` on this node: leave standby; the peers are
    /// asked (by the runtime) to go standby for the mirrored set.
    pub fn leave_standby(&mut self) -> Vec<Action> {
        self.standby = None;
        let mut actions = vec![Action::Announce];
        actions.extend(self.reconcile());
        actions
    }

    /// A fresh status message from a peer.
    pub fn on_announcement(&mut self, node: &str, announcement: Announcement) -> Vec<Action> {
        let Some(state) = self.peers.get(node) else { return Vec::new() };
        if *state == PeerState::Clean(CleanReason::Left) && announcement.status == NodeStatus::Leaving {
            return Vec::new();
        }
        let mut actions = Vec::new();
        match state {
            PeerState::Unclean { .. } => {
                error!(crit = true, "Cluster node {node} returning after partition.");
                warn!("Deadtime value may be too small.");
                actions.push(Action::CancelFence(node.to_string()));
            }
            PeerState::Alive(old) if old.status != announcement.status => {
                info!("Status update for node {node}: status {}", announcement.status.as_str());
            }
            PeerState::Unknown | PeerState::Clean(_) => {
                info!("Status update for node {node}: status {}", announcement.status.as_str());
            }
            PeerState::Alive(_) => {}
        }
        if let PeerState::Alive(old) = state {
            if old.standby != announcement.standby {
                if let Some(set) = announcement.standby {
                    info!("{node} wants to go standby [{set}]");
                }
            }
        }
        for key in &announcement.holds {
            self.last_holder.insert(key.clone(), node.to_string());
        }
        // Once this node gave way, it stays so while the peer still holds it
        // dead (giving its groups up changed the figures the claim compares).
        if announcement.unclean.contains(&self.local)
            && !self.watchdog.is_zero()
            && (self.yielded_to.contains(node) || self.yields_without_fencing(node, &announcement))
        {
            // A one-way cut: it no longer hears us and takes over after our watchdog time.
            if !self.yielded_to.contains(node) {
                warn!("{node} declared us dead while we still hear it");
                actions.extend(self.yield_to(node));
            }
        } else {
            self.yielded_to.remove(node);
        }
        self.peers.insert(node.to_string(), PeerState::Alive(announcement));
        actions.extend(self.reconcile());
        actions
    }

    /// A peer restarted (new generation): whatever it announced before is void.
    /// A restarted node stops whatever it finds running before it joins, so
    /// one that was dead-but-unfenced is safe again.
    pub fn on_restart(&mut self, node: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(state) = self.peers.get_mut(node) {
            info!("Heartbeat restart on node {node}");
            if matches!(state, PeerState::Unclean { .. }) {
                *state = PeerState::Unknown;
                actions.push(Action::CancelFence(node.to_string()));
            }
            self.yielded_to.remove(node);
        }
        actions
    }

    /// A peer announced its shutdown (after releasing its groups).
    pub fn on_shutdown_notice(&mut self, node: &str) -> Vec<Action> {
        if !self.peers.contains_key(node) || self.peers.get(node) == Some(&PeerState::Clean(CleanReason::Left)) {
            return Vec::new();
        }
        info!("Received shutdown notice from '{node}'.");
        let mut actions = Vec::new();
        if self.needs_fencing(node) {
            actions.push(Action::CancelFence(node.to_string()));
        }
        self.peers.insert(node.to_string(), PeerState::Clean(CleanReason::Left));
        actions.extend(self.reconcile());
        actions
    }

    /// Liveness declared a peer dead (all links silent for deadtime).
    pub fn on_node_dead(&mut self, node: &str) -> Vec<Action> {
        match self.peers.get(node) {
            Some(PeerState::Clean(CleanReason::Left)) => {
                info!("Dead node {node} gave up resources.");
                Vec::new()
            }
            Some(PeerState::Alive(_)) | Some(PeerState::Unknown) => {
                let mut actions = self.mark_unclean(node);
                actions.extend(self.reconcile());
                actions
            }
            _ => Vec::new(),
        }
    }

    /// Whether `node` is dead and not yet made safe.
    pub fn needs_fencing(&self, node: &str) -> bool {
        matches!(self.peers.get(node), Some(PeerState::Unclean { .. }))
    }

    /// Whether a fence of `node` (scheduled, or a retry) is to go ahead:
    /// it still needs fencing and this node is not leaving.
    pub fn may_fence(&self, node: &str) -> bool {
        self.needs_fencing(node) && self.status != NodeStatus::Leaving
    }

    /// Fencing `node` succeeded (or its watchdog has surely fired, or its
    /// device reported it off).
    pub fn on_node_safe(&mut self, node: &str, reason: CleanReason) -> Vec<Action> {
        if !self.needs_fencing(node) {
            return Vec::new();
        }
        let mut actions = Vec::new();
        match reason {
            CleanReason::WatchdogExpired => {
                info!("node {node}: silent longer than its watchdog timeout; it has reset itself")
            }
            CleanReason::FoundOff => {
                info!("node {node}: powered off according to its fence device; it runs nothing");
                // A fence agent already started for it has nothing left to do.
                actions.push(Action::CancelFence(node.to_string()));
            }
            _ => {}
        }
        if matches!(reason, CleanReason::Fenced | CleanReason::FoundOff)
            && matches!(self.fencing, Fencing::Agent { power_on: true, .. })
        {
            actions.push(Action::PowerOn(node.to_string()));
        }
        self.peers.insert(node.to_string(), PeerState::Clean(reason));
        actions.extend(self.reconcile());
        actions
    }

    /// The fence device's answer to [`Action::CheckPower`]: a node found off
    /// is safe; one found on is fenced as scheduled.
    pub fn on_power_off(&mut self, node: &str) -> Vec<Action> {
        self.on_node_safe(node, CleanReason::FoundOff)
    }

    /// A start, stop or monitor of `key` finished.
    pub fn on_group_done(&mut self, key: &GroupKey, result: GroupResult) -> Vec<Action> {
        let new_state = match result {
            GroupResult::Started => LocalGroup::Running,
            GroupResult::StartFailed => LocalGroup::Failed,
            GroupResult::Stopped => LocalGroup::Stopped,
            GroupResult::StopFailed => {
                error!(crit = true, "Resource STOP failure of group {key}: it may still run here; not taken over");
                LocalGroup::StopFailed
            }
        };
        self.local_groups.insert(key.clone(), new_state);
        let mut actions = vec![Action::Announce];
        actions.extend(self.reconcile());
        if self.feeding_stopped && !self.local_groups.values().any(|s| s.is_held()) {
            info!("All resource groups released: feeding the watchdog again");
            self.feeding_stopped = false;
            actions.push(Action::ResumeFeeding);
        }
        actions
    }

    /// A monitor found a held group not (fully) running: start it again.
    pub fn on_group_died(&mut self, key: &GroupKey) -> Vec<Action> {
        if self.local_group(key) != LocalGroup::Running || self.status == NodeStatus::Leaving {
            return Vec::new();
        }
        error!("Resource group {key} is not running any more: restarting it");
        self.local_groups.insert(key.clone(), LocalGroup::Starting);
        vec![Action::Start(key.clone()), Action::Announce]
    }

    /// Gives groups that failed here another chance when nobody runs them
    /// (call it now and then, e.g. every 30 s).
    pub fn retry_failed(&mut self) -> Vec<Action> {
        let failed: Vec<GroupKey> = self
            .local_groups
            .iter()
            .filter(|(k, s)| **s == LocalGroup::Failed && self.holder(k).is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        for key in failed {
            info!("Retrying group {key}, which failed to start here and runs nowhere");
            self.local_groups.insert(key, LocalGroup::Stopped);
        }
        self.reconcile()
    }

    /// Whether any peer is dead and not yet made safe.
    pub fn any_unclean(&self) -> bool {
        self.peers.values().any(|p| matches!(p, PeerState::Unclean { .. }))
    }

    /// Whether the initial acquisition just completed (true once).
    pub fn take_initial_completion(&mut self) -> Option<&'static str> {
        if self.initial_done || self.status != NodeStatus::Active || self.any_unclean() {
            return None;
        }
        let mine: Vec<&GroupInfo> =
            self.groups.iter().filter(|g| self.desired_owner(&g.key).as_deref() == Some(&self.local)).collect();
        if mine.iter().any(|g| self.local_group(&g.key) != LocalGroup::Running) {
            return None;
        }
        if self.local_groups.values().any(|s| matches!(s, LocalGroup::Starting | LocalGroup::Stopping)) {
            return None;
        }
        self.initial_done = true;
        Some(if mine.is_empty() {
            "T_RESOURCES(them)"
        } else if self.peers.values().any(|p| matches!(p, PeerState::Clean(CleanReason::Fenced))) {
            "mach_down"
        } else {
            "T_RESOURCES(us)"
        })
    }

    /// The node that should run `key` now, by the rules in the module doc.
    pub fn desired_owner(&self, key: &GroupKey) -> Option<String> {
        let group = self.groups.iter().find(|g| &g.key == key)?;
        let mut candidates: Vec<(&str, usize, Option<GroupSet>)> = Vec::new();
        for node in &self.nodes {
            if node == &self.local {
                if self.status == NodeStatus::Active
                    && self.local_group(key) != LocalGroup::StopFailed
                    && self.yielded_to.is_empty()
                {
                    candidates.push((node, self.ping, self.standby));
                }
            } else if let Some(PeerState::Alive(a)) = self.peers.get(node) {
                if a.status == NodeStatus::Active {
                    candidates.push((node, a.ping, a.standby));
                }
            }
        }
        let best_ping = candidates.iter().map(|c| c.1).max()?;
        candidates.retain(|c| c.1 == best_ping);
        let willing: Vec<&str> = candidates
            .iter()
            .filter(|(n, _, sb)| !sb.is_some_and(|s| s.covers(&group.home, n)))
            .filter(|(n, _, _)| !(*n == self.local && self.local_group(key) == LocalGroup::Failed))
            .map(|c| c.0)
            .collect();
        let pool: Vec<&str> = if willing.is_empty() { candidates.iter().map(|c| c.0).collect() } else { willing };
        if self.auto_failback == AutoFailback::Off {
            if let Some(holder) = self.holder(key) {
                if pool.contains(&holder) {
                    return Some(holder.to_string());
                }
            }
        }
        if pool.contains(&group.home.as_str()) {
            return Some(group.home.clone());
        }
        pool.first().map(|n| n.to_string())
    }

    /// Starts and stops what the rules ask for.
    fn reconcile(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        let keys: Vec<GroupKey> = self.groups.iter().map(|g| g.key.clone()).collect();
        for key in keys {
            let desired = self.desired_owner(&key);
            let mine = desired.as_deref() == Some(self.local.as_str());
            match self.local_group(&key) {
                LocalGroup::Running if !mine => {
                    self.log_release_reason(&key, desired.as_deref());
                    self.local_groups.insert(key.clone(), LocalGroup::Stopping);
                    actions.push(Action::Stop(key));
                }
                LocalGroup::Stopped if mine && self.may_start(&key) => {
                    if let Some(previous) = self.last_holder.get(&key).filter(|n| **n != self.local) {
                        info!("Resources being acquired from {previous}.");
                    }
                    self.local_groups.insert(key.clone(), LocalGroup::Starting);
                    actions.push(Action::Start(key));
                }
                _ => {}
            }
        }
        if actions.iter().any(|a| matches!(a, Action::Start(_) | Action::Stop(_))) {
            actions.push(Action::Announce);
        }
        actions
    }

    /// Safe to start `key` here: active, no dead peer unfenced, no live
    /// peer holding it, and no peer still settling (a peer that is up but
    /// not yet active may be the group's home and about to claim it).
    fn may_start(&self, key: &GroupKey) -> bool {
        self.status == NodeStatus::Active
            && !self.any_unclean()
            && !self.peers.values().any(|p| holds(p, key))
            && !self.peers.values().any(|p| matches!(p, PeerState::Alive(a) if a.status == NodeStatus::Up))
    }

    fn log_release_reason(&self, key: &GroupKey, desired: Option<&str>) {
        if self.status == NodeStatus::Leaving {
            return;
        }
        let better_ping = self.peers.values().any(|p| matches!(p, PeerState::Alive(a) if a.ping > self.ping));
        if let Some(peer) = self.yielded_to.iter().next() {
            info!("Releasing group {key}: {peer} may run it after its wait for our watchdog.");
        } else if better_ping {
            info!("Giving up because we have less visible ping nodes.");
        } else if self.standby.is_some() {
            info!("give up {key} (standby).");
        } else if let Some(owner) = desired {
            info!("Releasing group {key} to {owner}.");
        }
    }

    /// A peer died without notice: keep its holdings blocked and decide how
    /// it is made safe.
    fn mark_unclean(&mut self, node: &str) -> Vec<Action> {
        let last = match self.peers.get(node) {
            Some(PeerState::Alive(a)) => Some(a.clone()),
            _ => None,
        };
        let better_claim = self.has_better_claim(node, last.as_ref());
        let peer_watchdog = last.as_ref().map_or(Duration::ZERO, |a| a.watchdog);
        let peer_fence_time = last.as_ref().map_or(Duration::ZERO, |a| a.fence_time);
        self.peers.insert(node.to_string(), PeerState::Unclean { last });
        match self.fencing {
            Fencing::Agent { .. } if self.status == NodeStatus::Leaving => Vec::new(),
            Fencing::Agent { delay, keepalive, .. } => {
                if better_claim {
                    return vec![Action::Fence { node: node.to_string(), after: Duration::ZERO }];
                }
                let after = match delay {
                    StonithDelay::Fixed(d) => d,
                    StonithDelay::Auto if peer_fence_time.is_zero() => FALLBACK_STONITH_DELAY,
                    StonithDelay::Auto => peer_fence_time + keepalive * 2,
                };
                if after.is_zero() {
                    return vec![Action::Fence { node: node.to_string(), after }];
                }
                info!(
                    "Delaying fencing of {node} by {} ms: it has the better claim to the resources",
                    after.as_millis()
                );
                vec![Action::CheckPower(node.to_string()), Action::Fence { node: node.to_string(), after }]
            }
            Fencing::None { unfenced_takeover: false } if !better_claim => self.yield_to(node),
            Fencing::None { unfenced_takeover } => {
                if !peer_watchdog.is_zero() {
                    let after = peer_watchdog + Duration::from_secs(1);
                    info!("No STONITH device configured: waiting {} ms for {node}'s watchdog", after.as_millis());
                    vec![Action::AwaitWatchdog { node: node.to_string(), after }]
                } else if unfenced_takeover {
                    warn!("No STONITH device configured.");
                    warn!("Shared disks are not protected.");
                    self.peers.insert(node.to_string(), PeerState::Clean(CleanReason::Unprotected));
                    Vec::new()
                } else {
                    error!(
                        "Not taking over from {node}: no STONITH device configured and {node} has no watchdog \
                         (set stonith_host, or unfenced_takeover yes to accept the risk of split brain)"
                    );
                    Vec::new()
                }
            }
        }
    }

    /// Whether this node, without a fence agent, must give way to `node`,
    /// which announced `last`.
    fn yields_without_fencing(&self, node: &str, last: &Announcement) -> bool {
        self.fencing == (Fencing::None { unfenced_takeover: false }) && !self.has_better_claim(node, Some(last))
    }

    /// The partition rule: whether this node's claim to the resources beats
    /// `node`'s. Both sides compute it from the same figures, so exactly one
    /// of them has the better claim. More ping nodes always win; last,
    /// earlier in `node` order wins. Between them, the groups held:
    /// * with a fence agent, more groups held win (the fencing race is won
    ///   by the side that would otherwise lose its running groups);
    /// * without one, *fewer* groups held win: the holder gives its groups
    ///   up and resets through its watchdog, and the other side takes over
    ///   after the holder's watchdog time. Whether the holder died or was
    ///   only cut off, the groups end up running once — so an
    ///   active/passive pair still fails over when the active node dies.
    fn has_better_claim(&self, node: &str, last: Option<&Announcement>) -> bool {
        let weight = |holds: usize| -> i64 {
            let holds = i64::try_from(holds).unwrap_or(i64::MAX);
            match self.fencing {
                Fencing::Agent { .. } => holds,
                Fencing::None { .. } => -holds,
            }
        };
        let my_holds = self.local_groups.values().filter(|s| s.is_held()).count();
        let rank = |n: &str| self.nodes.iter().position(|x| x == n).unwrap_or(usize::MAX);
        let mine = (self.ping, weight(my_holds), std::cmp::Reverse(rank(&self.local)));
        let theirs =
            (last.map_or(0, |a| a.ping), weight(last.map_or(0, |a| a.holds.len())), std::cmp::Reverse(rank(node)));
        mine > theirs
    }

    /// Lost `node`, which has the better claim, without a way to fence it.
    /// It may be dead or only cut off; if cut off it keeps its groups and
    /// keeps feeding its watchdog, and takes over ours once our announced
    /// watchdog time has passed. So this node never takes over from it and,
    /// if it has a watchdog that the peer waits for, releases its groups and
    /// stops feeding at once: it resets within its own timeout (before the
    /// peer's wait ends) unless every group has stopped by then.
    fn yield_to(&mut self, node: &str) -> Vec<Action> {
        error!(
            "Not taking over from {node}: no STONITH device configured and {node} has the better claim to \
             the resources (it may still run them)"
        );
        if self.watchdog.is_zero() {
            // Nothing resets this node, so the peer does not take its groups over: keep them.
            return Vec::new();
        }
        let holds = self.local_groups.values().any(|s| s.is_held());
        self.yielded_to.insert(node.to_string());
        if !holds || self.feeding_stopped {
            return Vec::new();
        }
        error!(
            crit = true,
            "Lost {node}, which takes over after our watchdog time: releasing all resource groups and no \
             longer feeding the watchdog (this node resets within {} ms unless they stop first)",
            self.watchdog.as_millis()
        );
        self.feeding_stopped = true;
        vec![Action::StopFeeding]
    }
}

/// Outcome of a group operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupResult {
    /// Start succeeded.
    Started,
    /// Start failed; what was started was stopped again.
    StartFailed,
    /// Stop succeeded.
    Stopped,
    /// Stop failed.
    StopFailed,
}

/// Whether peer state `p` may be running `key`.
fn holds(p: &PeerState, key: &GroupKey) -> bool {
    match p {
        PeerState::Alive(a) => a.holds.contains(key),
        PeerState::Unclean { last } => last.as_ref().is_some_and(|a| a.holds.contains(key)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
