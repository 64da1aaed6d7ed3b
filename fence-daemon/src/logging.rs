//! Logging through `tracing`: to stderr in the foreground, to syslog
//! (journald reads `/dev/log` too) otherwise.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;

/// Verbosity from the `-d` level: 0 info, 1 debug, ≥2 trace.
pub fn level_for(debug: u32) -> tracing::Level {
    match debug {
        0 => tracing::Level::INFO,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// Sends each formatted event as one syslog datagram (facility daemon).
struct Syslog {
    socket: Mutex<Option<UnixDatagram>>,
    ident: String,
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
        let message = format!("<30>{}[{}]: {}", self.sink.ident, std::process::id(), text);
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

/// Installs the global subscriber.
pub fn init(debug: u32, to_stderr: bool) {
    let builder = tracing_subscriber::fmt().with_max_level(level_for(debug)).with_target(false);
    if to_stderr {
        use std::io::IsTerminal;
        let _ = builder.with_ansi(io::stderr().is_terminal()).with_writer(io::stderr).try_init();
    } else {
        let socket = UnixDatagram::unbound().and_then(|s| s.connect("/dev/log").map(|()| s)).ok();
        let sink = Syslog { socket: Mutex::new(socket), ident: "fence_virtd".to_string() };
        let _ = builder.with_ansi(false).without_time().with_writer(sink).try_init();
    }
}
