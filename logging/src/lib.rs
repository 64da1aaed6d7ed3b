//! Log setup shared by the suite's daemons (`fence_virtd`,
//! `fence-watchdog`): `tracing` events go to stderr in the foreground
//! (colour only on a terminal) and to syslog when detached (journald reads
//! `/dev/log` too), one datagram per event, facility daemon.

pub mod rate_limit;

pub use rate_limit::{suppressed_note, RateLimiter};

use std::io::{self, IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;

/// Sends each formatted event as one syslog datagram.
struct Syslog {
    socket: Mutex<Option<UnixDatagram>>,
    ident: String,
}

/// One event being formatted; sent when dropped.
struct SyslogLine<'a> {
    sink: &'a Syslog,
    buffer: Vec<u8>,
}

impl Write for SyslogLine<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine<'_> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        // <30> = facility daemon (3) * 8 + severity info (6).
        let message = format!("<30>{}[{}]: {text}", self.sink.ident, std::process::id());
        let guard = self.sink.socket.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(socket) => {
                let _ = socket.send(message.as_bytes());
            }
            None => eprintln!("{text}"),
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine { sink: self, buffer: Vec::new() }
    }
}

/// Installs the global subscriber at `level`: to stderr when `to_stderr`,
/// otherwise to syslog as `ident` (stderr if `/dev/log` is unavailable).
pub fn init(ident: &str, level: tracing::Level, to_stderr: bool) {
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    if to_stderr {
        let _ = builder.with_ansi(io::stderr().is_terminal()).with_writer(io::stderr).try_init();
    } else {
        let socket = UnixDatagram::unbound().and_then(|s| s.connect("/dev/log").map(|()| s)).ok();
        let sink = Syslog { socket: Mutex::new(socket), ident: ident.to_string() };
        let _ = builder.with_ansi(false).without_time().with_writer(sink).try_init();
    }
}
