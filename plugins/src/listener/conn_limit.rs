//! Caps on what peers hold at once, in total and per peer: open TCP
//! connections per address (a slot is taken right after `accept`), and the
//! dispatcher's requests per requester. A slot is given back when its
//! [`Slot`] is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections held at once in total, at most (lowered to fit the open-file limit).
pub const MAX_CONNECTIONS: usize = 512;
/// Connections held at once from one peer address.
pub const MAX_PER_PEER: usize = 8;
/// File descriptors kept free for everything else (backend, callbacks, logs).
const RESERVED_FDS: u64 = 64;

/// Why a connection was refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// All slots are taken.
    Total(usize),
    /// The peer holds its share already.
    Peer(usize),
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Full::Total(n) => write!(f, "{n} connections open (the limit)"),
            Full::Peer(n) => write!(f, "{n} connections open from this address (the limit)"),
        }
    }
}

/// Counts what each peer (keyed by `K`: an address, a requester identity)
/// holds.
#[derive(Debug)]
pub struct ConnectionLimits<K: Eq + Hash + Clone = IpAddr> {
    total_cap: usize,
    per_peer_cap: usize,
    open: Mutex<Open<K>>,
}

#[derive(Debug)]
struct Open<K> {
    total: usize,
    per_peer: HashMap<K, usize>,
}

impl<K> Default for Open<K> {
    fn default() -> Self {
        Open { total: 0, per_peer: HashMap::new() }
    }
}

/// One taken slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot<K: Eq + Hash + Clone = IpAddr> {
    limits: Arc<ConnectionLimits<K>>,
    peer: K,
}

impl ConnectionLimits<IpAddr> {
    /// The default caps, the total lowered so that connections can never
    /// use more than half of the process's open-file limit.
    pub fn for_this_process() -> Arc<Self> {
        let fd_share = match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
            Ok((soft, _)) => soft.saturating_sub(RESERVED_FDS) / 2,
            Err(_) => MAX_CONNECTIONS as u64,
        };
        let total = MAX_CONNECTIONS.min(usize::try_from(fd_share).unwrap_or(MAX_CONNECTIONS));
        Self::new(total, MAX_PER_PEER)
    }
}

impl<K: Eq + Hash + Clone> ConnectionLimits<K> {
    /// Limits with the given caps (each at least 1).
    pub fn new(total_cap: usize, per_peer_cap: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            total_cap: total_cap.max(1),
            per_peer_cap: per_peer_cap.max(1),
            open: Mutex::default(),
        })
    }

    /// The total cap in force.
    pub fn total_cap(&self) -> usize {
        self.total_cap
    }

    /// Takes a slot for a connection from `peer`, or says which cap is reached.
    pub fn take(self: &Arc<Self>, peer: K) -> Result<Slot<K>, Full> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.total_cap {
            return Err(Full::Total(open.total));
        }
        let from_peer = open.per_peer.entry(peer.clone()).or_default();
        if *from_peer >= self.per_peer_cap {
            return Err(Full::Peer(*from_peer));
        }
        *from_peer += 1;
        open.total += 1;
        Ok(Slot { limits: self.clone(), peer })
    }
}

impl<K: Eq + Hash + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.per_peer.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_peer_and_in_total_and_frees_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "198.18.0.1".parse().unwrap();
        let b: IpAddr = "198.18.0.2".parse().unwrap();
        let c: IpAddr = "198.18.0.3".parse().unwrap();
        let a1 = limits.take(a).unwrap();
        let _a2 = limits.take(a).unwrap();
        assert_eq!(limits.take(a).unwrap_err(), Full::Peer(2));
        let _b1 = limits.take(b).unwrap();
        assert_eq!(limits.take(c).unwrap_err(), Full::Total(3));
        drop(a1);
        let _c1 = limits.take(c).unwrap();
        assert_eq!(limits.take(a).unwrap_err(), Full::Total(3));
    }

    #[test]
    fn the_total_fits_the_open_file_limit() {
        let limits = ConnectionLimits::for_this_process();
        let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert!(limits.total_cap() as u64 <= soft / 2 || limits.total_cap() == 1);
        assert!(limits.total_cap() <= MAX_CONNECTIONS);
    }
}
