//! Replacing a file atomically: readers see the old contents or the new,
//! never a mix, and a crash leaves one of the two.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `contents`, giving the file exactly `mode` (the
/// umask does not apply).
///
/// The contents go to a new temporary file with a random name
/// (`.NAME.XXXXXX.tmp`) in `path`'s directory, created exclusively, so a
/// symbolic link planted at any name is neither followed nor touched. The
/// file is synced, renamed over `path` and the directory synced, so the
/// replacement survives a crash. A symbolic link at `path` itself is
/// replaced, not followed; callers that must refuse one check before.
/// On error nothing is left behind and `path` is unchanged, unless only the
/// final directory sync failed (then `path` holds the new contents).
/// Errors carry the system's message only: callers name the file.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // `make_in` rather than `tempfile_in`: its errors are the system's own.
    let mut file = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").make_in(dir, create_new)?;
    file.as_file().set_permissions(Permissions::from_mode(mode))?;
    file.as_file_mut().write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    sync_directory(dir)
}

/// Creates `path` for writing, only if nothing (not even a dangling
/// symbolic link) is there; mode 0600 until the caller sets its own.
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).custom_flags(nix::libc::O_NOFOLLOW).mode(0o600).open(path)
}

/// Makes a rename in `dir` durable. Filesystems that cannot sync a
/// directory (`EINVAL`) are left as they are.
fn sync_directory(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_and_replaces_with_exactly_the_mode_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_atomic(&path, b"one\n", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        assert_eq!(mode(&path), 0o600);
        write_atomic(&path, b"two\n", 0o664).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert_eq!(mode(&path), 0o664, "the umask (usually 022) does not apply");
        assert_eq!(names(dir.path()), ["state"], "no temporary is left behind");
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("state");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"new\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
    }

    #[test]
    fn symlinks_planted_at_temporary_names_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("state");
        for planted in ["state.tmp", ".state.tmp", ".state.AAAAAA.tmp"] {
            std::os::unix::fs::symlink(&victim, dir.path().join(planted)).unwrap();
        }
        write_atomic(&path, b"new\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        assert_eq!(names(dir.path()), [".state.AAAAAA.tmp", ".state.tmp", "state", "state.tmp", "victim"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_and_the_target_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory at the target: rename(2) fails after the
        // temporary was written.
        let path = dir.path().join("state");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "kept\n").unwrap();
        let err = write_atomic(&path, b"new\n", 0o600).unwrap_err();
        assert!(err.kind() != io::ErrorKind::NotFound, "{err}");
        assert_eq!(names(dir.path()), ["state"]);
        assert_eq!(fs::read_to_string(path.join("inside")).unwrap(), "kept\n");
    }

    #[test]
    fn a_missing_directory_is_the_systems_plain_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("missing/state"), b"x", 0o600).unwrap_err();
        assert_eq!(err.to_string(), io::Error::from_raw_os_error(nix::libc::ENOENT).to_string());
        assert!(write_atomic(Path::new("/"), b"x", 0o600).is_err(), "a path without a file name");
    }
}
