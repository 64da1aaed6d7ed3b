//! One owner per hypervisor URI: a thread that holds the connection and
//! serves the calls sent to it, one after another.
//!
//! Callers queue a call with their deadline and wait for its answer only
//! until then; a call whose caller has given up is skipped, and the queue
//! holds at most [`QUEUE_LEN`] live calls. A hung libvirtd therefore hangs
//! this owner's thread and nothing else: calls for other URIs go on, and
//! calls for this one get [`Refusal::NoAnswer`] in time. A connection found
//! dead is reopened here, in [`Session::run`], once per failed call.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

use virt::connect::Connect;

use super::events::Board;
use super::link::Link;
use crate::backend::BackendError;

/// Live calls waiting for one owner, at most; more are refused at once.
pub(super) const QUEUE_LEN: usize = 64;

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// Why a call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The deadline passed before the call finished (or started).
    NoAnswer,
    /// [`QUEUE_LEN`] calls already wait.
    Busy,
}

/// The owner of one URI's connection, as its callers see it. Dropping it
/// lets the thread finish the calls queued and close the connection.
pub(super) struct Owner {
    queue: Arc<Queue>,
}

impl Owner {
    /// Starts the owner of `uri` and waits for its first connection. The
    /// error is `uri: why`.
    pub(super) fn start(uri: &str, board: Arc<Board>) -> Result<Owner, String> {
        let queue = Arc::new(Queue::default());
        let (opened, first) = mpsc::sync_channel(1);
        let (jobs, owned_uri) = (queue.clone(), uri.to_string());
        thread::Builder::new()
            .name("libvirt-owner".into())
            .spawn(move || match Link::open(&owned_uri, &board) {
                Ok(link) => {
                    let _ = opened.send(Ok(()));
                    serve(Session { uri: owned_uri, board, link: Some(link) }, &jobs);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(|e| format!("{uri}: cannot start its thread: {e}"))?;
        first.recv().map_err(|_| format!("{uri}: its thread ended"))??;
        Ok(Owner { queue })
    }

    /// Runs `f` on the owner's thread and waits for its result until
    /// `deadline`.
    pub(super) fn call<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce(&mut Session) -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let (answer, result) = mpsc::sync_channel(1);
        self.queue.push(deadline, Box::new(move |session| drop(answer.send(f(session)))))?;
        result.recv_timeout(deadline.saturating_duration_since(Instant::now())).map_err(|_| Refusal::NoAnswer)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// The calls waiting for an owner, each with its caller's deadline.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    calls: VecDeque<(Instant, Job)>,
    closed: bool,
}

impl Queue {
    fn push(&self, deadline: Instant, job: Job) -> Result<(), Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        state.calls.retain(|(waits_until, _)| *waits_until > now);
        if state.closed {
            return Err(Refusal::NoAnswer);
        }
        if state.calls.len() >= QUEUE_LEN {
            return Err(Refusal::Busy);
        }
        state.calls.push_back((deadline, job));
        self.ready.notify_one();
        Ok(())
    }

    /// The next call whose caller still waits; `None` once closed and empty.
    fn pop(&self) -> Option<Job> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            while let Some((deadline, job)) = state.calls.pop_front() {
                if Instant::now() < deadline {
                    return Some(job);
                }
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }
}

/// The owner's loop: serve calls until the owner is dropped; the session
/// (and with it the connection) ends on this thread.
fn serve(mut session: Session, queue: &Queue) {
    while let Some(job) = queue.pop() {
        job(&mut session);
    }
}

/// The connection as the owner's thread holds it: calls borrow it through
/// [`Session::run`], which also reopens it when it died.
pub(super) struct Session {
    uri: String,
    board: Arc<Board>,
    /// `None` after a reopen failed; the next call tries again.
    link: Option<Link>,
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

impl Session {
    /// Runs `f` on the connection, and once more after reopening it if the
    /// call failed and the connection turns out dead (e.g. libvirtd
    /// restarted), so the request is not lost.
    pub(super) fn run<T>(
        &mut self,
        f: impl Fn(&Session, &Connect) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let first = self.with_link(&f)?;
        match first {
            Err(e @ (BackendError::Failed { .. } | BackendError::NotFound(_) | BackendError::Unavailable(_))) => {
                if self.reopen_if_dead().map_err(|e| unreachable(&[e]))? {
                    self.with_link(&f)?
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Runs `f` on the open connection (reopened first if the last reopen
    /// failed); the outer error is that reopen's.
    fn with_link<T>(
        &mut self,
        f: &impl Fn(&Session, &Connect) -> Result<T, BackendError>,
    ) -> Result<Result<T, BackendError>, BackendError> {
        if self.link.is_none() {
            self.link = Some(Link::open(&self.uri, &self.board).map_err(|e| unreachable(&[e]))?);
        }
        let link = self.link.as_ref().expect("opened above");
        Ok(f(self, link.connect()))
    }

    /// Whether the connection is open and alive.
    pub(super) fn is_alive(&self) -> bool {
        self.link.as_ref().is_some_and(Link::is_alive)
    }

    /// Whether lifecycle events of this connection reach the board.
    pub(super) fn has_events(&self) -> bool {
        self.link.as_ref().is_some_and(Link::has_events)
    }

    /// The board the connection's lifecycle events go to.
    pub(super) fn board(&self) -> &Board {
        &self.board
    }

    /// Reopens the connection if it is dead. Returns whether it did; the
    /// error is `uri: message`.
    pub(super) fn reopen_if_dead(&mut self) -> Result<bool, String> {
        if self.is_alive() {
            return Ok(false);
        }
        tracing::warn!("libvirt connection lost; reconnecting");
        self.link = None;
        self.link = Some(Link::open(&self.uri, &self.board)?);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn abandoned_calls_are_skipped_and_live_ones_are_bounded() {
        let queue = Queue::default();
        let past = Instant::now();
        let later = Instant::now() + Duration::from_secs(60);
        for _ in 0..QUEUE_LEN {
            queue.push(past, Box::new(|_| {})).unwrap();
        }
        // Abandoned calls take no room.
        for _ in 0..QUEUE_LEN {
            queue.push(later, Box::new(|_| {})).unwrap();
        }
        assert_eq!(queue.push(later, Box::new(|_| {})).err(), Some(Refusal::Busy));
        queue.close();
        assert_eq!((0..).take_while(|_| queue.pop().is_some()).count(), QUEUE_LEN);
        assert_eq!(queue.push(later, Box::new(|_| {})).err(), Some(Refusal::NoAnswer), "closed");
    }
}
