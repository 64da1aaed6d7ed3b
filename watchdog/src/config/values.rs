//! Value types shared by both formats: durations in seconds, commands,
//! priorities.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Formats a duration in seconds for messages: "5 s", "0.25 s".
pub fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        let text = format!("{:.3}", d.as_secs_f64());
        format!("{} s", text.trim_end_matches('0'))
    }
}

/// A duration from seconds, refusing negative, non-finite and (unless
/// `zero_ok`) zero values.
pub fn secs(value: f64, zero_ok: bool) -> Result<Duration, String> {
    if !value.is_finite() || value < 0.0 || (!zero_ok && value == 0.0) {
        let wanted = if zero_ok { "0 or more" } else { "more than 0" };
        return Err(format!("expected a number of seconds, {wanted}, got {value}"));
    }
    Duration::try_from_secs_f64(value).map_err(|_| format!("{value} seconds is too long"))
}

struct SecondsVisitor {
    zero_ok: bool,
}

impl Visitor<'_> for SecondsVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        secs(v as f64, self.zero_ok).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        secs(v as f64, self.zero_ok).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        secs(v, self.zero_ok).map_err(E::custom)
    }
}

/// Seconds greater than zero, as a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Positive(pub Duration);

impl<'de> serde::Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor { zero_ok: false }).map(Positive)
    }
}

/// Seconds, zero allowed, as a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NonNegative(pub Duration);

impl<'de> serde::Deserialize<'de> for NonNegative {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor { zero_ok: true }).map(NonNegative)
    }
}

/// Checks a SCHED_FIFO priority.
pub fn parse_priority(value: i64) -> Result<u8, String> {
    match u8::try_from(value) {
        Ok(p @ 1..=99) => Ok(p),
        _ => Err(format!("expected a real-time priority from 1 to 99, got {value}")),
    }
}

/// A load-average limit above 0, as a config value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadLimit(pub f64);

impl<'de> serde::Deserialize<'de> for LoadLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value: f64 = serde::Deserialize::deserialize(d)?;
        if value.is_finite() && value > 0.0 {
            Ok(LoadLimit(value))
        } else {
            Err(de::Error::custom(format!("expected a load above 0, got {value}")))
        }
    }
}

/// A client name that the feeding protocol accepts, as a config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeederName(pub String);

impl<'de> serde::Deserialize<'de> for FeederName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name: String = serde::Deserialize::deserialize(d)?;
        crate::feed::check_name(&name).map_err(|e| de::Error::custom(format!("feeder name: {e}")))?;
        Ok(FeederName(name))
    }
}

/// The user whose feeds count for a client: a user name or a uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeederUser(pub u32);

impl<'de> serde::Deserialize<'de> for FeederUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = FeederUser;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a user name or a uid")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FeederUser, E> {
                u32::try_from(v).map(FeederUser).map_err(|_| E::custom(format!("feeder user: no uid {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FeederUser, E> {
                match nix::unistd::User::from_name(v) {
                    Ok(Some(user)) => Ok(FeederUser(user.uid.as_raw())),
                    Ok(None) => Err(E::custom(format!("feeder user: no user `{v}` on this system"))),
                    Err(e) => Err(E::custom(format!("feeder user: cannot look up `{v}`: {e}"))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The name a pid file's process must have (as in `/proc/PID/comm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessName(pub String);

impl<'de> serde::Deserialize<'de> for ProcessName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name: String = serde::Deserialize::deserialize(d)?;
        if name.is_empty() || name.contains('/') || name.contains('\n') {
            return Err(de::Error::custom(format!("process: expected a process name, got `{name}`")));
        }
        Ok(ProcessName(name))
    }
}

/// A number of MiB, at least 1, as a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mib(pub u64);

impl<'de> serde::Deserialize<'de> for Mib {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value: u64 = serde::Deserialize::deserialize(d)?;
        if value == 0 {
            return Err(de::Error::custom("expected at least 1 MiB"));
        }
        Ok(Mib(value))
    }
}

/// A SCHED_FIFO priority, as a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority(pub u8);

impl<'de> serde::Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value: i64 = serde::Deserialize::deserialize(d)?;
        parse_priority(value).map(Priority).map_err(de::Error::custom)
    }
}

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl CommandLine {
    /// A program without arguments.
    pub fn program(program: impl Into<String>) -> Self {
        CommandLine { program: program.into(), args: Vec::new() }
    }

    /// A `std::process::Command` for it.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args);
        c
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for arg in &self.args {
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = CommandLine;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a program path, or an array of a program and its arguments")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandLine, E> {
        if v.trim().is_empty() {
            return Err(E::custom("the command is empty"));
        }
        Ok(CommandLine::program(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandLine, A::Error> {
        let mut words: Vec<String> = Vec::new();
        while let Some(word) = seq.next_element()? {
            words.push(word);
        }
        if words.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(de::Error::custom("the command is empty: give at least the program"));
        }
        let program = words.remove(0);
        Ok(CommandLine { program, args: words })
    }
}

impl<'de> serde::Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CommandVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_without_noise() {
        assert_eq!(show(Duration::from_secs(5)), "5 s");
        assert_eq!(show(Duration::from_millis(250)), "0.25 s");
    }

    #[test]
    fn seconds_refuse_negative_and_zero_where_it_matters() {
        assert_eq!(secs(1.5, false), Ok(Duration::from_millis(1500)));
        assert_eq!(secs(0.0, true), Ok(Duration::ZERO));
        assert!(secs(0.0, false).unwrap_err().contains("more than 0"));
        assert!(secs(-1.0, true).unwrap_err().contains("0 or more"));
    }

    #[test]
    fn priorities_are_1_to_99() {
        assert_eq!(parse_priority(99), Ok(99));
        assert!(parse_priority(0).unwrap_err().contains("from 1 to 99, got 0"));
        assert!(parse_priority(100).is_err());
    }

    #[test]
    fn commands_print_quoted_where_needed() {
        let c = CommandLine { program: "/bin/sh".into(), args: vec!["-c".into(), "exit 1".into()] };
        assert_eq!(c.to_string(), "/bin/sh -c \"exit 1\"");
    }
}
