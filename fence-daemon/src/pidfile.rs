//! The pid file: refuses a second instance, removed on exit.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
        let io_err = |source| PidFileError::Io { path: path.to_path_buf(), source };
        let name = path.file_name().ok_or_else(|| io_err(io::Error::other("not a file path")))?;
        let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
        let write = || -> io::Result<()> {
            let mut file = create_exclusive(&tmp)?;
            // The umask may be stricter; others read the pid file.
            file.set_permissions(fs::Permissions::from_mode(0o644))?;
            writeln!(file, "{}", std::process::id())?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(e)
        })?;
        Ok(PidFile { path: path.to_path_buf() })
    }
}

/// Creates `tmp` new (`O_CREAT|O_EXCL|O_NOFOLLOW`): never writes through a
/// planted symlink or into someone else's file. A leftover of ours (or a
/// planted name) is removed — `unlink` does not follow links — and the
/// creation tried once more.
fn create_exclusive(tmp: &Path) -> io::Result<fs::File> {
    let open = || {
        fs::OpenOptions::new().write(true).create_new(true).custom_flags(nix::libc::O_NOFOLLOW).mode(0o644).open(tmp)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(tmp)?;
            open()
        }
        other => other,
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
    use super::*;

    #[test]
    fn the_temporary_is_never_opened_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virtd.pid");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        // Every name a temporary of ours could have, planted as a symlink.
        let pid = std::process::id();
        for name in [format!("fence_virtd.tmp{pid}"), format!(".fence_virtd.pid.tmp{pid}")] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        let own = PidFile::create(&path, "no-such-program-name").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "the symlink's target is untouched");
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "the pid file is a regular file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), pid.to_string());
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
