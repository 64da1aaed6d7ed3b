//! Errors and warnings about a configuration file, each one line naming the
//! file and, where there is one, the line (and column) concerned.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, broadly; the message says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read (missing, unreadable, a directory …).
    Io(io::ErrorKind),
    /// The text does not follow the fence_virt.conf grammar.
    Syntax,
    /// The text parses but a value is missing, unknown or out of range.
    Invalid,
    /// The configuration is valid but does not fit this host (e.g. an
    /// interface that does not exist); see `DaemonConfig::check_host`.
    Host,
}

/// A configuration error: `FILE[:LINE[:COLUMN]]: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Broad category of the error.
    pub kind: ConfigErrorKind,
    /// The configuration file the error is about.
    pub path: PathBuf,
    /// 1-based line, when the error is about a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), for syntax errors.
    pub column: Option<usize>,
    /// What is wrong, without the location prefix.
    pub message: String,
}

impl ConfigError {
    /// An error of `kind` at an optional line and column of `path`.
    pub fn new(
        kind: ConfigErrorKind,
        path: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError { kind, path: path.to_path_buf(), line, column, message: message.into() }
    }

    /// A syntax error at `line`:`column`.
    pub fn syntax(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self::new(ConfigErrorKind::Syntax, path, Some(line), Some(column), message)
    }

    /// A validation error, at `line` when known.
    pub fn invalid(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::new(ConfigErrorKind::Invalid, path, line, None, message)
    }

    /// The file could not be read.
    pub fn io(path: &Path, err: &io::Error) -> Self {
        Self::new(ConfigErrorKind::Io(err.kind()), path, None, None, format!("cannot read file: {err}"))
    }

    /// True when the file does not exist (the wizard offers to start from scratch).
    pub fn is_not_found(&self) -> bool {
        self.kind == ConfigErrorKind::Io(io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.path, self.line, self.column)?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Something accepted but probably not what was meant (an unknown key, a
/// shadowed duplicate …): `FILE[:LINE]: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The configuration file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is odd, without the location prefix.
    pub message: String,
}

impl Warning {
    /// A warning about `path`, at `line` when known.
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Warning { path: path.to_path_buf(), line, message: message.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.path, self.line, None)?;
        f.write_str(&self.message)
    }
}

fn write_location(f: &mut fmt::Formatter<'_>, path: &Path, line: Option<usize>, column: Option<usize>) -> fmt::Result {
    write!(f, "{}:", path.display())?;
    if let Some(line) = line {
        write!(f, "{line}:")?;
        if let Some(column) = column {
            write!(f, "{column}:")?;
        }
    }
    f.write_str(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_location_prefix() {
        let p = Path::new("/etc/fence_virt.conf");
        let e = ConfigError::syntax(p, 12, 5, "expected ';' after value of 'port'");
        assert_eq!(e.to_string(), "/etc/fence_virt.conf:12:5: expected ';' after value of 'port'");
        let e = ConfigError::invalid(p, Some(3), "bad");
        assert_eq!(e.to_string(), "/etc/fence_virt.conf:3: bad");
        let e = ConfigError::invalid(p, None, "missing");
        assert_eq!(e.to_string(), "/etc/fence_virt.conf: missing");
        assert_eq!(Warning::new(p, Some(7), "odd").to_string(), "/etc/fence_virt.conf:7: odd");
    }

    #[test]
    fn not_found_is_recognised() {
        let err = io::Error::from(io::ErrorKind::NotFound);
        assert!(ConfigError::io(Path::new("x"), &err).is_not_found());
        assert!(!ConfigError::invalid(Path::new("x"), None, "m").is_not_found());
    }
}
