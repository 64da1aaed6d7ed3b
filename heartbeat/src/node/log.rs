//! Log lines in Heartbeat's format (spec §7.1), to stderr and to ha.cf's
//! `logfile`: `Nov 22 10:00:07 alpha heartbeat: [2312]: WARN: node bravo: is dead`.
//! Levels print as `debug`, `info`, `WARN`, `ERROR`, and `CRIT` for error
//! events carrying the field `crit = true`.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

struct Sink {
    node: String,
    file: Option<Mutex<File>>,
    max_level: Level,
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
        if level > self.max_level {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = format!(
            "{} {} heartbeat: [{}]: {}: {}\n",
            chrono::Local::now().format("%b %e %H:%M:%S"),
            self.node,
            std::process::id(),
            level_word(level, fields.crit),
            fields.message
        );
        let _ = io::stderr().write_all(line.as_bytes());
        if let Some(file) = &self.file {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Installs the global log sink for node `node`; `logfile` is appended to.
pub fn init(node: &str, logfile: Option<&Path>, debug: bool) -> io::Result<()> {
    let file = match logfile {
        Some(path) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("logfile {}: {e}", path.display())))?,
        )),
        None => None,
    };
    let sink = Sink { node: node.to_string(), file, max_level: if debug { Level::DEBUG } else { Level::INFO } };
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
}
