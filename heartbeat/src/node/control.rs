//! The local control socket, `RUN_DIR/heartbeat.sock` (mode 0600): one
//! command line per connection (`status`, `nodes`, `standby SET`,
//! `takeover SET`, `stop`), answered with text, then closed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::stat::{umask, Mode};
use tracing::warn;

/// File name of the socket inside the run directory.
pub const SOCKET_NAME: &str = "heartbeat.sock";
/// Longest command line accepted.
const MAX_COMMAND: u64 = 256;

/// A command from a client and where to send the answer.
#[derive(Debug)]
pub struct Request {
    /// The command line, trimmed.
    pub command: String,
    /// Receives the answer text.
    pub reply: mpsc::Sender<String>,
}

/// The socket path in `run_dir`.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Binds the socket (replacing a stale one) and serves it on a thread;
/// each request is handed to `deliver`.
pub fn serve(run_dir: &Path, deliver: impl Fn(Request) + Send + 'static) -> io::Result<()> {
    let path = socket_path(run_dir);
    let _ = std::fs::remove_file(&path);
    // Created under umask 0077, so the socket is never accessible to
    // others, not even between bind and chmod.
    let previous = umask(Mode::from_bits_truncate(0o077));
    let bound = UnixListener::bind(&path);
    umask(previous);
    let listener =
        bound.map_err(|e| io::Error::new(e.kind(), format!("cannot create control socket {}: {e}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    if let Err(e) = answer(stream, &deliver) {
                        warn!("control socket: {e}");
                    }
                }
                Err(e) => warn!("control socket: {e}"),
            }
        }
    })?;
    Ok(())
}

fn answer(stream: UnixStream, deliver: &impl Fn(Request)) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(stream.try_clone()?.take(MAX_COMMAND)).read_line(&mut line)?;
    let (tx, rx) = mpsc::channel();
    deliver(Request { command: line.trim().to_string(), reply: tx });
    let text = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| "error: the node did not answer\n".into());
    let mut stream = stream;
    stream.write_all(text.as_bytes())
}

/// Sends `command` to the node whose run directory is `run_dir`; `Ok(None)`
/// when no node is running there.
pub fn send(run_dir: &Path, command: &str) -> io::Result<Option<String>> {
    let path = socket_path(run_dir);
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(Some(answer))
}
