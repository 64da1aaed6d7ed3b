//! Node and link liveness from fresh heartbeats, with Heartbeat's timing
//! rules: a link is dead after `deadtime` without a fresh message on it, a
//! node is dead when all its links are, and a late heartbeat (interval above
//! `warntime`) is reported. The clock is passed in, so the rules are tested
//! without sleeping.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A change worth a log line (and, for nodes, an action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `Link NODE:IFACE up.`
    LinkUp { node: String, iface: String },
    /// `Link NODE:IFACE dead.`
    LinkDead { node: String, iface: String },
    /// The first link of a node came up (the node is alive).
    NodeUp { node: String },
    /// `node NODE: is dead` — every link is dead.
    NodeDead { node: String },
    /// `Late heartbeat: Node NODE: interval N ms` (`beyond_deadtime` adds `(> deadtime)`).
    LateHeartbeat { node: String, interval: Duration, beyond_deadtime: bool },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::LinkUp { node, iface } => write!(f, "Link {node}:{iface} up."),
            Event::LinkDead { node, iface } => write!(f, "Link {node}:{iface} dead."),
            Event::NodeUp { node } => write!(f, "Status update for node {node}: status up"),
            Event::NodeDead { node } => write!(f, "node {node}: is dead"),
            Event::LateHeartbeat { node, interval, beyond_deadtime } => {
                write!(f, "Late heartbeat: Node {node}: interval {} ms", interval.as_millis())?;
                if *beyond_deadtime {
                    write!(f, " (> deadtime)")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Default)]
struct NodeLinks {
    /// Last fresh message per interface; `None` once declared dead.
    links: BTreeMap<String, Option<Instant>>,
    last_heard: Option<Instant>,
    alive: bool,
}

/// Liveness of the peers.
#[derive(Debug)]
pub struct Liveness {
    deadtime: Duration,
    warntime: Duration,
    nodes: BTreeMap<String, NodeLinks>,
}

impl Liveness {
    /// Tracks peers with these timings.
    pub fn new(deadtime: Duration, warntime: Duration) -> Self {
        Liveness { deadtime, warntime, nodes: BTreeMap::new() }
    }

    /// A fresh, authenticated heartbeat from `node` arrived on `iface`.
    pub fn heard(&mut self, node: &str, iface: &str, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        let entry = self.nodes.entry(node.to_string()).or_default();
        if let Some(previous) = entry.last_heard {
            let interval = now.saturating_duration_since(previous);
            if interval > self.warntime {
                events.push(Event::LateHeartbeat {
                    node: node.to_string(),
                    interval,
                    beyond_deadtime: interval > self.deadtime,
                });
            }
        }
        entry.last_heard = Some(now);
        let link = entry.links.entry(iface.to_string()).or_insert(None);
        if link.is_none() {
            events.push(Event::LinkUp { node: node.to_string(), iface: iface.to_string() });
        }
        *link = Some(now);
        if !entry.alive {
            entry.alive = true;
            events.push(Event::NodeUp { node: node.to_string() });
        }
        events
    }

    /// Declares links and nodes dead whose silence exceeds `deadtime`
    /// (call it at least every keepalive).
    pub fn expire(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        for (node, entry) in &mut self.nodes {
            for (iface, last) in &mut entry.links {
                if let Some(t) = *last {
                    if now.saturating_duration_since(t) > self.deadtime {
                        *last = None;
                        events.push(Event::LinkDead { node: node.clone(), iface: iface.clone() });
                    }
                }
            }
            if entry.alive && entry.links.values().all(Option::is_none) {
                entry.alive = false;
                events.push(Event::NodeDead { node: node.clone() });
            }
        }
        events
    }

    /// The earliest instant at which a link that is up now would be
    /// declared dead (so a caller can wake exactly then).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.nodes.values().flat_map(|n| n.links.values().flatten()).min().map(|t| *t + self.deadtime)
    }

    /// Whether `node` is alive (some link up).
    pub fn is_alive(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.alive)
    }

    /// Interfaces on which `node` is currently heard.
    pub fn links_up(&self, node: &str) -> Vec<String> {
        self.nodes
            .get(node)
            .map(|n| n.links.iter().filter(|(_, t)| t.is_some()).map(|(i, _)| i.clone()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn redundant_links_keep_a_node_alive_until_all_are_dead() {
        let t0 = Instant::now();
        let mut l = Liveness::new(1000 * MS, 500 * MS);
        let first = l.heard("bravo", "eth0", t0);
        assert_eq!(
            first,
            vec![Event::LinkUp { node: "bravo".into(), iface: "eth0".into() }, Event::NodeUp { node: "bravo".into() }]
        );
        assert_eq!(
            l.heard("bravo", "eth1", t0 + 10 * MS),
            vec![Event::LinkUp { node: "bravo".into(), iface: "eth1".into() }]
        );
        // eth0 falls silent; eth1 keeps talking.
        for i in 1..=6 {
            assert!(l.heard("bravo", "eth1", t0 + i * 200 * MS).is_empty());
        }
        let events = l.expire(t0 + 1200 * MS);
        assert_eq!(events, vec![Event::LinkDead { node: "bravo".into(), iface: "eth0".into() }]);
        assert_eq!(events[0].to_string(), "Link bravo:eth0 dead.");
        assert!(l.is_alive("bravo"));
        assert_eq!(l.links_up("bravo"), vec!["eth1".to_string()]);
        // Then eth1 dies too.
        let events = l.expire(t0 + 2300 * MS);
        assert_eq!(events.last().map(ToString::to_string).as_deref(), Some("node bravo: is dead"));
        assert!(!l.is_alive("bravo"));
        assert!(l.expire(t0 + 5000 * MS).is_empty(), "dead is reported once");
    }

    #[test]
    fn next_expiry_is_the_oldest_live_link_plus_deadtime() {
        let t0 = Instant::now();
        let mut l = Liveness::new(1000 * MS, 500 * MS);
        assert_eq!(l.next_expiry(), None);
        l.heard("bravo", "eth0", t0);
        l.heard("bravo", "eth1", t0 + 300 * MS);
        assert_eq!(l.next_expiry(), Some(t0 + 1000 * MS));
        l.expire(t0 + 1001 * MS);
        assert_eq!(l.next_expiry(), Some(t0 + 1300 * MS), "a dead link no longer counts");
        l.expire(t0 + 1301 * MS);
        assert_eq!(l.next_expiry(), None);
    }

    #[test]
    fn late_heartbeats_are_reported() {
        let t0 = Instant::now();
        let mut l = Liveness::new(1000 * MS, 500 * MS);
        l.heard("alpha", "eth0", t0);
        assert!(l.heard("alpha", "eth0", t0 + 400 * MS).is_empty());
        let late = l.heard("alpha", "eth0", t0 + 1100 * MS);
        assert_eq!(late[0].to_string(), "Late heartbeat: Node alpha: interval 700 ms");
        l.expire(t0 + 2200 * MS);
        let back = l.heard("alpha", "eth0", t0 + 2300 * MS);
        assert!(
            back.iter().any(|e| e.to_string() == "Late heartbeat: Node alpha: interval 1200 ms (> deadtime)"),
            "{back:?}"
        );
        assert!(back.contains(&Event::NodeUp { node: "alpha".into() }));
    }
}
