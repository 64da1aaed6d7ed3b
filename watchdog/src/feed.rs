//! The feeding protocol: clients (the heartbeat core, scripts) prove they
//! are alive by sending datagrams to the service's Unix socket.
//!
//! See the crate documentation for the protocol itself. This module has
//! the client ([`Feeder`], [`feed`]), the message parser, and the
//! service side ([`FeedBoard`] records when each name was last fed,
//! [`FeedServer`] receives).

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
                (Some("feed"), _, _) => Err(format!("`{line}`: expected `feed NAME`")),
                _ => Err(format!("`{line}`: unknown request")),
            }
        })
        .collect()
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

    /// Sends one `feed NAME` datagram (never blocks for long: the service
    /// reads continuously, and a full queue is an error, not a wait).
    pub fn feed(&self) -> Result<(), FeedError> {
        self.socket.send_to(&self.message, &self.path).map(drop).map_err(|source| FeedError::Send {
            name: self.name.clone(),
            socket: self.path.clone(),
            source,
        })
    }
}

/// Sends one `feed NAME` datagram to the socket at `path`.
pub fn feed(path: impl AsRef<Path>, name: &str) -> Result<(), FeedError> {
    Feeder::new(path, name)?.feed()
}

/// When each configured client was last fed (service start counts as a
/// feed, so a client has its grace to start).
#[derive(Debug)]
pub struct FeedBoard {
    last: Mutex<HashMap<String, Instant>>,
    unknown_seen: Mutex<HashSet<String>>,
}

impl FeedBoard {
    /// A board for these client names, all fed now.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(FeedBoard {
            last: Mutex::new(names.into_iter().map(|n| (n.to_string(), now)).collect()),
            unknown_seen: Mutex::new(HashSet::new()),
        })
    }

    /// Records a feed; false (and a warning the first time) for a name
    /// that no check expects.
    pub fn fed(&self, name: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = last.get_mut(name) {
            *t = Instant::now();
            tracing::debug!("fed by {name}");
            return true;
        }
        drop(last);
        if self.unknown_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string()) {
            tracing::warn!("feed from `{name}` ignored: no [[feeder]] check has that name");
        }
        false
    }

    /// When `name` was last fed.
    pub fn last_fed(&self, name: &str) -> Option<Instant> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).get(name).copied()
    }
}

/// The service's socket: bound at start, removed when dropped.
#[derive(Debug)]
pub struct FeedServer {
    socket: UnixDatagram,
    path: PathBuf,
}

impl FeedServer {
    /// Binds `path` (mode 0600), replacing a stale socket but refusing
    /// one that a live service still reads, and anything not a socket.
    pub fn bind(path: &Path) -> io::Result<Self> {
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
        let socket = UnixDatagram::bind(path).map_err(|e| context("bind", e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| context("chmod", e))?;
        Ok(FeedServer { socket, path: path.to_path_buf() })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Receives forever, recording feeds on `board`.
    pub fn serve(&self, board: &FeedBoard) -> io::Error {
        let mut buffer = [0u8; MAX_DATAGRAM];
        loop {
            let n = match self.socket.recv(&mut buffer) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return e,
            };
            for message in parse(&buffer[..n]) {
                match message {
                    Ok(Message::Feed(name)) => {
                        board.fed(&name);
                    }
                    Err(e) => tracing::warn!("feed socket {}: {e}", self.path.display()),
                }
            }
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
        let server = Arc::new(FeedServer::bind(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let board = FeedBoard::new(["heartbeat"]);
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

    #[test]
    fn a_live_socket_is_not_stolen_and_a_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.sock");
        let first = FeedServer::bind(&path).unwrap();
        let err = FeedServer::bind(&path).unwrap_err().to_string();
        assert!(err.contains("another fence-watchdog is reading this socket"), "{err}");
        drop(first);
        assert!(!path.exists(), "removed on drop");
        // A socket file nobody reads any more, as a killed service leaves.
        let stale = UnixDatagram::bind(&path).unwrap();
        drop(stale);
        FeedServer::bind(&path).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert!(FeedServer::bind(&plain).unwrap_err().to_string().contains("is not a socket"));
    }

    #[test]
    fn feeding_without_a_service_says_so() {
        let err = feed("/nonexistent/fw.sock", "heartbeat").unwrap_err().to_string();
        assert!(err.starts_with("cannot feed `heartbeat` through /nonexistent/fw.sock:"), "{err}");
        assert!(err.ends_with("(is fence-watchdog running?)"), "{err}");
        assert!(feed("/nonexistent/fw.sock", "bad name").unwrap_err().to_string().contains("contains ' '"));
    }
}
