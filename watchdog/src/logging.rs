//! Logging through `tracing`: to stderr in the foreground, to syslog
//! (journald reads `/dev/log` too) when detached.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;

/// Sends each formatted event as one syslog datagram (facility daemon).
struct Syslog {
    socket: Mutex<Option<UnixDatagram>>,
}

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
        let message = format!("<30>fence-watchdog[{}]: {text}", std::process::id());
        let guard = self.sink.socket.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(socket) = guard.as_ref() {
            let _ = socket.send(message.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine { sink: self, buffer: Vec::new() }
    }
}

/// Installs the global subscriber: info, or debug with `verbose`.
pub fn init(verbose: bool, to_stderr: bool) {
    let level = if verbose { tracing::Level::DEBUG } else { tracing::Level::INFO };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    if to_stderr {
        use std::io::IsTerminal;
        let _ = builder.with_ansi(io::stderr().is_terminal()).with_writer(io::stderr).try_init();
    } else {
        let socket = UnixDatagram::unbound().and_then(|s| s.connect("/dev/log").map(|()| s)).ok();
        let sink = Syslog { socket: Mutex::new(socket) };
        let _ = builder.with_ansi(false).without_time().with_writer(sink).try_init();
    }
}
