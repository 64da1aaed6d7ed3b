//! What a node tells its peers about itself: its state, the groups it
//! holds and the facts its peers' decisions need (the content of a
//! `status` message), and the group sets of `standby` and `takeover`.
//!
//! Plain values: the decisions live in [`crate::node::cluster`], the wire
//! form in [`super::cluster_message`].

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::names::GroupKey;

/// A set of groups relative to a node (`hb_standby` / `hb_takeover` sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSet {
    /// Every group.
    All,
    /// Groups whose home is the node.
    Local,
    /// Groups whose home is another node.
    Foreign,
}

impl GroupSet {
    /// Parses `all`, `local`, `foreign` (and `failback` = `foreign`).
    pub fn parse(text: &str) -> Option<GroupSet> {
        match text {
            "all" => Some(GroupSet::All),
            "local" => Some(GroupSet::Local),
            "foreign" | "failback" => Some(GroupSet::Foreign),
            _ => None,
        }
    }

    /// Whether the group homed on `home` belongs to this set as seen from `node`.
    pub fn covers(self, home: &str, node: &str) -> bool {
        match self {
            GroupSet::All => true,
            GroupSet::Local => home == node,
            GroupSet::Foreign => home != node,
        }
    }

    /// The set the peer gives up when this node takes `self` over (two nodes).
    pub fn mirrored(self) -> GroupSet {
        match self {
            GroupSet::All => GroupSet::All,
            GroupSet::Local => GroupSet::Foreign,
            GroupSet::Foreign => GroupSet::Local,
        }
    }
}

impl fmt::Display for GroupSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupSet::All => "all",
            GroupSet::Local => "local",
            GroupSet::Foreign => "foreign",
        })
    }
}

/// A node's own view of its state, as announced in status messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// Media running, not yet taking part in resource decisions.
    Up,
    /// Taking part.
    Active,
    /// Shutting down: releasing everything.
    Leaving,
}

impl NodeStatus {
    /// The `st=` word.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Leaving => "leaving",
        }
    }

    /// Parses the `st=` word.
    pub fn parse(text: &str) -> Option<NodeStatus> {
        match text {
            "up" | "init" => Some(NodeStatus::Up),
            "active" => Some(NodeStatus::Active),
            "leaving" => Some(NodeStatus::Leaving),
            _ => None,
        }
    }
}

/// What a node announces in each status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Its state.
    pub status: NodeStatus,
    /// Groups it runs or is starting/stopping.
    pub holds: BTreeSet<GroupKey>,
    /// Ping nodes it currently reaches.
    pub ping: usize,
    /// Its standby set, if any.
    pub standby: Option<GroupSet>,
    /// Its watchdog timeout plus one keepalive (0 = no watchdog): a node
    /// stops feeding at the latest one keepalive after a peer declared it
    /// dead (it dies, or it gives way), so this long after that it has
    /// surely reset itself or released everything.
    pub watchdog: Duration,
    /// Peers it has declared dead and not yet made safe (a node still heard
    /// by a peer that no longer hears it learns so from this).
    pub unclean: BTreeSet<String>,
    /// How long its fence of a peer takes to take effect, as measured on its
    /// device (0 = unknown or no fence agent): the weaker side of a
    /// partition waits this long (`stonith_delay auto`).
    pub fence_time: Duration,
}
