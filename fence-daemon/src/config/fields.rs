//! Reading typed values out of tree sections, with `file:line` context for
//! every error and warning.

use std::path::Path;
use std::str::FromStr;

use keys::HashAlgorithm;

use super::error::{ConfigError, Warning};
use super::tree::{ConfigTree, Section, Value};

/// The file being validated and the warnings collected so far.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub warnings: Vec<Warning>,
}

impl<'a> Ctx<'a> {
    pub fn new(path: &'a Path) -> Self {
        Ctx { path, warnings: Vec::new() }
    }

    pub fn error(&self, line: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(self.path, line, message)
    }

    pub fn warn(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.warnings.push(Warning::new(self.path, line, message));
    }
}

/// The section at a path (possibly absent: every key then takes its
/// default), remembered with its path for messages.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'t> {
    pub section: Option<&'t Section>,
    pub path: &'t str,
}

impl<'t> Reader<'t> {
    pub fn new(tree: &'t ConfigTree, path: &'t str) -> Self {
        Reader { section: tree.section(path), path }
    }

    /// The assignment that counts (the last one).
    pub fn entry(&self, key: &str) -> Option<&'t Value> {
        self.section.and_then(|s| s.entry(key))
    }

    /// Line of the section itself, when it exists.
    pub fn line(&self) -> Option<usize> {
        self.section.and_then(Section::line)
    }

    /// `path/key = "value": problem` at the value's line.
    pub fn bad_value(&self, ctx: &Ctx<'_>, value: &Value, problem: &str) -> ConfigError {
        ctx.error(value.line(), format!("{}/{} = \"{}\": {problem}", self.path, value.name(), value.value()))
    }

    /// Parses `key` with `parse`, which explains what it expected on error.
    pub fn parse<T>(
        &self,
        ctx: &Ctx<'_>,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.entry(key) {
            None => Ok(None),
            Some(value) => parse(value.value()).map(Some).map_err(|problem| self.bad_value(ctx, value, &problem)),
        }
    }

    /// A digest algorithm: none, sha1, sha256 or sha512 (case ignored).
    pub fn hash(&self, ctx: &Ctx<'_>, key: &str) -> Result<Option<HashAlgorithm>, ConfigError> {
        self.parse(ctx, key, |s| HashAlgorithm::from_str(s).map_err(|e| e.to_string()))
    }
}

/// A strict decimal integer (no leading/trailing junk, unlike atoi).
pub(crate) fn integer(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|_| "not a number".to_string())
}

/// A TCP/UDP port: 1 to 65535.
pub(crate) fn port(s: &str) -> Result<u16, String> {
    match integer(s) {
        Ok(n) => u16::try_from(n).ok().filter(|&p| p != 0).ok_or_else(|| "port out of range (1 to 65535)".to_string()),
        Err(_) => Err("not a port number (expected 1 to 65535)".to_string()),
    }
}

/// An on/off integer: nonzero is on.
pub(crate) fn flag(s: &str) -> Result<bool, String> {
    integer(s).map(|n| n != 0).map_err(|_| "not an integer (0 = off, nonzero = on)".to_string())
}

/// Warns about unknown keys and subsections of `section` and about
/// duplicates that shadow each other.
pub(crate) struct KeyCheck<'k> {
    /// Keys that are understood.
    pub keys: &'k [&'k str],
    /// Keys that may appear several times, all of them counting.
    pub repeatable: &'k [&'k str],
    /// Subsections that are understood.
    pub sections: &'k [&'k str],
    /// Subsections that may appear several times, all of them counting.
    pub repeatable_sections: &'k [&'k str],
    /// Extra test for understood keys (e.g. `uri1`, `uri2`, …).
    pub key_pattern: fn(&str) -> bool,
}

impl Default for KeyCheck<'_> {
    fn default() -> Self {
        KeyCheck { keys: &[], repeatable: &[], sections: &[], repeatable_sections: &[], key_pattern: |_| false }
    }
}

impl KeyCheck<'_> {
    pub fn run(&self, ctx: &mut Ctx<'_>, section: &Section, path: &str) {
        let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
        for value in section.values() {
            let name = value.name();
            let known = contains(self.keys, name) || (self.key_pattern)(name);
            if !known {
                let what = if path.is_empty() {
                    format!("assignment '{name}' outside any section is ignored")
                } else {
                    format!("unknown key '{name}' in {path} is ignored")
                };
                ctx.warn(value.line(), what);
            } else if !contains(self.repeatable, name) {
                if let Some(last) = section.entry(name).filter(|last| !std::ptr::eq(*last, value)) {
                    ctx.warn(value.line(), shadowed(&format!("'{prefix}{name}'"), last.line(), "value"));
                }
            }
        }
        for child in section.sections() {
            let name = child.name();
            if !contains(self.sections, name) {
                ctx.warn(child.line(), format!("unknown section '{prefix}{name}' is ignored"));
            } else if !contains(self.repeatable_sections, name) {
                if let Some(last) = section.section(name).filter(|last| !std::ptr::eq(*last, child)) {
                    let what = shadowed(&format!("section '{prefix}{name}'"), last.line(), "section");
                    ctx.warn(child.line(), format!("{what} (sections are not merged)"));
                }
            }
        }
    }
}

fn shadowed(what: &str, last_line: Option<usize>, kind: &str) -> String {
    match last_line {
        Some(line) => format!("{what} appears again on line {line}; only the last {kind} is used"),
        None => format!("{what} appears again; only the last {kind} is used"),
    }
}

fn contains(list: &[&str], name: &str) -> bool {
    list.iter().any(|k| k.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_numbers() {
        assert_eq!(port("1229"), Ok(1229));
        assert_eq!(port("65535"), Ok(65535));
        for bad in ["0", "65536", "70000", "-1", "x", "12x", " 1", ""] {
            assert!(port(bad).is_err(), "{bad}");
        }
        assert_eq!(flag("0"), Ok(false));
        assert_eq!(flag("2"), Ok(true));
        assert!(flag("yes").is_err());
    }

    #[test]
    fn key_check_warns_about_unknown_and_shadowed() {
        let text = "s { a = \"1\"; zz = \"2\"; a = \"3\"; sub { } k { } k { } }";
        let tree = ConfigTree::parse(text.as_bytes(), Path::new("f")).unwrap();
        let mut ctx = Ctx::new(Path::new("f"));
        let check = KeyCheck { keys: &["a"], sections: &["k"], ..KeyCheck::default() };
        check.run(&mut ctx, tree.section("s").unwrap(), "s");
        let texts: Vec<String> = ctx.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            texts,
            [
                "f:1: 's/a' appears again on line 1; only the last value is used",
                "f:1: unknown key 'zz' in s is ignored",
                "f:1: unknown section 's/sub' is ignored",
                "f:1: section 's/k' appears again on line 1; only the last section is used (sections are not merged)",
            ]
        );
    }
}
