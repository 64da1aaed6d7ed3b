//! Health checks. Each looks at one thing and says why it failed; the
//! [`crate::monitor`] runs them on their schedules and applies the grace.

mod command_check;
mod feeder;
mod file;
mod interface;
mod load;
mod memory;
mod pidfile;
mod ping;

use std::sync::Arc;

pub use command_check::TestCommand;
pub use feeder::FeederCheck;
pub use file::FileCheck;
pub use interface::InterfaceCheck;
pub use load::LoadCheck;
pub use memory::MemoryCheck;
pub use pidfile::PidfileCheck;
pub use ping::{ping, PingCheck};

use crate::config::{CheckKind, CheckSpec};
use crate::feed::FeedBoard;

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One line for the log, such as "process 42 from /run/x.pid is not running".
    pub reason: String,
    /// Passed to the repair command as its first argument: the test
    /// command's exit status, else an errno value (`ESRCH` for a dead
    /// process, `ETIMEDOUT` for a silent client or target, …).
    pub code: i32,
}

impl Failure {
    pub(crate) fn new(reason: impl Into<String>, code: nix::errno::Errno) -> Self {
        Failure { reason: reason.into(), code: code as i32 }
    }
}

/// Reads a kernel status file (`/proc/loadavg`, `/proc/meminfo`, …); a
/// read error is a failure naming the file, with the error's errno as code.
pub(crate) fn read_source(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            format!("cannot read {}: {e}", path.display()),
            nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        )
    })
}

/// One health check.
pub trait Check: Send {
    /// Looks once.
    fn run(&mut self) -> Result<(), Failure>;

    /// True when the check measures its own grace (a feeder's grace is
    /// the time since its last feed), so one failure is final.
    fn self_timed(&self) -> bool {
        false
    }
}

/// The check a spec describes; feeders read `board`.
pub fn build(spec: &CheckSpec, board: &Arc<FeedBoard>) -> Box<dyn Check> {
    match &spec.kind {
        CheckKind::Pidfile { path, process } => Box::new(PidfileCheck::new(path, process)),
        CheckKind::Feeder { name, .. } => Box::new(FeederCheck::new(name, spec.grace, board.clone())),
        CheckKind::Ping { target, timeout } => Box::new(PingCheck::new(*target, *timeout)),
        CheckKind::Interface { name } => Box::new(InterfaceCheck::new(name)),
        CheckKind::Load { max1, max5, max15 } => Box::new(LoadCheck::new([*max1, *max5, *max15])),
        CheckKind::Memory { min_available } => Box::new(MemoryCheck::new(*min_available)),
        CheckKind::Test { command, timeout } => Box::new(TestCommand::new(command.clone(), *timeout)),
        CheckKind::File { path, max_age } => Box::new(FileCheck::new(path, *max_age)),
    }
}
