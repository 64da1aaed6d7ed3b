//! Log lines in Heartbeat's format (spec §7.1), to stderr, to ha.cf's
//! `logfile` and (with `logfacility`) to syslog:
//! `Nov 22 10:00:07 alpha heartbeat: [2312]: WARN: node bravo: is dead`.
//! Levels print as `debug`, `info`, `WARN`, `ERROR`, and `CRIT` for error
//! events carrying the field `crit = true`. `debugfile` receives every
//! line including debug ones (resource scripts' stderr among them).

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Mutex;

use crate::config::hacf::Logging;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

struct Sink {
    node: String,
    file: Option<Mutex<File>>,
    debug_file: Option<Mutex<File>>,
    syslog: Option<(UnixDatagram, u8)>,
    max_level: Level,
}

/// syslog severity of a level.
fn severity(level: Level, crit: bool) -> u8 {
    match level {
        Level::ERROR if crit => 2,
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

fn append(file: &Option<Mutex<File>>, line: &str) {
    if let Some(file) = file {
        let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.write_all(line.as_bytes());
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    crit: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "crit" {
            self.crit = value;
        }
    }
}

fn level_word(level: Level, crit: bool) -> &'static str {
    match level {
        Level::ERROR if crit => "CRIT",
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "info",
        _ => "debug",
    }
}

impl<S: Subscriber> Layer<S> for Sink {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let shown = level <= self.max_level;
        if !shown && self.debug_file.is_none() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let word = level_word(level, fields.crit);
        let text = format!("heartbeat: [{}]: {word}: {}", std::process::id(), fields.message);
        let line = format!("{} {} {text}\n", chrono::Local::now().format("%b %e %H:%M:%S"), self.node);
        append(&self.debug_file, &line);
        if !shown {
            return;
        }
        let _ = io::stderr().write_all(line.as_bytes());
        append(&self.file, &line);
        if let Some((socket, facility)) = &self.syslog {
            let priority = facility * 8 + severity(level, fields.crit);
            let _ = socket.send(format!("<{priority}>{text}").as_bytes());
        }
    }
}

fn open_append(path: &Path, what: &str) -> io::Result<Mutex<File>> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Mutex::new)
        .map_err(|e| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display())))
}

/// Installs the global log sink for node `node` with ha.cf's logging
/// directives. syslog is best effort: without `/dev/log` it is skipped.
pub fn init(node: &str, logging: &Logging) -> io::Result<()> {
    let file = logging.logfile.as_deref().map(|p| open_append(p, "logfile")).transpose()?;
    let debug_file = logging.debugfile.as_deref().map(|p| open_append(p, "debugfile")).transpose()?;
    let syslog = logging.facility.and_then(|f| {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect("/dev/log").ok()?;
        Some((socket, f.code()))
    });
    let max_level = if logging.debug > 0 { Level::DEBUG } else { Level::INFO };
    let sink = Sink { node: node.to_string(), file, debug_file, syslog, max_level };
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(sink));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_print_as_heartbeat_does() {
        assert_eq!(level_word(Level::ERROR, true), "CRIT");
        assert_eq!(level_word(Level::ERROR, false), "ERROR");
        assert_eq!(level_word(Level::WARN, false), "WARN");
        assert_eq!(level_word(Level::INFO, false), "info");
        assert_eq!(level_word(Level::DEBUG, false), "debug");
    }

    #[test]
    fn severities_are_syslogs() {
        assert_eq!(severity(Level::ERROR, true), 2);
        assert_eq!(severity(Level::WARN, false), 4);
        assert_eq!(severity(Level::INFO, false), 6);
    }
}
