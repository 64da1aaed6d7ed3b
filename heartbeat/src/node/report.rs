//! Text answers of the control commands `status` and `nodes`.

use std::fmt::Write;

use super::cluster::{LocalGroup, PeerState};
use super::event_loop::Node;

/// `heartbeat status`: the v1 `-s` line, this node's state, each group's
/// place, and the dropped-packet counters.
pub(super) fn status(node: &Node) -> String {
    let name = &node.options.node;
    let cluster = &node.cluster;
    let mut text = format!("heartbeat OK [pid {}] is running on {name} [{name}]...\n", std::process::id());
    let _ = writeln!(text, "local status: {}", cluster.status().as_str());
    let _ = writeln!(text, "standby: {}", cluster.standby().map_or("none".to_string(), |s| s.to_string()));
    for group in cluster.groups() {
        let place = match cluster.local_group(&group.key) {
            LocalGroup::Running => "running here".to_string(),
            LocalGroup::Starting => "starting here".to_string(),
            LocalGroup::Stopping => "stopping here".to_string(),
            LocalGroup::StopFailed => "STOP FAILED here".to_string(),
            LocalGroup::Failed | LocalGroup::Stopped => match cluster.holder(&group.key) {
                Some(holder) => format!("held by {holder}"),
                None if cluster.local_group(&group.key) == LocalGroup::Failed => "failed here, stopped".to_string(),
                None => "stopped".to_string(),
            },
        };
        let _ = writeln!(text, "group {}: {place}", group.key);
    }
    if node.fencer.is_some() {
        let _ = writeln!(
            text,
            "fence time: {} ms announced (from {} device answers)",
            cluster.announcement().fence_time.as_millis(),
            node.fence_speed.samples()
        );
    }
    let _ = writeln!(text, "dropped packets: {}", node.dropped.summary());
    text
}

/// `heartbeat nodes`: one line per node and ping node.
pub(super) fn nodes(node: &Node) -> String {
    let mut text = String::new();
    for n in &node.ha.nodes {
        if n == &node.options.node {
            let _ = writeln!(text, "{n} normal {} (this node)", node.cluster.status().as_str());
            continue;
        }
        let state = match node.cluster.peer(n) {
            Some(PeerState::Alive(a)) => a.status.as_str().to_string(),
            Some(PeerState::Unknown) | None => "init".to_string(),
            Some(PeerState::Unclean { .. }) => "dead (not fenced yet)".to_string(),
            Some(PeerState::Clean(reason)) => format!("dead ({})", clean_text(*reason)),
        };
        let links = node.liveness.links_up(n);
        let _ = writeln!(
            text,
            "{n} normal {state} links: {}",
            if links.is_empty() { "none".into() } else { links.join(" ") }
        );
    }
    let mut pings: Vec<&String> = node.ping_names.values().collect();
    pings.sort();
    pings.dedup();
    for p in pings {
        let _ = writeln!(text, "{p} ping {}", if node.ping_liveness.is_alive(p) { "ping" } else { "dead" });
    }
    text
}

fn clean_text(reason: super::cluster::CleanReason) -> &'static str {
    use super::cluster::CleanReason::*;
    match reason {
        Fenced => "fenced",
        Left => "shut down",
        WatchdogExpired => "reset by its watchdog",
        FoundOff => "found powered off",
        Unprotected => "taken over unfenced",
    }
}
