//! Test helpers: capturing log events, executable scripts in a temp dir
//! and a recorder of the calls scripts make (also for heartbeat's tests,
//! through the `testutil` feature).

use std::fmt::Debug;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Log events seen while running `f`: `(level, message)`.
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, Vec<(Level, String)>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Capture(events.clone()));
    let result = tracing::subscriber::with_default(subscriber, f);
    let events = events.lock().unwrap().clone();
    (result, events)
}

/// A layer that records every event's level and message.
struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push((*event.metadata().level(), message.0));
    }
}

/// Writes an executable `#!/bin/sh` script at `path` (creating parents).
pub fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Reads a file of recorded lines (empty when absent).
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A temp dir holding a file that agents append their calls to.
pub struct Recorder {
    /// The temp dir (agents go in its `sbin`).
    pub dir: tempfile::TempDir,
    /// The file of recorded calls.
    pub calls: PathBuf,
}

impl Recorder {
    /// A fresh temp dir with no calls recorded.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        Recorder { dir, calls }
    }

    /// The recorded lines.
    pub fn calls(&self) -> Vec<String> {
        read_lines(&self.calls)
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}
