//! The local control socket, `RUN_DIR/heartbeat.sock` (mode 0600): one
//! command line per connection (`status`, `nodes`, `standby SET`,
//! `takeover SET`, `stop`, `pid`), answered with text, then closed. What
//! the line and the text mean is [`command`]'s.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::stat::{umask, Mode};
use tracing::warn;

pub mod command;

pub use command::{CommandError, ControlCommand, ControlReply};

/// File name of the socket inside the run directory.
pub const SOCKET_NAME: &str = "heartbeat.sock";
/// Longest command line accepted.
const MAX_COMMAND: u64 = 256;

/// A command from a client and where to send the answer.
#[derive(Debug)]
pub struct Request {
    /// The command.
    pub command: ControlCommand,
    /// Receives the answer.
    pub reply: mpsc::Sender<ControlReply>,
}

/// The socket path in `run_dir`.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Binds the socket (replacing a stale one) and serves it on a thread;
/// each valid command is handed to `deliver` (an invalid one is answered
/// with its error at once).
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
    let reply = match ControlCommand::parse(line.trim()) {
        Ok(command) => {
            let (tx, rx) = mpsc::channel();
            deliver(Request { command, reply: tx });
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| ControlReply::Error("the node did not answer".into()))
        }
        Err(e) => e.into(),
    };
    let mut stream = stream;
    stream.write_all(reply.to_string().as_bytes())
}

/// Sends `command` to the node whose run directory is `run_dir`; `Ok(None)`
/// when no node is running there.
pub fn send(run_dir: &Path, command: ControlCommand) -> io::Result<Option<ControlReply>> {
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
    Ok(Some(ControlReply::from_wire(answer)))
}

#[cfg(test)]
mod tests {
    use crate::membership::announcement::GroupSet;

    use super::*;

    /// What an older CLI does: writes the line, reads the text.
    fn raw(run_dir: &Path, line: &str) -> String {
        let mut stream = UnixStream::connect(socket_path(run_dir)).unwrap();
        stream.write_all(line.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn commands_and_replies_cross_the_socket_as_text() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(send(dir.path(), ControlCommand::Pid).unwrap(), None, "no node runs yet");
        serve(dir.path(), |request: Request| {
            let reply = match request.command {
                ControlCommand::Standby(set) => ControlReply::Answer(format!("standby [{set}] requested\n")),
                ControlCommand::Stop => ControlReply::Error("shutdown in progress".into()),
                other => ControlReply::Answer(format!("{other}\n")),
            };
            let _ = request.reply.send(reply);
        })
        .unwrap();
        let standby = ControlCommand::Standby(GroupSet::Foreign);
        let answer = ControlReply::Answer("standby [foreign] requested\n".into());
        assert_eq!(send(dir.path(), standby).unwrap(), Some(answer));
        let refused = ControlReply::Error("shutdown in progress".into());
        assert_eq!(send(dir.path(), ControlCommand::Stop).unwrap(), Some(refused));
        assert_eq!(raw(dir.path(), "standby failback\n"), "standby [foreign] requested\n");
        assert_eq!(raw(dir.path(), "nodes\n"), "nodes\n");
        assert_eq!(raw(dir.path(), "stop\n"), "error: shutdown in progress\n");
        assert_eq!(raw(dir.path(), "takeover sideways\n"), "error: the set must be all, local or foreign\n");
        assert_eq!(raw(dir.path(), "  reboot  now \n"), "error: unknown command [reboot  now]\n");
    }
}
