//! `realtime` (Heartbeat's default): the node's threads run under
//! SCHED_FIFO and its memory is locked, so that nothing else on the node —
//! a fence agent starting up on a single slow vCPU, a busy service, memory
//! pressure — delays its heartbeats long enough for a peer to declare it
//! dead. Children (resource scripts, fence agents) start under the normal
//! policy again ([`normal_policy_in_child`]).
//!
//! Failures are logged and the node carries on at the normal policy, as
//! Heartbeat does (`Cannot lock ourselves into memory`).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// Makes `command`'s child start under the normal scheduling policy (it
/// would inherit SCHED_FIFO from the node's thread otherwise).
pub fn normal_policy_in_child(command: &mut Command) {
    // SAFETY: runs in the forked child before exec; sched_setscheduler is a
    // plain system call, async-signal-safe, touching no shared memory.
    unsafe {
        command.pre_exec(|| {
            let param = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_of_a_realtime_thread_run_under_the_normal_policy() {
        if !nix::unistd::Uid::effective().is_root() {
            // CI runs as root: a skip there would hide a failure.
            assert!(std::env::var_os("CI").is_none(), "setting SCHED_FIFO needs root, and CI runs as root");
            eprintln!("SKIP: setting SCHED_FIFO needs root");
            return;
        }
        let policy_of_child = |reset: bool| {
            std::thread::spawn(move || {
                let param = libc::sched_param { sched_priority: 10 };
                // SAFETY: as in `enter`.
                assert_eq!(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) }, 0);
                let mut c = Command::new("sh");
                c.args(["-c", "cut -d' ' -f41 /proc/self/stat"]);
                if reset {
                    normal_policy_in_child(&mut c);
                }
                String::from_utf8(c.output().unwrap().stdout).unwrap().trim().to_string()
            })
            .join()
            .unwrap()
        };
        // Field 41 of /proc/PID/stat is the policy: 0 SCHED_OTHER, 1 SCHED_FIFO.
        assert_eq!(policy_of_child(false), "1", "without the reset the child inherits SCHED_FIFO");
        assert_eq!(policy_of_child(true), "0");
    }
}
