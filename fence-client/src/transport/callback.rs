//! The callback port of `fence_xvm`: the daemon connects back to it, and
//! so can anyone else who reaches it. No single connection may end the run:
//! every accepted connection is served on its own task until the deadline,
//! and the first one that yields a trustworthy answer wins.
//!
//! With challenge/response on (`-C sha1|sha256|sha512`, the default), a
//! connection is trusted once the peer answered the client's challenge,
//! which needs the key; one that fails it (garbage, a wrong answer, closes,
//! stalls) is dropped and counted, and the client keeps waiting. Once a peer
//! has proven it holds the key, its outcome is final, as in the original.
//!
//! With `-C none` nothing tells the daemon from anyone else: **the answer is
//! unauthenticated**, and whoever reaches the callback port first with a
//! well-formed result byte decides what the client reports. The client
//! only drops connections that close without an answer or send a byte that
//! is no result code. It does not filter by source address: the daemon may
//! be any host that received the multicast request, so no address rule
//! could tell it from an attacker on the same network while it would break
//! real set-ups. Use challenge/response wherever the guest's callback port
//! is reachable by others.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use protocol::ResultCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::{sleep_until, Instant};

use super::{answer_and_read, read_answer, verify_daemon, Answer, Credentials, TransportError};
use keys::HashAlgorithm;

/// Connections served at once; beyond that the oldest one whose peer has
/// not proven to be the daemon is dropped for the newcomer.
pub const MAX_PENDING: usize = 8;

/// How a served connection ended.
enum Outcome {
    /// The run's answer (or the proven daemon's failure): final.
    Final(Result<Answer, TransportError>),
    /// Not the daemon, or not trustworthy: dropped.
    Dropped(String),
}

/// Serves one callback connection.
async fn serve(mut stream: TcpStream, creds: Credentials, deadline: Instant, proven: Arc<AtomicBool>) -> Outcome {
    if creds.auth == HashAlgorithm::None {
        return match read_answer(&mut stream, deadline).await {
            Ok(Some(Answer::Result(ResultCode::Other(byte)))) => {
                Outcome::Dropped(format!("sent {byte:#04x}, which is no result code"))
            }
            Ok(Some(answer)) => Outcome::Final(Ok(answer)),
            Ok(None) => Outcome::Dropped("closed without an answer".into()),
            Err(e) => Outcome::Dropped(e.to_string()),
        };
    }
    if let Err(e) = verify_daemon(&mut stream, &creds, deadline).await {
        return Outcome::Dropped(e.to_string());
    }
    proven.store(true, Ordering::Relaxed);
    Outcome::Final(answer_and_read(&mut stream, &creds, deadline).await)
}

/// One connection being served.
struct Pending {
    id: Id,
    abort: AbortHandle,
    proven: Arc<AtomicBool>,
}

/// The accepted connections of one run.
pub struct Callbacks {
    tasks: JoinSet<(SocketAddr, Outcome)>,
    pending: VecDeque<Pending>,
    creds: Credentials,
    deadline: Instant,
    debug: u32,
    dropped: usize,
    last_dropped: Option<String>,
}

impl Callbacks {
    /// No connections yet; each will be served until `deadline`.
    pub fn new(creds: &Credentials, deadline: Instant, debug: u32) -> Self {
        Callbacks {
            tasks: JoinSet::new(),
            pending: VecDeque::new(),
            creds: creds.clone(),
            deadline,
            debug,
            dropped: 0,
            last_dropped: None,
        }
    }

    /// True once a peer answered the client's challenge: the daemon has
    /// the request, so sending more rounds is pointless.
    pub fn daemon_proven(&self) -> bool {
        self.pending.iter().any(|p| p.proven.load(Ordering::Relaxed))
    }

    /// Starts serving an accepted connection, dropping the oldest unproven
    /// one when [`MAX_PENDING`] are being served.
    pub fn add(&mut self, stream: TcpStream, peer: SocketAddr) {
        if self.debug > 0 {
            eprintln!("Callback from {peer}");
        }
        if self.pending.len() >= MAX_PENDING {
            if let Some(i) = self.pending.iter().position(|p| !p.proven.load(Ordering::Relaxed)) {
                let old = self.pending.remove(i).expect("index in range");
                old.abort.abort();
                self.note_dropped(format!("dropped for a newer connection ({MAX_PENDING} already open)"));
            } else {
                self.note_dropped(format!("connection from {peer} refused: {MAX_PENDING} proven daemons busy"));
                return;
            }
        }
        let proven = Arc::new(AtomicBool::new(false));
        let task = serve(stream, self.creds.clone(), self.deadline, proven.clone());
        let abort = self.tasks.spawn(async move { (peer, task.await) });
        self.pending.push_back(Pending { id: abort.id(), abort, proven });
    }

    /// Waits for the next connection to finish: `Some` with the run's
    /// result when it was final, `None` when it was dropped (or when no
    /// connection is open: then this waits until `deadline`).
    pub async fn next(&mut self) -> Option<Result<Answer, TransportError>> {
        let Some(joined) = self.tasks.join_next_with_id().await else {
            sleep_until(self.deadline).await;
            return None;
        };
        let (id, (peer, outcome)) = match joined {
            Ok((id, done)) => (id, done),
            Err(e) => {
                self.pending.retain(|p| p.id != e.id());
                return None;
            }
        };
        self.pending.retain(|p| p.id != id);
        match outcome {
            Outcome::Final(result) => Some(result),
            Outcome::Dropped(why) => {
                self.note_dropped(format!("callback from {peer} dropped: {why}"));
                None
            }
        }
    }

    fn note_dropped(&mut self, what: String) {
        if self.debug > 0 {
            eprintln!("{what}");
        }
        self.dropped += 1;
        self.last_dropped = Some(what);
    }

    /// One line for the end of the run when connections were dropped.
    pub fn summary(&self) -> Option<String> {
        self.last_dropped.as_ref().map(|last| {
            format!("{} callback connection(s) were not the daemon and were dropped (last: {last})", self.dropped)
        })
    }
}

/// Accepts on `listener` until a final answer or `deadline`, calling
/// `round` whenever `next_round` is due and no daemon has proven itself;
/// `round` returns when the next round is due.
pub async fn collect(
    listener: &TcpListener,
    callbacks: &mut Callbacks,
    deadline: Instant,
    mut round: impl FnMut() -> Instant,
) -> Result<Answer, TransportError> {
    let mut next_round = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(TransportError::NoCallback);
        }
        if now >= next_round && !callbacks.daemon_proven() {
            next_round = round();
        }
        let wake = if callbacks.daemon_proven() { deadline } else { next_round.min(deadline) };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => callbacks.add(stream, peer),
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather
                    // than spin; connections already open keep being served.
                    if callbacks.debug > 0 {
                        eprintln!("accept failed: {e}");
                    }
                    tokio::select! {
                        _ = sleep_until(wake) => {}
                        result = callbacks.next() => if let Some(r) = result { return r },
                    }
                }
            },
            result = callbacks.next() => if let Some(r) = result { return r },
            _ = sleep_until(wake) => {}
        }
    }
}
