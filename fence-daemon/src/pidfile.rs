//! The pid file: refuses a second instance, removed on exit.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// An owned pid file; removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

/// Why the pid file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another live fence_virtd owns it.
    #[error("{program} is already running with pid {pid} (pid file {path})")]
    Running {
        /// Program name.
        program: String,
        /// Its pid.
        pid: i32,
        /// The pid file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("cannot write pid file {path}: {source}")]
    Io {
        /// The pid file.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
}

fn live_instance(path: &Path, program: &str) -> Option<i32> {
    let pid: i32 = fs::read_to_string(path).ok()?.trim().parse().ok()?;
    if pid <= 0 || pid == std::process::id() as i32 {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline).contains(program).then_some(pid)
}

impl PidFile {
    /// Writes our pid to `path`, unless it names a live process whose
    /// command line contains `program` (a stale file is replaced).
    pub fn create(path: &Path, program: &str) -> Result<Self, PidFileError> {
        if let Some(pid) = live_instance(path, program) {
            return Err(PidFileError::Running { program: program.to_string(), pid, path: path.to_path_buf() });
        }
        // Mode 0644 whatever the umask: others read the pid file.
        plumbing::fs::write_atomic(path, format!("{}\n", std::process::id()).as_bytes(), 0o644)
            .map_err(|source| PidFileError::Io { path: path.to_path_buf(), source })?;
        Ok(PidFile { path: path.to_path_buf() })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if fs::read_to_string(&self.path).ok().and_then(|s| s.trim().parse::<u32>().ok()) == Some(std::process::id()) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_temporary_is_never_opened_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virtd.pid");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        // The names our temporaries used to have, planted as symlinks: left alone.
        let pid = std::process::id();
        let planted = [format!("fence_virtd.tmp{pid}"), format!(".fence_virtd.pid.tmp{pid}")];
        for name in &planted {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        let own = PidFile::create(&path, "no-such-program-name").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "the symlink's target is untouched");
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "the pid file is a regular file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), pid.to_string());
        for name in &planted {
            assert!(fs::symlink_metadata(dir.path().join(name)).unwrap().file_type().is_symlink(), "{name} left alone");
        }
        drop(own);
    }

    #[test]
    fn refuses_a_live_instance_and_replaces_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virtd.pid");
        // pid 1 is alive; its command line is not ours, so the file is stale for us.
        fs::write(&path, "1\n").unwrap();
        let own = PidFile::create(&path, "no-such-program-name").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), std::process::id().to_string());
        drop(own);
        assert!(!path.exists(), "removed on drop");
        // A live process whose command line matches is refused.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let cmdline = format!("/proc/{}/cmdline", child.id());
        while !fs::read(&cmdline).unwrap_or_default().starts_with(b"sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        fs::write(&path, format!("{}\n", child.id())).unwrap();
        let err = PidFile::create(&path, "sleep").unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
