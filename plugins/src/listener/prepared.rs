//! Request verification with the key absorbed once per set of credentials:
//! a bogus packet then costs a hash over 176 bytes, not over the whole key
//! (up to 4 KiB). The prepared states follow the shared credentials: a
//! reload swaps the `Arc<ListenerAuth>`, and the next packet rebuilds them.

use std::sync::{Arc, Mutex};

use keys::PreparedKey;
use protocol::{RejectReason, Request};

use super::{current_auth, ListenerAuth, SharedAuth};

/// Credentials with their prepared key.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The credentials the key was prepared from.
    pub auth: Arc<ListenerAuth>,
    key: Arc<PreparedKey>,
}

impl Prepared {
    /// Absorbs the key of `auth`.
    pub fn new(auth: Arc<ListenerAuth>) -> Self {
        let key = Arc::new(PreparedKey::new(&auth.key));
        Prepared { auth, key }
    }

    /// Verifies and decodes a raw request with these credentials.
    pub fn verify(&self, raw: &[u8]) -> Result<Request, RejectReason> {
        Request::verify_and_decode_prepared(raw, &self.key, !self.auth.key.is_empty(), self.auth.hash)
    }
}

/// A listener's shared credentials plus the prepared key of the current ones.
#[derive(Debug)]
pub struct PreparedAuth {
    shared: SharedAuth,
    cache: Mutex<Option<Prepared>>,
}

impl PreparedAuth {
    /// Follows `shared`.
    pub fn new(shared: SharedAuth) -> Self {
        PreparedAuth { shared, cache: Mutex::new(None) }
    }

    /// The current credentials, prepared (rebuilt only when they changed).
    pub fn current(&self) -> Prepared {
        let auth = current_auth(&self.shared);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.as_ref() {
            Some(p) if Arc::ptr_eq(&p.auth, &auth) => p.clone(),
            _ => {
                let fresh = Prepared::new(auth);
                *cache = Some(fresh.clone());
                fresh
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::RwLock;

    use keys::HashAlgorithm;
    use protocol::Operation;

    use super::*;

    fn auth(key: &[u8]) -> Arc<ListenerAuth> {
        Arc::new(ListenerAuth { key: key.to_vec(), hash: HashAlgorithm::Sha256, auth: HashAlgorithm::Sha256 })
    }

    #[test]
    fn follows_a_reload_of_the_shared_credentials() {
        let shared: SharedAuth = Arc::new(RwLock::new(auth(b"old-key")));
        let prepared = PreparedAuth::new(shared.clone());
        let mut request = Request::new(Operation::Status, "vm", HashAlgorithm::Sha256);
        request.callback = Some("198.18.0.2:1229".parse().unwrap());
        let old = request.to_signed_bytes(b"old-key");
        let new = request.to_signed_bytes(b"new-key");
        assert!(prepared.current().verify(&old).is_ok());
        assert!(Arc::ptr_eq(&prepared.current().key, &prepared.current().key), "not rebuilt per packet");
        *shared.write().unwrap() = auth(b"new-key");
        assert_eq!(prepared.current().verify(&old), Err(RejectReason::BadSignature));
        assert!(prepared.current().verify(&new).is_ok());
    }
}
