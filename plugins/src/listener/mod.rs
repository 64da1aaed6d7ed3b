//! Listeners: how requests reach the daemon.
//!
//! A listener verifies each request (signature first, on the fixed-size
//! buffer), asks the [`Dispatch`] whether to take it (history, load bound),
//! then serves it on its own task: connection, challenge/response, the
//! dispatcher's [`Reply`], written back with a deadline. A slow or silent
//! peer only ever costs its own task.

pub mod backoff;
pub mod conn_limit;
pub mod multicast;
pub mod session;
pub mod stats;
pub mod tcp;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use keys::{HashAlgorithm, PreparedKey};
use protocol::{HostRecord, RejectReason, Request, ResultCode};

pub use stats::ListenerStats;

/// A boxed future, as trait objects need.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Who sent a request, for permission checks and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Identity matched against `groups` `ip` entries: the address text
    /// (multicast: the verified callback address; TCP: the peer address).
    pub identity: String,
    /// Network peer, if any.
    pub peer: Option<SocketAddr>,
}

/// The dispatcher's answer to an executed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A result byte.
    Code(ResultCode),
    /// A host list followed by result 0.
    HostList(Vec<HostRecord>),
}

/// A request the dispatcher agreed to serve. Dropping it without
/// [`Admission::complete`] tells the dispatcher the request was abandoned
/// (callback or authentication failed), so a retransmission may try again.
pub struct Admission {
    finish: Option<Box<dyn FnOnce(bool) + Send>>,
}

impl Admission {
    /// Wraps the dispatcher's completion hook; it is called exactly once,
    /// with `true` when the reply was sent and `false` when abandoned.
    pub fn new(finish: impl FnOnce(bool) + Send + 'static) -> Self {
        Admission { finish: Some(Box::new(finish)) }
    }

    /// The reply was delivered.
    pub fn complete(mut self) {
        if let Some(f) = self.finish.take() {
            f(true);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(f) = self.finish.take() {
            f(false);
        }
    }
}

/// Why the dispatcher declined a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    /// The same request is being served or was served recently.
    Duplicate,
    /// Too many requests in flight.
    Busy,
}

/// What listeners hand verified requests to (the daemon's dispatcher).
pub trait Dispatch: Send + Sync + 'static {
    /// Called after verification and before any callback or reply.
    fn admit(&self, request: &Request, source: &Source) -> Result<Admission, Declined>;
    /// Called after the peer authenticated; performs the request.
    fn execute(&self, request: Request, source: Source) -> BoxFuture<Reply>;
}

/// Key and algorithms of a listener; replaced as a whole on reload.
///
/// The key is also absorbed once into a hasher state per algorithm
/// ([`PreparedKey`]) when the credentials are built, so verifying a bogus
/// packet costs a hash over 176 bytes, not over the whole key (up to 4 KiB).
#[derive(Debug, Clone)]
pub struct ListenerAuth {
    /// Key bytes (empty only when both algorithms are `none`).
    pub key: Vec<u8>,
    /// Minimum accepted request signature.
    pub hash: HashAlgorithm,
    /// Challenge/response algorithm.
    pub auth: HashAlgorithm,
    prepared: PreparedKey,
}

impl ListenerAuth {
    /// Credentials from a key and the two algorithms.
    pub fn new(key: Vec<u8>, hash: HashAlgorithm, auth: HashAlgorithm) -> Self {
        let prepared = PreparedKey::new(&key);
        ListenerAuth { key, hash, auth, prepared }
    }

    /// Verifies and decodes a raw request with these credentials.
    pub fn verify(&self, raw: &[u8]) -> Result<Request, RejectReason> {
        Request::verify_and_decode_prepared(raw, &self.prepared, !self.key.is_empty(), self.hash)
    }
}

/// Shared, reloadable listener credentials.
pub type SharedAuth = Arc<RwLock<Arc<ListenerAuth>>>;

/// Reads the current credentials.
pub fn current_auth(auth: &SharedAuth) -> Arc<ListenerAuth> {
    auth.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Per-step network deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Connecting back to a multicast requester.
    pub connect: Duration,
    /// Each challenge/response read or write.
    pub step: Duration,
    /// Reading the 176-byte request on a TCP connection.
    pub request: Duration,
    /// Writing the reply (each write).
    pub reply: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: Duration::from_secs(5),
            step: Duration::from_secs(10),
            request: Duration::from_secs(1),
            reply: Duration::from_secs(10),
        }
    }
}

/// A running listener.
pub trait Listener: Send {
    /// Plugin name.
    fn name(&self) -> &'static str;
    /// Serves requests until an unrecoverable socket error.
    fn serve(self: Box<Self>, dispatch: Arc<dyn Dispatch>) -> BoxFuture<std::io::Result<()>>;
}

#[cfg(test)]
mod tests {
    use protocol::Operation;

    use super::*;

    #[test]
    fn credentials_verify_with_their_own_key_only() {
        let mut request = Request::new(Operation::Status, "vm", HashAlgorithm::Sha256);
        request.callback = Some("198.18.0.2:1229".parse().unwrap());
        let old = request.to_signed_bytes(b"old-key");
        let new = request.to_signed_bytes(b"new-key");
        let before = ListenerAuth::new(b"old-key".to_vec(), HashAlgorithm::Sha256, HashAlgorithm::Sha256);
        assert!(before.verify(&old).is_ok());
        assert_eq!(before.verify(&new), Err(RejectReason::BadSignature));
        // A reload builds new credentials, with their own prepared key.
        let after = ListenerAuth::new(b"new-key".to_vec(), HashAlgorithm::Sha256, HashAlgorithm::Sha256);
        assert_eq!(after.verify(&old), Err(RejectReason::BadSignature));
        assert!(after.verify(&new).is_ok());
    }
}
