//! A process named by a pid file is alive.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::{Check, Failure};

/// Reads the pid file on every run (the process may restart with a new pid).
#[derive(Debug)]
pub struct PidfileCheck {
    path: PathBuf,
}

impl PidfileCheck {
    /// A check of the process in `path`.
    pub fn new(path: &Path) -> Self {
        PidfileCheck { path: path.to_path_buf() }
    }
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
            Ok(()) | Err(Errno::EPERM) => Ok(()),
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
        let mut check = PidfileCheck::new(&path);
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
        let err = PidfileCheck::new(&path).run().unwrap_err();
        assert!(err.reason.starts_with(&format!("process 1 from {} is ", path.display())), "{err:?}");
        assert!(err.reason.contains("not `heartbeat`"), "{err:?}");
        assert_eq!(err.code, Errno::ESRCH as i32);
    }
}
