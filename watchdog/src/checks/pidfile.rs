//! A process named by a pid file is alive, and is the process the check
//! names: any live pid (say `1`) in the file is not enough.
//!
//! The identity rule: the process's name in `/proc/PID/comm` (which the
//! kernel cuts to 15 bytes), or the file name of its executable
//! (`/proc/PID/exe`), is the configured name — or one of the two begins with
//! the other (at least 3 characters), because the default name comes from
//! the pid file's name, and daemons and their pid files often differ by a
//! suffix (`cron` writes `crond.pid`, `sshd` runs as `sshd-session`). A pid
//! reused by another program, or a file naming init, fails.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::{Check, Failure};

/// Longest process name the kernel keeps in `comm`.
const COMM_LEN: usize = 15;

/// Reads the pid file on every run (the process may restart with a new pid).
#[derive(Debug)]
pub struct PidfileCheck {
    path: PathBuf,
    process: String,
}

impl PidfileCheck {
    /// A check that the process in `path` runs and is named `process`.
    pub fn new(path: &Path, process: &str) -> Self {
        PidfileCheck { path: path.to_path_buf(), process: process.to_string() }
    }
}

/// `/proc/PID/comm` without its newline.
fn comm(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}

/// The file name of the process's executable.
fn exe_name(pid: i32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    // A replaced executable reads as "name (deleted)".
    Some(name.strip_suffix(" (deleted)").map(str::to_string).unwrap_or(name))
}

/// The configured name cut as the kernel cuts `comm`.
fn comm_of(name: &str) -> &str {
    let mut end = name.len().min(COMM_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Whether a process called `actual` is the program called `wanted`.
fn same_program(actual: &str, wanted: &str) -> bool {
    const SHORTEST: usize = 3;
    actual == wanted
        || (actual.len() >= SHORTEST
            && wanted.len() >= SHORTEST
            && (actual.starts_with(wanted) || wanted.starts_with(actual)))
}

/// `Err(what it is)` unless the process is the one named `process`.
fn identity(pid: i32, process: &str) -> Result<(), String> {
    let comm = comm(pid);
    if comm.as_deref().is_some_and(|c| same_program(c, comm_of(process)))
        || exe_name(pid).is_some_and(|e| same_program(&e, process))
    {
        return Ok(());
    }
    Err(comm.map_or_else(|| "of unknown name".to_string(), |c| format!("`{c}`")))
}

/// The state letter in `/proc/PID/stat` ('Z' for a zombie).
fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

impl Check for PidfileCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let path = self.path.display();
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            Failure::new(format!("cannot read pid file {path}: {e}"), Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        })?;
        let pid =
            text.split_whitespace().next().and_then(|w| w.parse::<i32>().ok()).filter(|&p| p > 0).ok_or_else(|| {
                Failure::new(format!("pid file {path} holds no pid: `{}`", text.trim()), Errno::EINVAL)
            })?;
        match nix::sys::signal::kill(Pid::from_raw(pid), None) {
            Ok(()) | Err(Errno::EPERM) if state(pid) == Some('Z') => {
                Err(Failure::new(format!("process {pid} from {path} has exited (zombie)"), Errno::ESRCH))
            }
            Ok(()) | Err(Errno::EPERM) => identity(pid, &self.process).map_err(|actual| {
                Failure::new(
                    format!(
                        "process {pid} from {path} is {actual}, not `{}` (set `process` in the check if the name differs)",
                        self.process
                    ),
                    Errno::ESRCH,
                )
            }),
            Err(Errno::ESRCH) => Err(Failure::new(format!("process {pid} from {path} is not running"), Errno::ESRCH)),
            Err(e) => Err(Failure::new(format!("cannot signal process {pid} from {path}: {e}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_passes_and_a_dead_one_fails_with_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.pid");
        let mut check = PidfileCheck::new(&path, "sleep");
        let err = check.run().unwrap_err();
        assert!(err.reason.starts_with(&format!("cannot read pid file {}:", path.display())), "{err:?}");

        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(&path, format!("{}\n", child.id())).unwrap();
        assert_eq!(check.run(), Ok(()));
        child.kill().unwrap();
        // Not yet reaped: a zombie is dead too.
        assert!(crate::wait_until(std::time::Duration::from_secs(5), || state(child.id() as i32) == Some('Z')));
        assert_eq!(
            check.run().unwrap_err().reason,
            format!("process {} from {} has exited (zombie)", child.id(), path.display())
        );
        child.wait().unwrap();
        let err = check.run().unwrap_err();
        assert_eq!(err.reason, format!("process {} from {} is not running", child.id(), path.display()));
        assert_eq!(err.code, Errno::ESRCH as i32);

        std::fs::write(&path, "garbage\n").unwrap();
        assert!(check.run().unwrap_err().reason.ends_with("holds no pid: `garbage`"));
    }

    #[test]
    fn a_live_process_that_is_not_the_named_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        // init (pid 1) always runs; it is not the service this file names.
        let path = dir.path().join("heartbeat.pid");
        std::fs::write(&path, "1\n").unwrap();
        let err = PidfileCheck::new(&path, &crate::config::default_process_name(&path)).run().unwrap_err();
        assert!(err.reason.starts_with(&format!("process 1 from {} is ", path.display())), "{err:?}");
        assert!(err.reason.contains("not `heartbeat`"), "{err:?}");
        assert_eq!(err.code, Errno::ESRCH as i32);
        // Named right, it passes: by comm and by the executable's name.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(&path, format!("{}\n", child.id())).unwrap();
        assert_eq!(PidfileCheck::new(&path, "sleep").run(), Ok(()));
        let err = PidfileCheck::new(&path, "heartbeat").run().unwrap_err();
        assert!(err.reason.contains("is `sleep`, not `heartbeat`"), "{err:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn names_that_differ_by_a_suffix_are_the_same_program() {
        assert!(same_program("cron", "crond"));
        assert!(same_program("sshd-session", "sshd"));
        assert!(!same_program("systemd", "sshd"));
        assert!(!same_program("init", "heartbeat"));
        assert!(!same_program("sh", "sshd"), "too short to count as a prefix");
        // A pid file named after the daemon with a suffix: `sleeper.pid` for `sleep`.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sleeper.pid");
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(&path, format!("{}\n", child.id())).unwrap();
        assert_eq!(PidfileCheck::new(&path, &crate::config::default_process_name(&path)).run(), Ok(()));
        std::fs::write(&path, "1\n").unwrap();
        assert!(PidfileCheck::new(&path, &crate::config::default_process_name(&path)).run().is_err());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn long_names_match_the_kernels_cut_comm() {
        assert_eq!(comm_of("a-very-long-process-name"), "a-very-long-pro");
        assert_eq!(comm_of("heartbeat"), "heartbeat");
    }
}
