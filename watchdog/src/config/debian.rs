//! Debian's `/etc/watchdog.conf`, so users of that daemon can switch.
//!
//! Lines are `key = value`; `#` starts a comment line. Keys read:
//!
//! | key | meaning here |
//! |---|---|
//! | `watchdog-device`, `watchdog-timeout`, `interval` | the device, its timeout, seconds between keepalives |
//! | `pidfile` (repeatable) | a pidfile check |
//! | `ping` (repeatable) | a ping check (IP addresses only) |
//! | `interface` (repeatable) | an interface-traffic check |
//! | `max-load-1`, `max-load-5`, `max-load-15` | one load check (0 = off; 5 and 15 default to ¾ and ½ of 1, as Debian's) |
//! | `min-memory` | a memory check, in pages (0 = off) |
//! | `test-binary`, `test-timeout` | a test-command check |
//! | `repair-binary`, `repair-timeout` | the repair command |
//! | `file` (repeatable), `change` | a file check; `change` sets the largest age of the `file` before it |
//! | `retry-timeout` | the grace of every check (default 60) |
//! | `realtime`, `priority` | memory locking and SCHED_FIFO for the petting thread |
//!
//! Every check runs every `interval`. Other keys of Debian's daemon are
//! ignored with a warning; unknown keys are errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::values::{parse_priority, secs, CommandLine};
use super::{CheckKind, CheckSpec, Config, ConfigError, Loaded, Origin, DEFAULT_GRACE, DEFAULT_PING_TIMEOUT};

/// Keys of Debian's daemon that fence-watchdog does not act on.
const IGNORED: &[&str] = &[
    "admin",
    "allocatable-memory",
    "heartbeat-file",
    "heartbeat-stamps",
    "log-dir",
    "logtick",
    "max-temperature",
    "ping-count",
    "repair-maximum",
    "sigterm-delay",
    "temperature-device",
    "temperature-sensor",
    "test-directory",
    "verbose",
];

struct Parser<'a> {
    path: &'a Path,
    line: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, self.line, message)
    }

    fn origin(&self) -> Option<Origin> {
        Some(Origin { file: self.path.to_path_buf(), line: self.line })
    }

    fn whole(&self, key: &str, value: &str) -> Result<u64, ConfigError> {
        value.parse().map_err(|_| self.error(format!("{key}: expected a whole number, got `{value}`")))
    }

    fn seconds(&self, key: &str, value: &str, zero_ok: bool) -> Result<Duration, ConfigError> {
        let n = self.whole(key, value)?;
        secs(n as f64, zero_ok).map_err(|m| self.error(format!("{key}: {m}")))
    }

    fn yes_no(&self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Ok(true),
            "no" | "false" | "0" => Ok(false),
            _ => Err(self.error(format!("{key}: expected yes or no, got `{value}`"))),
        }
    }
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |p| p as u64)
}

/// Parses the Debian format; `path` names the file in errors and warnings.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let mut state = State::new(path);
    let mut p = Parser { path, line: 0 };
    for (index, raw) in text.lines().enumerate() {
        p.line = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(p.error(format!("expected `key = value`, got `{line}`")));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() {
            return Err(p.error(format!("{key}: missing value")));
        }
        state.apply(&p, key, value)?;
    }
    state.finish()
}

/// What the lines said so far. Checks are collected with their kinds
/// first: `interval` and `retry-timeout` may come after them.
struct State {
    config: Config,
    warnings: Vec<String>,
    checks: Vec<(CheckKind, Option<Origin>)>,
    last_file: Option<usize>,
    max1: Option<(f64, Option<Origin>)>,
    max5: Option<f64>,
    max15: Option<f64>,
    min_memory: Option<(u64, Option<Origin>)>,
    test: Option<(String, Option<Origin>)>,
    test_timeout: Duration,
    grace: Duration,
    interval_origin: Option<Origin>,
}

impl State {
    fn new(path: &Path) -> Self {
        State {
            config: Config { source: Some(path.to_path_buf()), ..Config::default() },
            warnings: Vec::new(),
            checks: Vec::new(),
            last_file: None,
            max1: None,
            max5: None,
            max15: None,
            min_memory: None,
            test: None,
            test_timeout: super::DEFAULT_COMMAND_TIMEOUT,
            grace: DEFAULT_GRACE,
            interval_origin: None,
        }
    }

    /// One `key = value` line.
    fn apply(&mut self, p: &Parser, key: &str, value: &str) -> Result<(), ConfigError> {
        let load = |v: &str| -> Result<f64, ConfigError> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| p.error(format!("{key}: expected a load of 0 or more, got `{v}`")))
        };
        let config = &mut self.config;
        match key {
            "watchdog-device" => config.device = PathBuf::from(value),
            "watchdog-timeout" => {
                let n = p.whole(key, value)?;
                config.timeout = u32::try_from(n)
                    .ok()
                    .filter(|&t| t > 0)
                    .ok_or_else(|| p.error(format!("{key}: expected 1 to {} seconds, got {value}", u32::MAX)))?;
                self.interval_origin = self.interval_origin.take().or(p.origin());
            }
            "interval" => {
                config.interval = p.seconds(key, value, false)?;
                self.interval_origin = p.origin();
            }
            "realtime" => config.realtime = p.yes_no(key, value)?,
            "priority" => {
                let n =
                    value.parse::<i64>().map_err(|_| p.error(format!("{key}: expected a number, got `{value}`")))?;
                config.priority = parse_priority(n).map_err(|m| p.error(format!("{key}: {m}")))?;
            }
            "retry-timeout" => self.grace = p.seconds(key, value, true)?,
            "repair-binary" => config.repair = Some(CommandLine::program(value)),
            "repair-timeout" => config.repair_timeout = p.seconds(key, value, false)?,
            "max-load-1" => self.max1 = Some((load(value)?, p.origin())),
            "max-load-5" => self.max5 = Some(load(value)?),
            "max-load-15" => self.max15 = Some(load(value)?),
            "min-memory" => self.min_memory = Some((p.whole(key, value)?, p.origin())),
            "test-binary" => self.test = Some((value.to_string(), p.origin())),
            "test-timeout" => self.test_timeout = p.seconds(key, value, false)?,
            _ if IGNORED.contains(&key) => self.warnings.push(format!(
                "{}:{}: `{key}` is not supported by fence-watchdog; ignored",
                p.path.display(),
                p.line
            )),
            _ => self.apply_check(p, key, value)?,
        }
        Ok(())
    }

    /// The keys that each add a check (`pidfile`, `ping`, `interface`,
    /// `file` and its `change`).
    fn apply_check(&mut self, p: &Parser, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "pidfile" => self.checks.push((CheckKind::pidfile(value), p.origin())),
            "ping" => {
                let target = value.parse().map_err(|_| {
                    p.error(format!("ping: expected an IP address, got `{value}` (host names are not resolved)"))
                })?;
                self.checks.push((CheckKind::Ping { target, timeout: DEFAULT_PING_TIMEOUT }, p.origin()));
            }
            "interface" => self.checks.push((CheckKind::Interface { name: value.to_string() }, p.origin())),
            "file" => {
                self.last_file = Some(self.checks.len());
                self.checks.push((CheckKind::File { path: value.into(), max_age: None }, p.origin()));
            }
            "change" => {
                let age = p.seconds(key, value, false)?;
                match self.last_file.and_then(|i| self.checks.get_mut(i)) {
                    Some((CheckKind::File { max_age, .. }, _)) => *max_age = Some(age),
                    _ => return Err(p.error("change: must follow a `file` line it applies to")),
                }
            }
            _ => return Err(p.error(format!("unknown key `{key}`"))),
        }
        Ok(())
    }

    /// The checks that several keys make up, the interval check, the result.
    fn finish(mut self) -> Result<Loaded, ConfigError> {
        let mut config = self.config;
        config.check_interval(self.interval_origin)?;
        // Debian's defaults: 5- and 15-minute limits follow the 1-minute one.
        if let Some((m1, origin)) = self.max1.filter(|(m, _)| *m > 0.0) {
            let max5 = Some(self.max5.unwrap_or(m1 * 3.0 / 4.0)).filter(|m| *m > 0.0);
            let max15 = Some(self.max15.unwrap_or(m1 / 2.0)).filter(|m| *m > 0.0);
            self.checks.push((CheckKind::Load { max1: Some(m1), max5, max15 }, origin));
        }
        if let Some((pages, origin)) = self.min_memory.filter(|(p, _)| *p > 0) {
            self.checks.push((CheckKind::Memory { min_available: pages.saturating_mul(page_size()) }, origin));
        }
        if let Some((program, origin)) = self.test {
            let test = CheckKind::Test { command: CommandLine::program(program), timeout: self.test_timeout };
            self.checks.push((test, origin));
        }
        let (interval, grace) = (config.interval, self.grace);
        config.checks =
            self.checks.into_iter().map(|(kind, origin)| CheckSpec { kind, interval, grace, origin }).collect();
        Ok((config, self.warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Loaded, String> {
        parse(text, Path::new("/etc/watchdog.conf")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_typical_debian_file_is_read() {
        let text = "\
# Debian's commented sample, trimmed
ping = 127.0.0.1
interface = eth0
file = /var/log/syslog
change = 1407
max-load-1 = 24
min-memory = 1
watchdog-device = /dev/watchdog
watchdog-timeout = 15
interval = 2
pidfile = /run/heartbeat.pid
test-binary = /usr/local/bin/check
test-timeout = 30
repair-binary = /usr/sbin/repair
repair-timeout = 20
retry-timeout = 10
realtime = yes
priority = 1
admin = root
";
        let (c, warnings) = parse_str(text).unwrap();
        assert_eq!(warnings, ["/etc/watchdog.conf:19: `admin` is not supported by fence-watchdog; ignored"]);
        assert_eq!((c.timeout, c.interval), (15, Duration::from_secs(2)));
        assert!(c.realtime);
        assert_eq!(c.repair, Some(CommandLine::program("/usr/sbin/repair")));
        assert_eq!(c.repair_timeout, Duration::from_secs(20));
        let kinds: Vec<&CheckKind> = c.checks.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds,
            [
                &CheckKind::Ping { target: "127.0.0.1".parse().unwrap(), timeout: DEFAULT_PING_TIMEOUT },
                &CheckKind::Interface { name: "eth0".into() },
                &CheckKind::File { path: "/var/log/syslog".into(), max_age: Some(Duration::from_secs(1407)) },
                &CheckKind::Pidfile { path: "/run/heartbeat.pid".into(), process: "heartbeat".into() },
                &CheckKind::Load { max1: Some(24.0), max5: Some(18.0), max15: Some(12.0) },
                &CheckKind::Memory { min_available: page_size() },
                &CheckKind::Test {
                    command: CommandLine::program("/usr/local/bin/check"),
                    timeout: Duration::from_secs(30)
                },
            ]
        );
        for check in &c.checks {
            // retry-timeout and interval come after the checks and still apply.
            assert_eq!((check.interval, check.grace), (Duration::from_secs(2), Duration::from_secs(10)));
        }
        assert_eq!(c.checks[3].origin.as_ref().unwrap().to_string(), "/etc/watchdog.conf:11");
    }

    #[test]
    fn zero_limits_turn_checks_off_as_in_debian() {
        let (c, _) = parse_str("max-load-1 = 0\nmin-memory = 0\n").unwrap();
        assert!(c.checks.is_empty());
    }

    #[test]
    fn bad_values_are_one_line_errors_with_file_and_line() {
        let cases = [
            (
                "watchdog-timeout = soon\n",
                "/etc/watchdog.conf:1: watchdog-timeout: expected a whole number, got `soon`",
            ),
            ("\nwatchdog-timeout = 0\n", "/etc/watchdog.conf:2: watchdog-timeout: expected 1 to"),
            ("interval = 0\n", "/etc/watchdog.conf:1: interval: expected a number of seconds, more than 0, got 0"),
            (
                "watchdog-timeout = 10\ninterval = 10\n",
                "/etc/watchdog.conf:2: interval (10 s) must be shorter than the watchdog timeout (10 s)",
            ),
            (
                "interval = 90\n",
                "/etc/watchdog.conf:1: interval (90 s) must be shorter than the watchdog timeout (60 s)",
            ),
            ("ping = gateway\n", "/etc/watchdog.conf:1: ping: expected an IP address, got `gateway`"),
            ("change = 30\n", "/etc/watchdog.conf:1: change: must follow a `file` line"),
            ("max-load-1 = lots\n", "/etc/watchdog.conf:1: max-load-1: expected a load of 0 or more, got `lots`"),
            ("realtime = maybe\n", "/etc/watchdog.conf:1: realtime: expected yes or no, got `maybe`"),
            ("priority = 0\n", "/etc/watchdog.conf:1: priority: expected a real-time priority from 1 to 99, got 0"),
            ("# ok\n\nwatchdog-devcie = /dev/watchdog\n", "/etc/watchdog.conf:3: unknown key `watchdog-devcie`"),
            ("pidfile\n", "/etc/watchdog.conf:1: expected `key = value`, got `pidfile`"),
            ("test-binary =\n", "/etc/watchdog.conf:1: test-binary: missing value"),
        ];
        for (text, wanted) in cases {
            let err = parse_str(text).map(|_| ()).expect_err(text);
            assert!(err.starts_with(wanted), "for {text:?}: got {err:?}, wanted {wanted:?}");
        }
    }
}
