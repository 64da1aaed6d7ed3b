//! The receive side of one medium: every datagram is judged on the thread
//! that read it, and only authenticated, fresh messages go on to the node.
//!
//! Cheap checks come first, so a flood costs little: framing, a known
//! sender, a generation not far in the future (generations start at the
//! Unix time, see [`crate::membership::replay::bump_generation`]), a
//! (generation, sequence) newer than the last one accepted from that
//! sender on this link. Only then is the signature checked — at once for a
//! sender's known address on this link (the one its last authenticated
//! message came from), and for any other address within a small budget
//! per second, so a flood from elsewhere cannot crowd out the real
//! heartbeats. Every drop is counted; warnings are rate-limited.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::{debug, warn};

use crate::config::authkeys::AuthKeys;
use crate::membership::message::{DropReason, Message, Unverified};
use crate::membership::replay::{Freshness, ReplayGuard};

/// Generations more than this far ahead of the wall clock (seconds) are refused.
pub const MAX_GENERATION_LEAD: u64 = 24 * 60 * 60;
/// Signature checks per second for senders at an address not (yet) known.
const UNKNOWN_ADDRESS_BUDGET: f64 = 50.0;
/// Distinct warnings remembered (then everything is only counted).
const MAX_WARNED: usize = 1000;

/// Dropped-packet counters, shared by the receive threads and the node
/// (shown by `heartbeat status`).
#[derive(Debug, Default)]
pub struct DropCounters {
    /// The signature did not verify.
    pub bad_auth: AtomicU64,
    /// Not a message (framing, fields).
    pub malformed: AtomicU64,
    /// Already seen, or from an older generation of its sender.
    pub replayed: AtomicU64,
    /// The sender is not a cluster node.
    pub unknown_node: AtomicU64,
    /// The generation is far ahead of the clock.
    pub future_generation: AtomicU64,
    /// From an address not known for its sender, beyond the budget.
    pub throttled: AtomicU64,
    /// The node's event queue was full.
    pub queue_full: AtomicU64,
}

impl DropCounters {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `bad-auth N replayed N …` as `heartbeat status` shows it.
    pub fn summary(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "bad-auth {} replayed {} unknown-node {} malformed {} future-generation {} throttled {} queue-full {}",
            get(&self.bad_auth),
            get(&self.replayed),
            get(&self.unknown_node),
            get(&self.malformed),
            get(&self.future_generation),
            get(&self.throttled),
            get(&self.queue_full),
        )
    }
}

/// Warns once per (source address, kind of problem), for at most
/// `MAX_WARNED` (1000) pairs; shared by the receive threads.
#[derive(Debug, Default, Clone)]
pub struct Warnings(Arc<Mutex<BTreeSet<String>>>);

impl Warnings {
    /// Logs `what` about a packet from `from` on `iface` unless already logged.
    pub fn warn(&self, from: SocketAddr, iface: &str, what: &str) {
        let key = format!("{}:{what}", from.ip());
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < MAX_WARNED && seen.insert(key) {
            warn!("dropped packet from {from} on {iface}: {what} (further ones are only counted)");
        }
    }
}

/// A token bucket: `rate` per second, bursts of `rate`.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Budget {
    fn new(rate: f64, now: Instant) -> Self {
        Budget { tokens: rate, rate, last: now }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The judge of one medium's datagrams (one per receive thread).
#[derive(Debug)]
pub struct Intake {
    keys: AuthKeys,
    local: String,
    nodes: Vec<String>,
    guard: ReplayGuard<String>,
    known_address: HashMap<String, IpAddr>,
    budget: Budget,
    counters: Arc<DropCounters>,
    warnings: Warnings,
}

impl Intake {
    /// An intake for node `local` of cluster `nodes`; `seeds` are the
    /// peers' last persisted generations (older ones are replays).
    pub fn new(
        keys: AuthKeys,
        local: &str,
        nodes: &[String],
        seeds: &[(String, u64)],
        counters: Arc<DropCounters>,
        warnings: Warnings,
    ) -> Self {
        let mut guard = ReplayGuard::default();
        for (node, generation) in seeds {
            guard.seed(node.clone(), *generation);
        }
        Intake {
            keys,
            local: local.to_string(),
            nodes: nodes.to_vec(),
            guard,
            known_address: HashMap::new(),
            budget: Budget::new(UNKNOWN_ADDRESS_BUDGET, Instant::now()),
            counters,
            warnings,
        }
    }

    /// The counters this intake adds to.
    pub fn counters(&self) -> &DropCounters {
        &self.counters
    }

    /// Judges a datagram that arrived from `from` on `iface`; the message
    /// when it is authentic and fresh on this link. `unix_now` is the wall
    /// clock in seconds, `now` the monotonic clock.
    pub fn admit(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
        iface: &str,
        now: Instant,
        unix_now: u64,
    ) -> Option<Message> {
        let c = &self.counters;
        let unverified = match Unverified::parse(bytes) {
            Ok(u) => u,
            Err(e) => {
                DropCounters::bump(&c.malformed);
                self.warnings.warn(from, iface, &e.to_string());
                return None;
            }
        };
        let claimed = &unverified.claimed;
        if claimed.src == self.local {
            return None; // our own broadcast
        }
        if !self.nodes.contains(&claimed.src) {
            DropCounters::bump(&c.unknown_node);
            self.warnings.warn(from, iface, &format!("message from unknown node [{}]", claimed.src));
            return None;
        }
        if claimed.generation > unix_now.saturating_add(MAX_GENERATION_LEAD) {
            DropCounters::bump(&c.future_generation);
            self.warnings.warn(from, iface, "future generation (more than a day ahead of the clock)");
            return None;
        }
        if self.guard.peek(&claimed.src, claimed.generation, claimed.seq) != Freshness::Fresh {
            DropCounters::bump(&c.replayed);
            debug!("stale message from {} on {iface} dropped (replayed or duplicate)", claimed.src);
            return None;
        }
        let known = self.known_address.get(&claimed.src) == Some(&from.ip());
        if !known && !self.budget.take(now) {
            DropCounters::bump(&c.throttled);
            self.warnings.warn(from, iface, "too many packets to verify from addresses not known for their sender");
            return None;
        }
        let src = claimed.src.clone();
        let msg = match unverified.verify(&self.keys) {
            Ok(m) => m,
            Err(DropReason::BadAuth) => {
                DropCounters::bump(&c.bad_auth);
                self.warnings.warn(from, iface, "authentication failed");
                return None;
            }
            Err(e) => {
                DropCounters::bump(&c.malformed);
                self.warnings.warn(from, iface, &e.to_string());
                return None;
            }
        };
        self.guard.check(&src, msg.generation, msg.seq);
        self.known_address.insert(src, from.ip());
        Some(msg)
    }
}

/// The wall clock in seconds since the Unix epoch (0 before it).
pub fn unix_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn keys(text: &str) -> AuthKeys {
        AuthKeys::parse(Path::new("authkeys"), text).unwrap().0
    }

    fn intake(seeds: &[(String, u64)]) -> Intake {
        let nodes = vec!["alpha".to_string(), "bravo".to_string()];
        Intake::new(keys("auth 1\n1 sha1 s\n"), "alpha", &nodes, seeds, Arc::default(), Warnings::default())
    }

    fn from(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 694)
    }

    fn status(generation: u64, seq: u64) -> Vec<u8> {
        Message::new("status", "bravo", generation, seq).encode(&keys("auth 1\n1 sha1 s\n"))
    }

    #[test]
    fn replays_future_generations_and_persisted_older_lives_are_dropped() {
        let mut i = intake(&[("bravo".to_string(), NOW - 10)]);
        let t = Instant::now();
        let peer = from("198.18.0.2");
        assert!(i.admit(&status(NOW - 11, 99), peer, "eth0", t, NOW).is_none(), "an older life of bravo");
        assert!(i.admit(&status(NOW + MAX_GENERATION_LEAD + 1, 1), peer, "eth0", t, NOW).is_none());
        assert!(i.admit(&status(u64::MAX - 1, 1), peer, "eth0", t, NOW).is_none());
        assert!(i.admit(&status(NOW - 10, 1), peer, "eth0", t, NOW).is_some(), "the persisted life goes on");
        assert!(i.admit(&status(NOW - 10, 1), peer, "eth0", t, NOW).is_none(), "duplicate");
        assert!(i.admit(&status(NOW + 5, 1), peer, "eth0", t, NOW).is_some(), "a restart");
        let s = i.counters().summary();
        assert_eq!(s, "bad-auth 0 replayed 2 unknown-node 0 malformed 0 future-generation 2 throttled 0 queue-full 0");
    }

    #[test]
    fn a_flood_from_an_unknown_address_is_throttled_but_the_known_peer_is_always_verified() {
        let mut i = intake(&[]);
        let t = Instant::now();
        let peer = from("198.18.0.2");
        assert!(i.admit(&status(NOW, 1), peer, "eth0", t, NOW).is_some());
        let wrong = keys("auth 1\n1 sha1 wrong\n");
        for seq in 0..1000 {
            let forged = Message::new("status", "bravo", NOW, 10 + seq).encode(&wrong);
            assert!(i.admit(&forged, from("198.18.0.66"), "eth0", t, NOW).is_none());
        }
        let count = |i: &Intake, c: fn(&DropCounters) -> &AtomicU64| c(i.counters()).load(Ordering::Relaxed);
        assert_eq!(count(&i, |c| &c.bad_auth), 49, "bravo's first packet took one check");
        assert_eq!(count(&i, |c| &c.throttled), 951);
        assert!(i.admit(&status(NOW, 2), peer, "eth0", t, NOW).is_some(), "bravo still heard");
        // The budget refills with time.
        let forged = Message::new("status", "bravo", NOW, 5000).encode(&wrong);
        assert!(i.admit(&forged, from("198.18.0.66"), "eth0", t + Duration::from_secs(1), NOW).is_none());
        assert_eq!(count(&i, |c| &c.bad_auth), 50);
    }
}
