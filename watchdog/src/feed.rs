//! The feeding protocol: clients (the heartbeat core, scripts) prove they
//! are alive by sending datagrams to the service's Unix socket.
//!
//! See the crate documentation for the protocol itself. This module has
//! the client ([`Feeder`], [`feed`]), the message parser, and the
//! service side ([`FeedBoard`] records when each name was last fed,
//! [`FeedServer`] receives).

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::sockopt::PassCred;
use nix::sys::socket::{recvmsg, sendto, setsockopt, ControlMessageOwned, MsgFlags, UnixAddr, UnixCredentials};
use nix::sys::stat::{umask, Mode};

use logging::{suppressed_note, RateLimiter};

use crate::clock::{Clock, SystemClock};

/// Time between two warnings about hostile or broken input.
pub const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Longest client name.
pub const MAX_NAME_LEN: usize = 64;
/// Largest datagram the service reads; longer ones are cut.
pub const MAX_DATAGRAM: usize = 1024;

/// Checks a client name: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("`{name}` is longer than {MAX_NAME_LEN} characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("`{name}` contains {c:?}; use letters, digits, '.', '_' and '-'"));
    }
    Ok(())
}

/// One request in a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `feed NAME`: the client NAME is alive.
    Feed(String),
    /// `hello NAME`: may the sender feed as NAME? Answered with a datagram
    /// to the sender's address (see [`Verdict`]); counts as no feed.
    Hello(String),
}

/// Parses a datagram: one message per line; blank lines are skipped.
pub fn parse(datagram: &[u8]) -> Vec<Result<Message, String>> {
    String::from_utf8_lossy(datagram)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words = line.split_ascii_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("feed"), Some(name), None) => check_name(name).map(|()| Message::Feed(name.to_string())),
                (Some("hello"), Some(name), None) => check_name(name).map(|()| Message::Hello(name.to_string())),
                (Some(word @ ("feed" | "hello")), _, _) => Err(format!("`{line}`: expected `{word} NAME`")),
                _ => Err(format!("`{line}`: unknown request")),
            }
        })
        .collect()
}

/// What the service makes of a feed (or a `hello`) from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The name is configured and the sender's uid may feed it.
    Accepted,
    /// No `[[feeder]]` check has that name.
    Unknown,
    /// The name is configured for another user.
    Denied,
}

impl Verdict {
    /// The word of the `hello` answer.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Accepted => "ok",
            Verdict::Unknown => "unknown",
            Verdict::Denied => "denied",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [Verdict::Accepted, Verdict::Unknown, Verdict::Denied].into_iter().find(|v| v.word() == word)
    }
}

/// Why feeding failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The name is not valid.
    #[error("cannot feed: {0}")]
    Name(String),
    /// The service's socket did not take the datagram.
    #[error("cannot feed `{name}` through {}: {source} (is fence-watchdog running?)", socket.display())]
    Send {
        /// The client name.
        name: String,
        /// The socket path.
        socket: PathBuf,
        /// What `sendto` said.
        source: io::Error,
    },
}

/// A client that feeds the service under one name.
#[derive(Debug)]
pub struct Feeder {
    socket: UnixDatagram,
    path: PathBuf,
    name: String,
    message: Vec<u8>,
}

impl Feeder {
    /// A feeder for `name` sending to the service socket at `path`.
    pub fn new(path: impl AsRef<Path>, name: &str) -> Result<Self, FeedError> {
        check_name(name).map_err(FeedError::Name)?;
        let path = path.as_ref().to_path_buf();
        let socket = UnixDatagram::unbound().map_err(|source| FeedError::Send {
            name: name.to_string(),
            socket: path.clone(),
            source,
        })?;
        Ok(Feeder { socket, path, name: name.to_string(), message: format!("feed {name}\n").into_bytes() })
    }

    fn send_error(&self, source: io::Error) -> FeedError {
        FeedError::Send { name: self.name.clone(), socket: self.path.clone(), source }
    }

    /// Sends one `feed NAME` datagram (never blocks for long: the service
    /// reads continuously, and a full queue is an error, not a wait).
    pub fn feed(&self) -> Result<(), FeedError> {
        self.socket.send_to(&self.message, &self.path).map(drop).map_err(|e| self.send_error(e))
    }

    /// Asks the service whether its feeds count: `hello NAME` from a socket
    /// bound in the temporary directory (a file name, not an abstract one:
    /// those do not reach across network namespaces), and waits up to
    /// `wait` for the answer. `None` when none came: a service older than
    /// the `hello` request.
    pub fn hello(&self, wait: Duration) -> Result<Option<Verdict>, FeedError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let reply_path = std::env::temp_dir().join(format!(
            ".fence-watchdog-hello.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // Left over by an earlier process with this pid: only a socket is removed.
        if std::fs::symlink_metadata(&reply_path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&reply_path);
        }
        let socket = UnixDatagram::bind(&reply_path).map_err(|e| self.send_error(e))?;
        struct Remove<'a>(&'a Path);
        impl Drop for Remove<'_> {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(self.0);
            }
        }
        let _remove = Remove(&reply_path);
        socket.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).map_err(|e| self.send_error(e))?;
        socket.send_to(format!("hello {}\n", self.name).as_bytes(), &self.path).map_err(|e| self.send_error(e))?;
        let end = Instant::now() + wait;
        let mut buffer = [0u8; 128];
        while Instant::now() < end {
            match socket.recv(&mut buffer) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    let mut words = text.split_ascii_whitespace();
                    if let (Some(word), Some(name)) = (words.next(), words.next()) {
                        if name == self.name {
                            if let Some(verdict) = Verdict::from_word(word) {
                                return Ok(Some(verdict));
                            }
                        }
                    }
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.send_error(e)),
            }
        }
        Ok(None)
    }
}

/// Sends one `feed NAME` datagram to the socket at `path`.
pub fn feed(path: impl AsRef<Path>, name: &str) -> Result<(), FeedError> {
    Feeder::new(path, name)?.feed()
}

#[derive(Debug)]
struct Client {
    uid: u32,
    last: Instant,
}

/// When each configured client was last fed (service start counts as a
/// feed, so a client has its grace to start), and who may feed it.
#[derive(Debug)]
pub struct FeedBoard {
    clients: Mutex<HashMap<String, Client>>,
    rejected: AtomicU64,
    unknown: AtomicU64,
    warn: RateLimiter,
    clock: Arc<dyn Clock>,
}

impl FeedBoard {
    /// A board for these clients (name, the uid that may feed it), all
    /// fed now, on the real clock.
    pub fn new<'a>(clients: impl IntoIterator<Item = (&'a str, u32)>) -> Arc<Self> {
        Self::with_clock(clients, Arc::new(SystemClock))
    }

    /// A board like [`FeedBoard::new`] that reads the time from `clock`.
    pub fn with_clock<'a>(clients: impl IntoIterator<Item = (&'a str, u32)>, clock: Arc<dyn Clock>) -> Arc<Self> {
        let now = clock.now();
        Arc::new(FeedBoard {
            clients: Mutex::new(
                clients.into_iter().map(|(name, uid)| (name.to_string(), Client { uid, last: now })).collect(),
            ),
            rejected: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            warn: RateLimiter::new(WARN_EVERY),
            clock,
        })
    }

    /// What a feed of `name` by `uid` would count as.
    pub fn verdict(&self, name: &str, uid: u32) -> Verdict {
        match self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            None => Verdict::Unknown,
            Some(client) if client.uid == uid => Verdict::Accepted,
            Some(_) => Verdict::Denied,
        }
    }

    /// Records a feed of `name` sent by `uid` (`None`: the sender's
    /// credentials are unknown, which never counts). Feeds of names no check
    /// expects, and by users not configured for the name, are dropped,
    /// counted and warned about at most every 10 s.
    pub fn fed(&self, name: &str, uid: Option<u32>) -> Verdict {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let verdict = match (clients.get_mut(name), uid) {
            (None, _) => Verdict::Unknown,
            (Some(client), Some(uid)) if client.uid == uid => {
                client.last = self.clock.now();
                tracing::debug!("fed by {name}");
                return Verdict::Accepted;
            }
            (Some(_), _) => Verdict::Denied,
        };
        let allowed = clients.get(name).map(|c| c.uid);
        drop(clients);
        let counter = if verdict == Verdict::Unknown { &self.unknown } else { &self.rejected };
        counter.fetch_add(1, Ordering::Relaxed);
        let sender = uid.map_or_else(|| "an unknown user".to_string(), |u| format!("uid {u}"));
        self.warn(|held_back| match allowed {
            None => format!("feed `{name}` from {sender} ignored: no [[feeder]] check has that name{held_back}"),
            Some(allowed) => {
                format!("feed `{name}` from {sender} rejected: only uid {allowed} may feed it{held_back}")
            }
        });
        verdict
    }

    /// Logs a warning about hostile or broken input, at most every [`WARN_EVERY`].
    pub fn warn(&self, line: impl FnOnce(String) -> String) {
        if let Some(held_back) = self.warn.admit() {
            tracing::warn!("{}", line(suppressed_note(held_back)));
        }
    }

    /// The current instant on the board's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// When `name` was last fed.
    pub fn last_fed(&self, name: &str) -> Option<Instant> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(name).map(|c| c.last)
    }

    /// Feeds dropped because the sender may not feed that name.
    pub fn rejected_feeds(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Feeds dropped because no check has that name.
    pub fn unknown_feeds(&self) -> u64 {
        self.unknown.load(Ordering::Relaxed)
    }

    /// True when some client may be fed by a user other than root.
    fn has_non_root_clients(&self) -> bool {
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).values().any(|c| c.uid != 0)
    }
}

/// The service's socket: bound at start, removed when dropped.
#[derive(Debug)]
pub struct FeedServer {
    socket: UnixDatagram,
    path: PathBuf,
}

/// Mode of the socket when only root feeds.
pub const ROOT_ONLY_MODE: u32 = 0o600;
/// Mode of the socket when other users feed: anyone may send, and each
/// datagram's sender (`SCM_CREDENTIALS`) is checked against its client.
pub const SHARED_MODE: u32 = 0o666;

impl FeedServer {
    /// Binds `path` for the clients of `board`, replacing a stale socket but
    /// refusing one that a live service still reads, and anything not a
    /// socket. The socket is created under umask 0177 (never accessible to
    /// others, not even briefly); it is opened to others ([`SHARED_MODE`])
    /// only when a client is fed by a user other than root.
    pub fn bind(path: &Path, board: &FeedBoard) -> io::Result<Self> {
        let context = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{}: {what}: {e}", path.display()));
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists and is not a socket; refusing to replace it", path.display()),
                ));
            }
            let probe = UnixDatagram::unbound().map_err(|e| context("socket", e))?;
            if probe.connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another fence-watchdog is reading this socket", path.display()),
                ));
            }
            std::fs::remove_file(path).map_err(|e| context("cannot remove the stale socket", e))?;
        }
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixDatagram::bind(path);
        umask(old);
        let socket = bound.map_err(|e| context("bind", e))?;
        let mode = if board.has_non_root_clients() { SHARED_MODE } else { ROOT_ONLY_MODE };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| context("chmod", e))?;
        setsockopt(&socket, PassCred, &true).map_err(|e| context("SO_PASSCRED", e.into()))?;
        Ok(FeedServer { socket, path: path.to_path_buf() })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Receives forever, recording feeds on `board` under the sender's
    /// uid (from the kernel, `SCM_CREDENTIALS`) and answering `hello`.
    pub fn serve(&self, board: &FeedBoard) -> io::Error {
        let mut buffer = [0u8; MAX_DATAGRAM];
        let mut space = nix::cmsg_space!(UnixCredentials);
        loop {
            let (n, uid, from) = {
                let mut iov = [IoSliceMut::new(&mut buffer)];
                match recvmsg::<UnixAddr>(self.socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()) {
                    Ok(msg) => {
                        let uid = msg.cmsgs().ok().and_then(|mut all| {
                            all.find_map(|c| match c {
                                ControlMessageOwned::ScmCredentials(creds) => Some(creds.uid()),
                                _ => None,
                            })
                        });
                        (msg.bytes, uid, msg.address)
                    }
                    Err(Errno::EINTR) => continue,
                    Err(e) => return e.into(),
                }
            };
            for message in parse(&buffer[..n]) {
                match message {
                    Ok(Message::Feed(name)) => {
                        board.fed(&name, uid);
                    }
                    Ok(Message::Hello(name)) => {
                        let verdict = uid.map_or(Verdict::Denied, |uid| board.verdict(&name, uid));
                        self.answer(from.as_ref(), &format!("{} {name}\n", verdict.word()));
                    }
                    Err(e) => board.warn(|held_back| format!("feed socket {}: {e}{held_back}", self.path.display())),
                }
            }
        }
    }

    /// Sends `text` to a sender that has an address (one that has none
    /// cannot be answered); never waits.
    fn answer(&self, to: Option<&UnixAddr>, text: &str) {
        if let Some(to) = to.filter(|a| a.path().is_some() || a.as_abstract().is_some()) {
            let _ = sendto(self.socket.as_raw_fd(), text.as_bytes(), to, MsgFlags::MSG_DONTWAIT);
        }
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn messages_parse_one_per_line() {
        assert_eq!(parse(b"feed heartbeat\n"), [Ok(Message::Feed("heartbeat".into()))]);
        assert_eq!(parse(b"feed a\nfeed b"), [Ok(Message::Feed("a".into())), Ok(Message::Feed("b".into()))]);
        assert_eq!(parse(b"\n  \n"), []);
        assert_eq!(parse(b"feed"), [Err("`feed`: expected `feed NAME`".into())]);
        assert_eq!(parse(b"feed a b"), [Err("`feed a b`: expected `feed NAME`".into())]);
        assert_eq!(parse(b"eat x"), [Err("`eat x`: unknown request".into())]);
        assert!(parse(b"feed a/b")[0].as_ref().unwrap_err().contains("contains '/'"));
        assert_eq!(parse(b"hello heartbeat\n"), [Ok(Message::Hello("heartbeat".into()))]);
        assert_eq!(parse(b"hello"), [Err("`hello`: expected `hello NAME`".into())]);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("heartbeat-1.node_a").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(65)).unwrap_err().contains("longer than 64"));
    }

    #[test]
    fn a_feed_reaches_the_board_and_unknown_names_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.sock");
        let board = FeedBoard::new([("heartbeat", nix::unistd::getuid().as_raw())]);
        let server = Arc::new(FeedServer::bind(&path, &board).unwrap());
        let start = board.last_fed("heartbeat").unwrap();
        {
            let (server, board) = (server.clone(), board.clone());
            std::thread::spawn(move || server.serve(&board));
        }
        // Datagrams are read in order: once the second feed of `heartbeat`
        // counted, the stranger's (sent between) was read and dropped.
        feed(&path, "heartbeat").unwrap();
        assert!(crate::wait_until(Duration::from_secs(5), || board.last_fed("heartbeat").unwrap() > start));
        feed(&path, "stranger").unwrap();
        let first = board.last_fed("heartbeat").unwrap();
        feed(&path, "heartbeat").unwrap();
        assert!(crate::wait_until(Duration::from_secs(5), || board.last_fed("heartbeat").unwrap() > first));
        assert_eq!(board.last_fed("stranger"), None, "a name no check expects is not put on the board");
        assert_eq!(board.unknown_feeds(), 1, "and it is counted");
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_socket_is_open_to_others_only_when_a_client_is_not_root() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.sock");
        let root_only = FeedServer::bind(&path, &FeedBoard::new([("heartbeat", 0)])).unwrap();
        assert_eq!(mode(&path), ROOT_ONLY_MODE);
        drop(root_only);
        let _shared = FeedServer::bind(&path, &FeedBoard::new([("heartbeat", 0), ("app", 1000)])).unwrap();
        assert_eq!(mode(&path), SHARED_MODE);
    }

    #[test]
    fn hello_says_whether_feeds_count() {
        let me = nix::unistd::getuid().as_raw();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.sock");
        let board = FeedBoard::new([("mine", me), ("theirs", me.wrapping_add(1))]);
        let server = Arc::new(FeedServer::bind(&path, &board).unwrap());
        {
            let (server, board) = (server.clone(), board.clone());
            std::thread::spawn(move || server.serve(&board));
        }
        let hello = |name: &str| Feeder::new(&path, name).unwrap().hello(Duration::from_secs(5)).unwrap();
        assert_eq!(hello("mine"), Some(Verdict::Accepted));
        assert_eq!(hello("theirs"), Some(Verdict::Denied));
        assert_eq!(hello("nobody-configured"), Some(Verdict::Unknown));
        let start = board.last_fed("mine").unwrap();
        assert_eq!(board.last_fed("mine"), Some(start), "a hello is no feed");
        // A plain datagram socket that never answers: no verdict.
        let silent = dir.path().join("silent.sock");
        let _silent = UnixDatagram::bind(&silent).unwrap();
        assert_eq!(Feeder::new(&silent, "mine").unwrap().hello(Duration::from_millis(100)).unwrap(), None);
    }

    #[test]
    fn a_live_socket_is_not_stolen_and_a_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.sock");
        let board = FeedBoard::new([("heartbeat", 0)]);
        let first = FeedServer::bind(&path, &board).unwrap();
        let err = FeedServer::bind(&path, &board).unwrap_err().to_string();
        assert!(err.contains("another fence-watchdog is reading this socket"), "{err}");
        drop(first);
        assert!(!path.exists(), "removed on drop");
        // A socket file nobody reads any more, as a killed service leaves.
        let stale = UnixDatagram::bind(&path).unwrap();
        drop(stale);
        FeedServer::bind(&path, &board).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert!(FeedServer::bind(&plain, &board).unwrap_err().to_string().contains("is not a socket"));
    }

    #[test]
    fn feeding_without_a_service_says_so() {
        let err = feed("/nonexistent/fw.sock", "heartbeat").unwrap_err().to_string();
        assert!(err.starts_with("cannot feed `heartbeat` through /nonexistent/fw.sock:"), "{err}");
        assert!(err.ends_with("(is fence-watchdog running?)"), "{err}");
        assert!(feed("/nonexistent/fw.sock", "bad name").unwrap_err().to_string().contains("contains ' '"));
    }
}
