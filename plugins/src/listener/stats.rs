//! Counters of a listener, and rate-limited logging of rejected packets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a summary of rejected packets is logged at most.
const REJECT_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Per-source counters are kept for at most this many sources.
const MAX_TRACKED_SOURCES: usize = 4096;

/// Counters shared by a listener's tasks.
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// Packets or connections received.
    pub received: AtomicU64,
    /// Requests that passed verification.
    pub verified: AtomicU64,
    /// Requests dropped by verification.
    pub rejected: AtomicU64,
    /// Duplicates dropped by the history.
    pub duplicates: AtomicU64,
    /// Requests dropped because too many were in flight.
    pub busy: AtomicU64,
    /// Callbacks that could not connect.
    pub callback_failures: AtomicU64,
    /// Peers that failed challenge/response.
    pub auth_failures: AtomicU64,
    /// Replies delivered.
    pub served: AtomicU64,
    rejects: Mutex<RejectLog>,
}

#[derive(Debug, Default)]
struct RejectLog {
    per_source: HashMap<IpAddr, u64>,
    since_last_log: u64,
    last_log: Option<Instant>,
}

impl ListenerStats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts a rejected packet from `source` and logs at most one line per
    /// interval (the first rejection is logged at once).
    pub fn reject(&self, source: IpAddr, reason: &dyn std::fmt::Display) {
        Self::bump(&self.rejected);
        let mut log = self.rejects.lock().unwrap_or_else(|p| p.into_inner());
        if log.per_source.len() < MAX_TRACKED_SOURCES || log.per_source.contains_key(&source) {
            *log.per_source.entry(source).or_default() += 1;
        }
        log.since_last_log += 1;
        let now = Instant::now();
        if log.last_log.is_none_or(|t| now.duration_since(t) >= REJECT_LOG_INTERVAL) {
            let count = log.since_last_log;
            let total_from_source = log.per_source.get(&source).copied().unwrap_or(0);
            log.since_last_log = 0;
            log.last_log = Some(now);
            drop(log);
            tracing::warn!(
                "dropped request from {source}: {reason} ({count} dropped since last report, {total_from_source} from this source)"
            );
        }
    }

    /// Rejections counted for one source.
    pub fn rejected_from(&self, source: IpAddr) -> u64 {
        self.rejects.lock().unwrap_or_else(|p| p.into_inner()).per_source.get(&source).copied().unwrap_or(0)
    }
}
