//! A file exists and, optionally, was modified recently (Debian's
//! `file` and `change`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;

use super::{Check, Failure};
use crate::config::show_duration;

/// Checks a file's presence and age.
#[derive(Debug)]
pub struct FileCheck {
    path: PathBuf,
    max_age: Option<Duration>,
}

impl FileCheck {
    /// A check of `path`; with `max_age`, its modification time too.
    pub fn new(path: &Path, max_age: Option<Duration>) -> Self {
        FileCheck { path: path.to_path_buf(), max_age }
    }
}

impl Check for FileCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let meta = std::fs::metadata(&self.path).map_err(|e| {
            Failure::new(format!("{}: {e}", self.path.display()), Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        })?;
        let Some(max_age) = self.max_age else { return Ok(()) };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        // A time in the future counts as just now.
        let age = SystemTime::now().duration_since(modified).unwrap_or(Duration::ZERO);
        if age > max_age {
            return Err(Failure::new(
                format!(
                    "{} was last modified {} ago (max-age {})",
                    self.path.display(),
                    show_duration(Duration::from_secs(age.as_secs())),
                    show_duration(max_age)
                ),
                Errno::ESTALE,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_stale_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stamp");
        let mut exists = FileCheck::new(&path, None);
        let mut fresh = FileCheck::new(&path, Some(Duration::from_secs(60)));
        let err = exists.run().unwrap_err();
        assert_eq!(err.reason, format!("{}: No such file or directory (os error 2)", path.display()));
        std::fs::write(&path, "x").unwrap();
        assert_eq!(exists.run(), Ok(()));
        assert_eq!(fresh.run(), Ok(()));
        let old = SystemTime::now() - Duration::from_secs(120);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        assert_eq!(exists.run(), Ok(()), "without max-age only presence counts");
        let err = fresh.run().unwrap_err();
        assert!(err.reason.starts_with(&format!("{} was last modified 12", path.display())), "{err:?}");
        assert!(err.reason.ends_with("ago (max-age 60 s)"), "{err:?}");
    }
}
