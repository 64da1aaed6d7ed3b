//! The duplicate-request history: the stock client repeats its request
//! until answered, so the same request (operation, seqno, domain ignoring
//! case) seen while it is being served, or within the window after it was
//! answered, is not acted on twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use protocol::Request;

/// How long an answered request is remembered (the original's 10 s).
pub const HISTORY_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Fingerprint {
    operation: u8,
    seqno: u32,
    domain: String,
}

impl Fingerprint {
    fn of(request: &Request) -> Self {
        Fingerprint {
            operation: request.operation.code(),
            seqno: request.seqno,
            domain: request.domain.to_ascii_lowercase(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    InFlight,
    Answered(Instant),
}

/// Requests in flight and recently answered.
#[derive(Debug, Default)]
pub struct History {
    entries: HashMap<Fingerprint, Entry>,
}

impl History {
    fn expire(&mut self, now: Instant) {
        self.entries.retain(|_, e| match e {
            Entry::InFlight => true,
            Entry::Answered(at) => now.duration_since(*at) < HISTORY_WINDOW,
        });
    }

    /// Marks the request in flight; false if it is a duplicate.
    pub fn begin(&mut self, request: &Request, now: Instant) -> bool {
        self.expire(now);
        let key = Fingerprint::of(request);
        if self.entries.contains_key(&key) {
            return false;
        }
        self.entries.insert(key, Entry::InFlight);
        true
    }

    /// The request was answered: remember it for the window.
    pub fn answered(&mut self, request: &Request, now: Instant) {
        self.entries.insert(Fingerprint::of(request), Entry::Answered(now));
    }

    /// The request was abandoned before it was served (callback or
    /// authentication failed): forget it so a retransmission may try again.
    pub fn abandoned(&mut self, request: &Request) {
        let key = Fingerprint::of(request);
        if self.entries.get(&key) == Some(&Entry::InFlight) {
            self.entries.remove(&key);
        }
    }

    /// Number of remembered requests.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::HashAlgorithm;
    use protocol::Operation;

    fn req(domain: &str, seqno: u32) -> Request {
        let mut r = Request::new(Operation::Reboot, domain, HashAlgorithm::Sha256);
        r.seqno = seqno;
        r
    }

    #[test]
    fn duplicates_are_refused_while_in_flight_and_within_the_window() {
        let mut h = History::default();
        let t0 = Instant::now();
        assert!(h.begin(&req("vm1", 5), t0));
        assert!(!h.begin(&req("VM1", 5), t0), "domain compared ignoring case");
        assert!(h.begin(&req("vm1", 6), t0), "another seqno is another request");
        h.answered(&req("vm1", 5), t0);
        assert!(!h.begin(&req("vm1", 5), t0 + Duration::from_millis(9_500)));
        assert!(h.begin(&req("vm1", 5), t0 + Duration::from_millis(10_500)));
    }

    #[test]
    fn abandoned_requests_may_be_retried() {
        let mut h = History::default();
        let t0 = Instant::now();
        assert!(h.begin(&req("vm1", 1), t0));
        h.abandoned(&req("vm1", 1));
        assert!(h.begin(&req("vm1", 1), t0));
        h.answered(&req("vm1", 1), t0);
        h.abandoned(&req("vm1", 1));
        assert!(!h.begin(&req("vm1", 1), t0), "an answered request stays remembered");
    }
}
