//! One owner per hypervisor URI: the only holder of that URI's connection.
//!
//! Calls borrow the connection through [`Owner::run`] (on the backend's
//! worker threads, so calls for different domains run side by side and a
//! hung libvirtd costs one worker per hung call). A connection found dead is
//! reopened here and nowhere else, once per failure: calls that saw the same
//! dead connection find it already replaced (its generation moved on) and
//! simply retry on the new one. The connection is never cloned; the last
//! call still using a replaced one closes it ([`Link`]'s `Drop`).

use std::sync::{Arc, Mutex, MutexGuard};

use virt::connect::Connect;

use super::events::Board;
use super::link::Link;
use crate::backend::BackendError;

/// The owner of one URI's connection.
pub(super) struct Owner {
    uri: String,
    board: Arc<Board>,
    current: Mutex<Current>,
}

/// The connection in use and how many times it has been replaced.
struct Current {
    generation: u64,
    /// `None` after a reopen failed; the next call tries again.
    link: Option<Arc<Link>>,
}

/// What a call sees of the owner while it runs: the connection's
/// lifecycle-event registration.
pub(super) struct Session<'a> {
    link: &'a Link,
    board: &'a Board,
}

impl Session<'_> {
    /// Whether lifecycle events of this connection reach the board.
    pub(super) fn has_events(&self) -> bool {
        self.link.has_events()
    }

    /// The board the connection's lifecycle events go to.
    pub(super) fn board(&self) -> &Board {
        self.board
    }
}

/// The error for hypervisors that could not be reached; `errors` are
/// `uri: message` each.
pub(super) fn unreachable(errors: &[String]) -> BackendError {
    BackendError::Unavailable(if errors.is_empty() {
        "no libvirt uri configured".to_string()
    } else {
        format!("could not connect to any hypervisor ({})", errors.join("; "))
    })
}

impl Owner {
    /// Opens `uri`. The error is `uri: libvirt's message`.
    pub(super) fn open(uri: &str, board: Arc<Board>) -> Result<Owner, String> {
        let link = Link::open(uri, &board)?;
        Ok(Owner {
            uri: uri.to_string(),
            board,
            current: Mutex::new(Current { generation: 0, link: Some(Arc::new(link)) }),
        })
    }

    fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection to use now and its generation; reopened first if the
    /// last reopen failed.
    fn borrow(&self) -> Result<(u64, Arc<Link>), BackendError> {
        let mut current = self.current();
        if current.link.is_none() {
            let link = Link::open(&self.uri, &self.board).map_err(|e| unreachable(&[e]))?;
            current.generation += 1;
            current.link = Some(Arc::new(link));
        }
        Ok((current.generation, current.link.clone().expect("opened above")))
    }

    /// Runs `f` on the connection, and once more after reopening it if the
    /// call failed and the connection turns out dead (e.g. libvirtd
    /// restarted), so the request is not lost.
    pub(super) fn run<T>(&self, f: impl Fn(&Session, &Connect) -> Result<T, BackendError>) -> Result<T, BackendError> {
        let (generation, link) = self.borrow()?;
        let attempt = |link: &Link| f(&Session { link, board: &self.board }, link.connect());
        match attempt(&link) {
            Err(e @ (BackendError::Failed { .. } | BackendError::NotFound(_) | BackendError::Unavailable(_))) => {
                drop(link);
                match self.replace_if_dead(generation).map_err(|e| unreachable(&[e]))? {
                    Some(fresh) => attempt(&fresh),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// Whether the connection is open and alive.
    pub(super) fn is_alive(&self) -> bool {
        self.current().link.as_ref().is_some_and(|link| link.is_alive())
    }

    /// Reopens the connection if it is dead. Returns whether it did; the
    /// error is `uri: message`.
    pub(super) fn reopen_if_dead(&self) -> Result<bool, String> {
        let generation = self.current().generation;
        self.replace_if_dead(generation).map(|fresh| fresh.is_some())
    }

    /// The connection that replaces generation `seen` if that one is dead:
    /// opened here if nobody replaced it yet. `None`: it is alive.
    fn replace_if_dead(&self, seen: u64) -> Result<Option<Arc<Link>>, String> {
        let mut current = self.current();
        if current.generation != seen {
            if let Some(link) = &current.link {
                return Ok(Some(link.clone()));
            }
        } else if current.link.as_ref().is_some_and(|link| link.is_alive()) {
            return Ok(None);
        }
        tracing::warn!("libvirt connection lost; reconnecting");
        current.link = None;
        current.generation += 1;
        let link = Arc::new(Link::open(&self.uri, &self.board)?);
        current.link = Some(link.clone());
        Ok(Some(link))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_failure_on_a_live_connection_is_reported_once_and_keeps_the_connection() {
        let owner = Owner::open("test:///default", Arc::new(Board::default())).unwrap();
        let attempts = AtomicUsize::new(0);
        let result: Result<(), _> = owner.run(|_, _| {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err(BackendError::NotFound("nosuch".into()))
        });
        assert_eq!(result, Err(BackendError::NotFound("nosuch".into())));
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "no retry while the connection lives");
        assert_eq!(owner.reopen_if_dead(), Ok(false));
        assert_eq!(owner.current().generation, 0, "never reopened");
        assert!(owner.is_alive());
    }
}
