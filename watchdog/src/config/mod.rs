//! The service configuration: typed values, and the two file formats that
//! produce them.
//!
//! A file whose name ends in `.toml` is read as the service's own TOML
//! format (documented in `fence-watchdog.toml` beside the crate); any
//! other file as Debian's `watchdog.conf` (see [`debian`]). Both give a
//! [`Config`]; errors name the file and line.

pub mod debian;
pub mod summary;
pub mod toml_format;
mod values;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use values::{parse_priority, secs, CommandLine};

/// The configuration read when `-c` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/fence-watchdog.toml";
/// Where clients feed the service (see the crate docs for the protocol).
pub const DEFAULT_FEED_SOCKET: &str = "/run/fence-watchdog.sock";
/// Seconds the hardware waits for a keepalive (Debian's default).
pub const DEFAULT_TIMEOUT: u32 = 60;
/// Seconds between keepalives (Debian's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a check may keep failing before it counts (Debian's `retry-timeout`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);
/// Time limit of a test command and of the repair command (Debian's default).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a ping target has to answer.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Real-time priority of the petting thread.
pub const DEFAULT_PRIORITY: u8 = 1;

/// What SIGTERM does when the driver has `nowayout` set (a magic close
/// would not stop the timer, so stopping means a reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NowayoutPolicy {
    /// Say so and keep petting (the default): the node stays up.
    KeepPetting,
    /// Close and exit anyway: the node resets when the timer runs out.
    Exit,
}

/// The whole service configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from (`None` for the built-in defaults).
    pub source: Option<PathBuf>,
    /// The watchdog device.
    pub device: PathBuf,
    /// Seconds the hardware waits for a keepalive.
    pub timeout: u32,
    /// Time between keepalives.
    pub interval: Duration,
    /// Lock memory and run the petting thread with SCHED_FIFO.
    pub realtime: bool,
    /// SCHED_FIFO priority (1–99) of the petting thread.
    pub priority: u8,
    /// The local datagram socket clients feed.
    pub feed_socket: PathBuf,
    /// Run once when a check fails, before petting stops.
    pub repair: Option<CommandLine>,
    /// Time limit of the repair command.
    pub repair_timeout: Duration,
    /// SIGTERM with a `nowayout` driver.
    pub nowayout_sigterm: NowayoutPolicy,
    /// The health checks.
    pub checks: Vec<CheckSpec>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            device: PathBuf::from(crate::device::DEFAULT_DEVICE),
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_INTERVAL,
            realtime: true,
            priority: DEFAULT_PRIORITY,
            feed_socket: PathBuf::from(DEFAULT_FEED_SOCKET),
            repair: None,
            repair_timeout: DEFAULT_COMMAND_TIMEOUT,
            nowayout_sigterm: NowayoutPolicy::KeepPetting,
            checks: Vec::new(),
        }
    }
}

/// Where a value was configured: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One health check with its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// What is checked.
    pub kind: CheckKind,
    /// Time between runs.
    pub interval: Duration,
    /// How long it may keep failing before the service gives up.
    pub grace: Duration,
    /// Where it was configured.
    pub origin: Option<Origin>,
}

/// What a health check looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// The process whose pid is in this file is alive and is `process`.
    Pidfile {
        /// The pid file.
        path: PathBuf,
        /// The process's name (`/proc/PID/comm` or the file name of its
        /// executable); by default the pid file's name without `.pid`.
        process: String,
    },
    /// A client feeds the service under this name at least every `grace`.
    Feeder {
        /// The client's name.
        name: String,
        /// The only user whose feeds count for it (default root).
        uid: u32,
    },
    /// The address answers ICMP echo within `timeout`.
    Ping {
        /// The target.
        target: IpAddr,
        /// Time to wait for a reply.
        timeout: Duration,
    },
    /// The network interface received traffic since the last run.
    Interface {
        /// Its name, as in `/proc/net/dev`.
        name: String,
    },
    /// The load averages stay at or below these limits.
    Load {
        /// 1-minute limit.
        max1: Option<f64>,
        /// 5-minute limit.
        max5: Option<f64>,
        /// 15-minute limit.
        max15: Option<f64>,
    },
    /// At least this much memory is available (`MemAvailable`).
    Memory {
        /// Minimum in bytes.
        min_available: u64,
    },
    /// The command exits 0 within `timeout`.
    Test {
        /// The command.
        command: CommandLine,
        /// Its time limit.
        timeout: Duration,
    },
    /// The file exists and, with `max_age`, was modified recently.
    File {
        /// The file.
        path: PathBuf,
        /// Largest allowed time since its last modification.
        max_age: Option<Duration>,
    },
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckKind::Pidfile { path, .. } => write!(f, "pidfile {}", path.display()),
            CheckKind::Feeder { name, .. } => write!(f, "feeder {name}"),
            CheckKind::Ping { target, .. } => write!(f, "ping {target}"),
            CheckKind::Interface { name } => write!(f, "interface {name}"),
            CheckKind::Load { .. } => f.write_str("load"),
            CheckKind::Memory { .. } => f.write_str("memory"),
            CheckKind::Test { command, .. } => write!(f, "test {command}"),
            CheckKind::File { path, .. } => write!(f, "file {}", path.display()),
        }
    }
}

/// The process a pid file names when its check does not say: the file's
/// name without a `.pid` suffix (`/run/heartbeat.pid` -> `heartbeat`).
pub fn default_process_name(pidfile: &Path) -> String {
    let file = pidfile.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    match file.strip_suffix(".pid") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => file,
    }
}

impl CheckKind {
    /// A pid file check of the process its file name implies.
    pub fn pidfile(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let process = default_process_name(&path);
        CheckKind::Pidfile { path, process }
    }
}

/// A configuration error: one line naming the place and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// `file` or `file:line`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn at(file: &Path, line: usize, message: impl Into<String>) -> Self {
        ConfigError { location: format!("{}:{line}", file.display()), message: message.into() }
    }

    pub(crate) fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError { location: file.display().to_string(), message: message.into() }
    }
}

/// A configuration and the warnings reading it produced (ignored keys).
pub type Loaded = (Config, Vec<String>);

/// Reads `path` in the format its name implies (`.toml` or Debian's).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::in_file(path, format!("cannot read: {e}")))?;
    if path.extension().is_some_and(|e| e == "toml") {
        toml_format::parse(&text, path).map(|c| (c, Vec::new()))
    } else {
        debian::parse(&text, path)
    }
}

impl Config {
    /// Checks what no single value can: petting faster than the timeout.
    pub(crate) fn check_interval(&self, origin: Option<Origin>) -> Result<(), ConfigError> {
        if self.interval >= Duration::from_secs(self.timeout.into()) {
            let message = format!(
                "interval ({}) must be shorter than the watchdog timeout ({} s), or the node resets while healthy",
                values::show(self.interval),
                self.timeout
            );
            return Err(match (origin, &self.source) {
                (Some(o), _) => ConfigError::at(&o.file, o.line, message),
                (None, Some(file)) => ConfigError::in_file(file, message),
                (None, None) => ConfigError { location: "configuration".into(), message },
            });
        }
        Ok(())
    }
}

pub use values::show as show_duration;
