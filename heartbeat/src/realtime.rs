//! `realtime` (Heartbeat's default): the node's threads run under
//! SCHED_FIFO and its memory is locked, so that nothing else on the node —
//! a fence agent starting up on a single slow vCPU, a busy service, memory
//! pressure — delays its heartbeats long enough for a peer to declare it
//! dead. Children (resource scripts, fence agents) start under the normal
//! policy again ([`plumbing::process::child_defaults`]).
//!
//! Failures are logged and the node carries on at the normal policy, as
//! Heartbeat does (`Cannot lock ourselves into memory`).

use std::io;

use nix::libc;
use nix::sys::mman::{mlockall, MlockAllFlags};
use tracing::{error, info};

/// Switches the calling thread (and the threads it starts afterwards) to
/// SCHED_FIFO at `priority` and locks the process's memory. Call it before
/// starting threads.
pub fn enter(priority: i32) {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: plain system call on the calling thread with a valid pointer.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        info!("Running at SCHED_FIFO priority {priority} (realtime)");
    } else {
        error!("Cannot set SCHED_FIFO priority {priority}: {} (realtime off)", io::Error::last_os_error());
    }
    if let Err(e) = mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        error!("Cannot lock ourselves into memory: {e}");
    }
}
