//! The daemon's ledger of challenges it has sent and not yet retired.
//!
//! The daemon answers the peer's challenge before it challenges the peer
//! (the stock client expects that order). A peer without the key could
//! otherwise open a second session, send the daemon's own challenge from
//! the first session as *its* challenge, and hand the daemon's answer back
//! in the first session ("reflection"). The stock daemon was immune only
//! because it served one session at a time; ours serves many, so every
//! challenge it sends is recorded here until its session has read the
//! answer or given up, and a peer challenge equal to any recorded one is
//! refused — across all sessions and listeners of the process.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use rand::RngCore;

use crate::auth::CHALLENGE_LEN;

/// A challenge as sent on the wire.
pub type Nonce = [u8; CHALLENGE_LEN];

/// Challenges issued and not yet retired.
#[derive(Debug, Default)]
pub struct IssuedChallenges {
    outstanding: Mutex<HashSet<Nonce>>,
}

/// One issued challenge; retired (forgotten) when dropped.
#[derive(Debug)]
pub struct Issued<'a> {
    ledger: &'a IssuedChallenges,
    nonce: Nonce,
}

impl Issued<'_> {
    /// The challenge bytes to send.
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }
}

impl Drop for Issued<'_> {
    fn drop(&mut self) {
        self.ledger.lock().remove(&self.nonce);
    }
}

impl IssuedChallenges {
    /// The ledger shared by every session of this process.
    pub fn process_wide() -> &'static IssuedChallenges {
        static LEDGER: OnceLock<IssuedChallenges> = OnceLock::new();
        LEDGER.get_or_init(IssuedChallenges::default)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Nonce>> {
        self.outstanding.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Draws a fresh random challenge and records it until the returned
    /// guard is dropped.
    pub fn issue(&self) -> Issued<'_> {
        let mut outstanding = self.lock();
        loop {
            let mut nonce = [0u8; CHALLENGE_LEN];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            if outstanding.insert(nonce) {
                return Issued { ledger: self, nonce };
            }
        }
    }

    /// Whether `challenge` is one this process has issued and not retired.
    pub fn is_outstanding(&self, challenge: &Nonce) -> bool {
        self.lock().contains(challenge)
    }

    /// Number of outstanding challenges.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no challenge is outstanding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_challenges_are_outstanding_until_retired() {
        let ledger = IssuedChallenges::default();
        let first = ledger.issue();
        let second = ledger.issue();
        assert_ne!(first.nonce(), second.nonce());
        let copy = *first.nonce();
        assert!(ledger.is_outstanding(&copy));
        assert!(!ledger.is_outstanding(&[7u8; CHALLENGE_LEN]));
        drop(first);
        assert!(!ledger.is_outstanding(&copy), "a retired challenge is forgotten");
        assert_eq!(ledger.len(), 1);
        drop(second);
        assert!(ledger.is_empty());
    }
}
