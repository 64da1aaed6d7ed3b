//! The request history: duplicates, replays and retries.
//!
//! * **Duplicates.** The stock client repeats its request every round until
//!   a daemon calls back, with fresh random bytes in every copy. Copies of
//!   one *logical* request (operation, seqno, domain ignoring case — the
//!   original's rule) are not acted on twice while it is served, nor within
//!   [`HISTORY_WINDOW`] after it was answered.
//! * **Replays.** Every copy ever received is remembered (bounded, oldest
//!   forgotten first) by its content, which the signature covers. A copy of
//!   a request that was executed is never executed again, however late it
//!   comes — a captured request replayed later would otherwise be answered
//!   by any `fence_xvm` then running at its callback address, since a client
//!   cannot tell which request the daemon serves.
//! * **Retries.** A request whose callback or authentication failed was not
//!   executed; its sender's retransmissions may try again, but only within
//!   [`RETRY_WINDOW`] of its first copy, and (multicast) only once the
//!   callback address's back-off (doubling from [`BACKOFF_FIRST`] to [`BACKOFF_MAX`]
//!   per consecutive failure) has run out.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use plugins::listener::backoff::Backoff;
use protocol::Request;

/// How long an answered request is remembered as a duplicate (the
/// original's 10 s).
pub const HISTORY_WINDOW: Duration = Duration::from_secs(10);
/// How long after its first copy a request whose callback failed may still
/// be retried (the stock client gives up after 30 s by default).
pub const RETRY_WINDOW: Duration = Duration::from_secs(60);
/// How long a failed request is remembered, so its retransmissions past
/// the retry window are recognised as stale.
pub const FAILED_MEMORY: Duration = Duration::from_secs(600);
/// Copies remembered for replay detection (about 16 bytes each).
pub const COPY_CAPACITY: usize = 65_536;
/// Logical requests remembered at most (in flight, answered, failed).
pub const LOGICAL_CAPACITY: usize = 16_384;
/// First back-off after a failed callback to an address.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// Longest back-off.
pub const BACKOFF_MAX: Duration = Duration::from_secs(16);
/// Callback addresses whose back-off is tracked at most.
const BACKOFF_CAPACITY: usize = 4096;

/// What the history says about a newly received request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Admit,
    /// Another copy of a request being served or just answered.
    Duplicate,
    /// A copy of a request that was already executed.
    Replay,
    /// A retry of a failed request past its retry window.
    Stale,
    /// Callbacks to this address failed recently; try again after this long.
    BackingOff(Duration),
    /// The history is full of requests still in their windows.
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Logical {
    operation: u8,
    seqno: u32,
    domain: String,
}

impl Logical {
    fn of(request: &Request) -> Self {
        Logical {
            operation: request.operation.code(),
            seqno: request.seqno,
            domain: request.domain.to_ascii_lowercase(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    InFlight { first_seen: Instant, copies: Vec<u64> },
    Answered(Instant),
    Failed { first_seen: Instant, copies: Vec<u64> },
}

#[derive(Debug, Clone, Copy)]
struct Copy {
    first_seen: Instant,
    executed: bool,
}

/// Back-off of one callback address: waits doubling per consecutive failure.
#[derive(Debug, Clone, Copy)]
struct AddressBackoff {
    waits: Backoff,
    until: Instant,
}

/// Requests in flight, recently answered, failed, and every copy seen.
#[derive(Debug, Default)]
pub struct History {
    hasher: RandomState,
    logical: HashMap<Logical, State>,
    copies: HashMap<u64, Copy>,
    copy_order: VecDeque<u64>,
    backoff: HashMap<String, AddressBackoff>,
}

impl History {
    /// Identity of one copy: every field the signature covers except the
    /// signature itself (with a key, equal content means equal signature).
    fn copy_id(&self, request: &Request) -> u64 {
        let mut h = self.hasher.build_hasher();
        request.operation.code().hash(&mut h);
        request.hash.hash(&mut h);
        request.flags.hash(&mut h);
        request.domain.hash(&mut h);
        request.callback.hash(&mut h);
        request.random.hash(&mut h);
        request.seqno.hash(&mut h);
        h.finish()
    }

    fn expire(&mut self, now: Instant) {
        self.logical.retain(|_, s| match s {
            State::InFlight { .. } => true,
            State::Answered(at) => now.duration_since(*at) < HISTORY_WINDOW,
            State::Failed { first_seen, .. } => now.duration_since(*first_seen) < FAILED_MEMORY,
        });
        // Consecutive failures are forgotten after a quiet spell.
        self.backoff.retain(|_, b| now < b.until + BACKOFF_MAX);
    }

    fn remember_copy(&mut self, id: u64, now: Instant, executed: bool) {
        if let Some(c) = self.copies.get_mut(&id) {
            c.executed |= executed;
            return;
        }
        if self.copy_order.len() >= COPY_CAPACITY {
            if let Some(oldest) = self.copy_order.pop_front() {
                self.copies.remove(&oldest);
            }
        }
        self.copies.insert(id, Copy { first_seen: now, executed });
        self.copy_order.push_back(id);
    }

    /// Decides about a request from `requester` (the callback address or
    /// peer); on [`Verdict::Admit`] it is recorded as in flight.
    pub fn begin(&mut self, request: &Request, requester: &str, now: Instant) -> Verdict {
        self.expire(now);
        let id = self.copy_id(request);
        if let Some(copy) = self.copies.get(&id) {
            if copy.executed {
                return Verdict::Replay;
            }
            if now.duration_since(copy.first_seen) >= RETRY_WINDOW {
                return Verdict::Stale;
            }
        }
        let key = Logical::of(request);
        let first_seen = match self.logical.get_mut(&key) {
            Some(State::InFlight { copies, .. }) => {
                if !copies.contains(&id) {
                    copies.push(id);
                }
                self.remember_copy(id, now, false);
                return Verdict::Duplicate;
            }
            Some(State::Answered(_)) => {
                self.remember_copy(id, now, true);
                return Verdict::Duplicate;
            }
            Some(State::Failed { first_seen, .. }) if now.duration_since(*first_seen) >= RETRY_WINDOW => {
                return Verdict::Stale;
            }
            Some(State::Failed { first_seen, .. }) => *first_seen,
            None => now,
        };
        if let Some(b) = self.backoff.get(requester) {
            if b.until > now {
                return Verdict::BackingOff(b.until - now);
            }
        }
        if !self.logical.contains_key(&key) && self.logical.len() >= LOGICAL_CAPACITY {
            // Failed requests past their retry window only serve to call
            // later retries stale; they give way to new requests.
            self.logical.retain(|_, s| {
                !matches!(s, State::Failed { first_seen, .. } if now.duration_since(*first_seen) >= RETRY_WINDOW)
            });
            if self.logical.len() >= LOGICAL_CAPACITY {
                return Verdict::Full;
            }
        }
        let mut copies = match self.logical.remove(&key) {
            Some(State::Failed { copies, .. }) => copies,
            _ => Vec::new(),
        };
        if !copies.contains(&id) {
            copies.push(id);
        }
        self.remember_copy(id, now, false);
        self.logical.insert(key, State::InFlight { first_seen, copies });
        Verdict::Admit
    }

    /// The request was executed and answered: every copy seen of it is
    /// never executed again; the sender's back-off is cleared.
    pub fn answered(&mut self, request: &Request, requester: &str, now: Instant) {
        let key = Logical::of(request);
        if let Some(State::InFlight { copies, .. }) = self.logical.get(&key) {
            for id in copies.clone() {
                self.remember_copy(id, now, true);
            }
        }
        let id = self.copy_id(request);
        self.remember_copy(id, now, true);
        self.logical.insert(key, State::Answered(now));
        self.backoff.remove(requester);
    }

    /// The request was abandoned before it was executed (callback or
    /// authentication failed): retransmissions may retry within the retry
    /// window, after the requester's back-off.
    pub fn abandoned(&mut self, request: &Request, requester: &str, now: Instant) {
        let key = Logical::of(request);
        if let Some(State::InFlight { first_seen, copies }) = self.logical.remove(&key) {
            self.logical.insert(key, State::Failed { first_seen, copies });
        }
        // Back-off guards callback addresses (the daemon connects to them);
        // a connection-based peer only ever costs its own connection.
        if request.callback.is_none() {
            return;
        }
        if self.backoff.len() >= BACKOFF_CAPACITY && !self.backoff.contains_key(requester) {
            return;
        }
        let entry = self
            .backoff
            .entry(requester.to_string())
            .or_insert(AddressBackoff { waits: Backoff::new(BACKOFF_FIRST, BACKOFF_MAX), until: now });
        entry.until = now + entry.waits.failed();
    }

    /// Number of remembered logical requests.
    pub fn len(&self) -> usize {
        self.logical.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.logical.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::HashAlgorithm;
    use protocol::Operation;

    const A: &str = "198.18.0.2";
    const B: &str = "198.18.0.3";

    fn req(domain: &str, seqno: u32, random: u8) -> Request {
        let mut r = Request::new(Operation::Reboot, domain, HashAlgorithm::Sha256);
        r.callback = Some("198.18.0.2:1229".parse().unwrap());
        r.seqno = seqno;
        r.random = [random; 6];
        r
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn copies_of_one_request_are_served_once() {
        let mut h = History::default();
        let t0 = Instant::now();
        assert_eq!(h.begin(&req("vm1", 5, 1), A, t0), Verdict::Admit);
        assert_eq!(h.begin(&req("VM1", 5, 2), A, t0), Verdict::Duplicate, "domain compared ignoring case");
        assert_eq!(h.begin(&req("vm1", 6, 3), A, t0), Verdict::Admit, "another seqno is another request");
        h.answered(&req("vm1", 5, 1), A, t0);
        assert_eq!(h.begin(&req("vm1", 5, 4), A, t0 + secs(9.5)), Verdict::Duplicate);
    }

    #[test]
    fn an_executed_request_is_never_executed_again() {
        let mut h = History::default();
        let t0 = Instant::now();
        assert_eq!(h.begin(&req("vm1", 5, 1), A, t0), Verdict::Admit);
        assert_eq!(h.begin(&req("vm1", 5, 2), A, t0 + secs(1.0)), Verdict::Duplicate, "a retransmission");
        h.answered(&req("vm1", 5, 1), A, t0 + secs(1.5));
        for later in [11.0, 600.0, 86_400.0] {
            assert_eq!(h.begin(&req("vm1", 5, 1), A, t0 + secs(later)), Verdict::Replay, "at +{later} s");
            assert_eq!(h.begin(&req("vm1", 5, 2), B, t0 + secs(later)), Verdict::Replay, "other copy, at +{later} s");
        }
        assert_eq!(h.begin(&req("vm1", 5, 9), A, t0 + secs(11.0)), Verdict::Admit, "a fresh request");
    }

    #[test]
    fn failed_requests_retry_within_the_window_after_back_off() {
        let mut h = History::default();
        let t0 = Instant::now();
        assert_eq!(h.begin(&req("vm1", 1, 1), A, t0), Verdict::Admit);
        h.abandoned(&req("vm1", 1, 1), A, t0);
        assert_eq!(h.begin(&req("vm1", 1, 2), A, t0 + secs(0.5)), Verdict::BackingOff(secs(0.5)));
        assert_eq!(h.begin(&req("vm1", 7, 7), B, t0 + secs(0.5)), Verdict::Admit, "back-off is per address");
        assert_eq!(h.begin(&req("vm1", 1, 2), A, t0 + secs(1.0)), Verdict::Admit);
        h.abandoned(&req("vm1", 1, 2), A, t0 + secs(1.0));
        assert_eq!(h.begin(&req("vm1", 1, 3), A, t0 + secs(2.5)), Verdict::BackingOff(secs(0.5)), "2 s the 2nd time");
        assert_eq!(h.begin(&req("vm1", 1, 3), A, t0 + secs(3.0)), Verdict::Admit);
        h.abandoned(&req("vm1", 1, 3), A, t0 + secs(3.0));
        // Past the retry window: neither a retransmission nor a replayed copy.
        assert_eq!(h.begin(&req("vm1", 1, 4), A, t0 + secs(61.0)), Verdict::Stale, "a late retransmission");
        assert_eq!(h.begin(&req("vm1", 1, 1), A, t0 + secs(61.0)), Verdict::Stale, "a copy seen 61 s ago");
        let mut h = History::default();
        assert_eq!(h.begin(&req("vm1", 2, 1), A, t0), Verdict::Admit);
        h.abandoned(&req("vm1", 2, 1), A, t0);
        assert_eq!(h.begin(&req("vm1", 2, 5), A, t0 + secs(59.0)), Verdict::Admit, "within the window");
        h.abandoned(&req("vm1", 2, 5), A, t0 + secs(59.0));
        assert_eq!(h.begin(&req("vm1", 2, 1), A, t0 + secs(60.5)), Verdict::Stale);
    }

    #[test]
    fn success_clears_the_back_off_and_backoff_is_capped() {
        let mut h = History::default();
        let t0 = Instant::now();
        let mut t = t0;
        for i in 0..10u8 {
            assert_eq!(h.begin(&req("vm1", u32::from(i), i), A, t), Verdict::Admit, "attempt {i}");
            h.abandoned(&req("vm1", u32::from(i), i), A, t);
            t += BACKOFF_MAX;
        }
        assert_eq!(h.begin(&req("vm1", 100, 100), A, t), Verdict::Admit, "back-off never exceeds the maximum");
        h.answered(&req("vm1", 100, 100), A, t);
        assert_eq!(h.begin(&req("vm1", 101, 101), A, t), Verdict::Admit, "cleared by a success");
    }

    #[test]
    fn connection_requests_have_no_back_off() {
        let mut h = History::default();
        let t0 = Instant::now();
        let mut r = req("vm1", 1, 1);
        r.callback = None;
        assert_eq!(h.begin(&r, A, t0), Verdict::Admit);
        h.abandoned(&r, A, t0);
        let mut next = req("vm1", 2, 2);
        next.callback = None;
        assert_eq!(h.begin(&next, A, t0), Verdict::Admit, "a TCP peer that failed once may try again at once");
    }

    #[test]
    fn memory_is_bounded() {
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..(COPY_CAPACITY as u32 + 10) {
            let mut r = req("vm", i, 0);
            r.random = [(i >> 16) as u8, (i >> 8) as u8, i as u8, 1, 2, 3];
            h.remember_copy(h.copy_id(&r), t0, true);
        }
        assert_eq!(h.copies.len(), COPY_CAPACITY);
        assert_eq!(h.copy_order.len(), COPY_CAPACITY);
    }
}
