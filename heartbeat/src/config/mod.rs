//! The three Heartbeat configuration files, parsed into typed values.
//!
//! * [`hacf`] — `/etc/ha.d/ha.cf`: timings, media, nodes, policy, STONITH.
//! * [`authkeys`] — `/etc/ha.d/authkeys`: signing keys (HMAC).
//! * [`haresources`] — `/etc/ha.d/haresources`: resource groups.
//!
//! Every parser is total: any input yields a value or a [`ConfigError`],
//! never a panic. Errors and warnings print as one line,
//! `PATH:LINE: message` (or `PATH: message` when no single line is at
//! fault, e.g. "No heartbeat media defined").

use std::fmt;
use std::path::{Path, PathBuf};

pub mod authkeys;
pub mod hacf;
pub mod haresources;
pub mod value;

/// Where in a configuration file something was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number; `None` for whole-file findings.
    pub line: Option<usize>,
}

impl Location {
    /// A position at `line` (1-based) of `path`.
    pub fn line(path: &Path, line: usize) -> Self {
        Location { path: path.to_path_buf(), line: Some(line) }
    }

    /// The file as a whole.
    pub fn file(path: &Path) -> Self {
        Location { path: path.to_path_buf(), line: None }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path.display(), line),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// A fatal configuration problem: the daemon must not start.
///
/// Displays as one line, `PATH:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, in the wording of Heartbeat 3.0.6 where one exists.
    pub message: String,
}

impl ConfigError {
    /// An error about line `line` of `path`.
    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        ConfigError { location: Location::line(path, line), message: message.into() }
    }

    /// An error about `path` as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError { location: Location::file(path), message: message.into() }
    }
}

/// A non-fatal finding the operator should see (logged as WARN at start-up).
///
/// Displays as one line, `PATH:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the finding is.
    pub location: Location,
    /// What to look at.
    pub message: String,
}

impl Warning {
    /// A warning about line `line` of `path`.
    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Warning { location: Location::line(path, line), message: message.into() }
    }

    /// A warning about `path` as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Warning { location: Location::file(path), message: message.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Reads a configuration file as UTF-8 text.
///
/// A missing or unreadable file is an error naming the path; bytes that are
/// not UTF-8 are an error naming the line they are on.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::file(path, format!("cannot read file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        ConfigError::at(path, line, "line is not valid UTF-8 text")
    })
}

/// Splits `text` into `(line number, line)` pairs, 1-based.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn error_and_warning_print_as_path_line_message() {
        let p = Path::new("/etc/ha.d/ha.cf");
        assert_eq!(ConfigError::at(p, 7, "bad").to_string(), "/etc/ha.d/ha.cf:7: bad");
        assert_eq!(
            ConfigError::file(p, "No heartbeat media defined").to_string(),
            "/etc/ha.d/ha.cf: No heartbeat media defined"
        );
        assert_eq!(Warning::at(p, 3, "careful").to_string(), "/etc/ha.d/ha.cf:3: careful");
        assert_eq!(Warning::file(p, "careful").to_string(), "/etc/ha.d/ha.cf: careful");
    }

    #[test]
    fn read_text_reports_missing_file_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ha.cf");
        let err = read_text(&path).unwrap_err();
        assert_eq!(err.location, Location::file(&path));
        assert!(err.message.starts_with("cannot read file: "), "{err}");
    }

    #[test]
    fn read_text_reports_the_line_with_invalid_utf8() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"keepalive 1\ndeadtime 10\nnode \xff\xfe\n").unwrap();
        let err = read_text(file.path()).unwrap_err();
        assert_eq!(err.to_string(), format!("{}:3: line is not valid UTF-8 text", file.path().display()));
    }

    #[test]
    fn read_text_returns_the_contents() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all("node älpha\n".as_bytes()).unwrap();
        assert_eq!(read_text(file.path()).unwrap(), "node älpha\n");
    }
}
