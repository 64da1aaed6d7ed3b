//! Log setup shared by the suite's daemons (`fence_virtd`,
//! `fence-watchdog`): `tracing` events go to stderr in the foreground
//! (colour only on a terminal) and to syslog when detached (journald reads
//! `/dev/log` too), one datagram per event, facility daemon, with the
//! event's severity (error, warning, info, debug).

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
    severity: u8,
    buffer: Vec<u8>,
}

/// Facility `daemon` (3), as syslog numbers it.
const FACILITY_DAEMON: u8 = 3;

/// The syslog severity of a tracing level (RFC 5424: 3 error, 4 warning,
/// 6 informational, 7 debug).
fn severity(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
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
        let priority = FACILITY_DAEMON * 8 + self.severity;
        let message = format!("<{priority}>{}[{}]: {text}", self.sink.ident, std::process::id());
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
        SyslogLine { sink: self, severity: severity(&tracing::Level::INFO), buffer: Vec::new() }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        SyslogLine { sink: self, severity: severity(meta.level()), buffer: Vec::new() }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines_carry_the_events_severity() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        theirs.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let sink = Syslog { socket: Mutex::new(Some(ours)), ident: "unit".to_string() };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("broken");
            tracing::warn!("odd");
            tracing::info!("fine");
            tracing::debug!("detail");
        });
        let mut buf = [0u8; 512];
        let mut next = || {
            let n = theirs.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        for (priority, text) in [("<27>", "broken"), ("<28>", "odd"), ("<30>", "fine"), ("<31>", "detail")] {
            let line = next();
            assert!(line.starts_with(&format!("{priority}unit[")), "{line}");
            assert!(line.ends_with(text), "{line}");
        }
    }
}
