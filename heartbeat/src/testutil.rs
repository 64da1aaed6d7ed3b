//! Test helpers: capturing log events, executable scripts in a temp dir,
//! and a deterministic generator for the brute-force parser tests.

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

/// A temp dir holding a file that scripts append their calls to.
pub struct Recorder {
    pub dir: tempfile::TempDir,
    pub calls: PathBuf,
}

impl Recorder {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        Recorder { dir, calls }
    }

    pub fn calls(&self) -> Vec<String> {
        read_lines(&self.calls)
    }
}

/// A small deterministic xorshift generator for the brute-force tests.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
