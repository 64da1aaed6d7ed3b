//! Counters of a listener, and rate-limited logging of every warning the
//! network can provoke (rejected packets, failed callbacks and handshakes,
//! accept errors, refused connections).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Per-source counters are kept for at most this many sources.
const MAX_TRACKED_SOURCES: usize = 4096;

/// A kind of warning reachable from the network; each kind has its own
/// limiter, so a flood of one kind never hides the first line of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// A packet or connection dropped by verification.
    Rejected,
    /// A multicast callback that could not connect.
    CallbackFailed,
    /// A peer that failed challenge/response.
    HandshakeFailed,
    /// `accept` failed (e.g. out of file descriptors).
    AcceptFailed,
    /// A TCP connection closed at once: too many open in total or from its peer.
    ConnectionRefused,
    /// Receiving a datagram failed.
    ReceiveFailed,
}

impl Warning {
    const ALL: [Warning; 6] = [
        Self::Rejected,
        Self::CallbackFailed,
        Self::HandshakeFailed,
        Self::AcceptFailed,
        Self::ConnectionRefused,
        Self::ReceiveFailed,
    ];

    /// At most one line of this kind is logged per interval.
    pub fn interval(self) -> Duration {
        match self {
            Self::Rejected | Self::ConnectionRefused => Duration::from_secs(10),
            Self::CallbackFailed | Self::HandshakeFailed => Duration::from_secs(10),
            Self::AcceptFailed | Self::ReceiveFailed => Duration::from_secs(5),
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&k| k == self).expect("listed")
    }
}

pub use logging::RateLimiter;

/// Counters shared by a listener's tasks.
#[derive(Debug)]
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
    /// TCP connections closed at once because of the connection caps.
    pub refused_connections: AtomicU64,
    /// Failed `accept` calls.
    pub accept_failures: AtomicU64,
    rejects_per_source: Mutex<HashMap<IpAddr, u64>>,
    limiters: [RateLimiter; Warning::ALL.len()],
}

impl Default for ListenerStats {
    fn default() -> Self {
        ListenerStats {
            received: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            callback_failures: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            served: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            accept_failures: AtomicU64::new(0),
            rejects_per_source: Mutex::new(HashMap::new()),
            limiters: Warning::ALL.map(|k| RateLimiter::new(k.interval())),
        }
    }
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

    /// Logs `message` as a warning unless one of the same kind was logged
    /// within its interval; the line that is logged says how many were
    /// suppressed before it. Counting is the caller's job.
    pub fn warn(&self, kind: Warning, message: &dyn fmt::Display) {
        if let Some(suppressed) = self.limiters[kind.index()].admit() {
            tracing::warn!("{message}{}", logging::suppressed_note(suppressed));
        }
    }

    /// Counts a rejected packet from `source` and logs at most one line per
    /// interval (the first rejection is logged at once).
    pub fn reject(&self, source: IpAddr, reason: &dyn fmt::Display) {
        Self::bump(&self.rejected);
        let total_from_source = {
            let mut per_source = self.rejects_per_source.lock().unwrap_or_else(|p| p.into_inner());
            if per_source.len() < MAX_TRACKED_SOURCES || per_source.contains_key(&source) {
                *per_source.entry(source).or_default() += 1;
            }
            per_source.get(&source).copied().unwrap_or(0)
        };
        if let Some(suppressed) = self.limiters[Warning::Rejected.index()].admit() {
            let count = suppressed + 1;
            tracing::warn!(
                "dropped request from {source}: {reason} ({count} dropped since last report, {total_from_source} from this source)"
            );
        }
    }

    /// Rejections counted for one source.
    pub fn rejected_from(&self, source: IpAddr) -> u64 {
        self.rejects_per_source.lock().unwrap_or_else(|p| p.into_inner()).get(&source).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_lets_the_first_through_and_counts_the_rest() {
        let limiter = RateLimiter::new(Duration::from_secs(3600));
        assert_eq!(limiter.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(limiter.admit(), None);
        }
        let limiter = RateLimiter::new(Duration::ZERO);
        assert_eq!(limiter.admit(), Some(0));
        assert_eq!(limiter.admit(), Some(0));
    }

    #[test]
    fn each_kind_has_its_own_limiter() {
        let stats = ListenerStats::default();
        stats.warn(Warning::CallbackFailed, &"a");
        stats.warn(Warning::CallbackFailed, &"b");
        assert_eq!(stats.limiters[Warning::CallbackFailed.index()].admit(), None);
        assert_eq!(stats.limiters[Warning::HandshakeFailed.index()].admit(), Some(0));
    }

    #[test]
    fn rejections_are_counted_per_source_even_when_not_logged() {
        let stats = ListenerStats::default();
        let source: IpAddr = "198.18.0.9".parse().unwrap();
        for _ in 0..10 {
            stats.reject(source, &"bad");
        }
        assert_eq!(stats.rejected_from(source), 10);
        assert_eq!(ListenerStats::get(&stats.rejected), 10);
    }
}
