//! The run directory (`/run/heartbeat`): control socket, pid file,
//! generation counters. It is created mode 0700 and, when it already
//! exists, must be a real directory owned by this user and not writable
//! by group or other, so nobody else can plant files or links in it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::membership::replay::write_atomic;

/// File name of the pid file inside the run directory.
pub const PID_FILE: &str = "heartbeat.pid";

/// Creates `dir` (mode 0700, parents as needed) or checks the existing
/// one. Errors are one line naming the directory.
pub fn prepare(dir: &Path) -> io::Result<()> {
    let fail = |what: String| io::Error::new(io::ErrorKind::PermissionDenied, format!("{}: {what}", dir.display()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: cannot create the run directory: {e}", dir.display())))?;
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    if meta.file_type().is_symlink() {
        return Err(fail("the run directory is a symbolic link; refusing to use it".into()));
    }
    if !meta.is_dir() {
        return Err(fail("the run directory is not a directory".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(fail(format!("the run directory is owned by uid {}, not {me}; refusing to use it", meta.uid())));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(fail(format!(
            "the run directory is group/other writable (mode {mode:o}); refusing to use it (chmod 700 it)"
        )));
    }
    Ok(())
}

/// Writes this process's pid to `dir/heartbeat.pid` (atomically, never
/// through a symbolic link) and returns the path.
pub fn write_pid_file(dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(PID_FILE);
    write_atomic(&path, format!("{}\n", std::process::id()).as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_0700_and_open_or_linked_directories_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b/run");
        prepare(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        prepare(&dir).unwrap();
        for mode in [0o777, 0o770, 0o702, 0o1777] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = prepare(&dir).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", dir.display())) && e.contains("writable"), "{e}");
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(prepare(&link).unwrap_err().to_string().contains("symbolic link"));
        let file = base.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(prepare(&file).is_err());
    }

    #[test]
    fn pid_file_through_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(PID_FILE)).unwrap();
        let e = write_pid_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("heartbeat.pid: is a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        std::fs::remove_file(dir.path().join(PID_FILE)).unwrap();
        let path = write_pid_file(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), format!("{}\n", std::process::id()));
    }
}
