//! The service's own TOML format (see `fence-watchdog.toml` beside the
//! crate for a commented example of every key).
//!
//! ```toml
//! [watchdog]
//! device = "/dev/watchdog"
//! timeout = 60
//! interval = 1
//!
//! [[feeder]]
//! name = "heartbeat"
//! grace = 10
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::values::{
    CommandLine, FeederName, FeederUser, LoadLimit, Mib, NonNegative, Positive, Priority, ProcessName,
};
use super::{CheckKind, CheckSpec, Config, ConfigError, NowayoutPolicy, Origin, DEFAULT_COMMAND_TIMEOUT};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    watchdog: WatchdogSection,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    pidfile: Vec<Spanned<PidfileCheck>>,
    #[serde(default)]
    feeder: Vec<Spanned<FeederCheck>>,
    #[serde(default)]
    ping: Vec<Spanned<PingCheck>>,
    #[serde(default)]
    interface: Vec<Spanned<InterfaceCheck>>,
    #[serde(default)]
    load: Vec<Spanned<LoadCheck>>,
    #[serde(default)]
    memory: Vec<Spanned<MemoryCheck>>,
    #[serde(default)]
    test: Vec<Spanned<TestCheck>>,
    #[serde(default)]
    file: Vec<Spanned<FileCheck>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WatchdogSection {
    device: Option<PathBuf>,
    timeout: Option<Spanned<u32>>,
    interval: Option<Spanned<Positive>>,
    realtime: Option<bool>,
    priority: Option<Priority>,
    feed_socket: Option<PathBuf>,
    repair_binary: Option<CommandLine>,
    repair_timeout: Option<Positive>,
    nowayout_sigterm: Option<NowayoutPolicy>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Defaults {
    interval: Option<Positive>,
    grace: Option<NonNegative>,
}

/// The schedule keys every check table accepts.
macro_rules! check_table {
    ($name:ident { $($(#[$meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct $name {
            $($(#[$meta])* $field: $ty,)*
            interval: Option<Positive>,
            grace: Option<NonNegative>,
        }
    };
}

check_table!(PidfileCheck {
    path: PathBuf,
    process: Option<ProcessName>,
});
check_table!(FeederCheck {
    name: FeederName,
    user: Option<FeederUser>,
});
check_table!(PingCheck {
    target: IpAddr,
    timeout: Option<Positive>,
});
check_table!(InterfaceCheck { name: String });
check_table!(LoadCheck {
    #[serde(rename = "max-1")]
    max1: Option<LoadLimit>,
    #[serde(rename = "max-5")]
    max5: Option<LoadLimit>,
    #[serde(rename = "max-15")]
    max15: Option<LoadLimit>,
});
check_table!(MemoryCheck { min_available_mib: Mib });
check_table!(TestCheck {
    command: CommandLine,
    timeout: Option<Positive>,
});
check_table!(FileCheck {
    path: PathBuf,
    max_age: Option<Positive>,
});

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

struct Builder<'a> {
    text: &'a str,
    path: &'a Path,
    interval: Duration,
    grace: Duration,
    checks: Vec<CheckSpec>,
}

impl Builder<'_> {
    fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        Origin { file: self.path.to_path_buf(), line: line_of(self.text, span.start) }
    }

    fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, line_of(self.text, span.start), message)
    }

    fn push(
        &mut self,
        span: std::ops::Range<usize>,
        kind: CheckKind,
        interval: Option<Positive>,
        grace: Option<NonNegative>,
    ) {
        let origin = Some(self.origin(span));
        self.checks.push(CheckSpec {
            kind,
            interval: interval.map_or(self.interval, |i| i.0),
            grace: grace.map_or(self.grace, |g| g.0),
            origin,
        });
    }
}

/// Parses the TOML format; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        ConfigError::at(path, line, e.message().trim().replace('\n', " "))
    })?;
    let defaults = Config::default();
    let w = file.watchdog;
    let mut config = Config {
        source: Some(path.to_path_buf()),
        device: w.device.unwrap_or(defaults.device),
        timeout: w.timeout.as_ref().map(|t| *t.get_ref()).unwrap_or(defaults.timeout),
        interval: w.interval.as_ref().map_or(defaults.interval, |i| i.get_ref().0),
        realtime: w.realtime.unwrap_or(defaults.realtime),
        priority: w.priority.map_or(defaults.priority, |p| p.0),
        feed_socket: w.feed_socket.unwrap_or(defaults.feed_socket),
        repair: w.repair_binary,
        repair_timeout: w.repair_timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.0),
        nowayout_sigterm: w.nowayout_sigterm.unwrap_or(defaults.nowayout_sigterm),
        checks: Vec::new(),
    };
    if let Some(t) = &w.timeout {
        if *t.get_ref() == 0 {
            return Err(ConfigError::at(path, line_of(text, t.span().start), "timeout must be at least 1 second"));
        }
    }
    // Point at the interval if it is given, else at the timeout.
    let span = w.interval.as_ref().map(|i| i.span()).or_else(|| w.timeout.as_ref().map(|t| t.span()));
    config.check_interval(span.map(|s| Origin { file: path.to_path_buf(), line: line_of(text, s.start) }))?;

    let mut b = Builder {
        text,
        path,
        interval: file.defaults.interval.map_or(config.interval, |i| i.0),
        grace: file.defaults.grace.map_or(super::DEFAULT_GRACE, |g| g.0),
        checks: Vec::new(),
    };
    for c in file.pidfile {
        let (span, c) = (c.span(), c.into_inner());
        let kind = match c.process {
            Some(process) => CheckKind::Pidfile { path: c.path, process: process.0 },
            None => CheckKind::pidfile(c.path),
        };
        b.push(span, kind, c.interval, c.grace);
    }
    for c in file.feeder {
        let (span, c) = (c.span(), c.into_inner());
        let uid = c.user.map_or(0, |u| u.0);
        b.push(span, CheckKind::Feeder { name: c.name.0, uid }, c.interval, c.grace);
    }
    for c in file.ping {
        let (span, c) = (c.span(), c.into_inner());
        let timeout = c.timeout.map_or(super::DEFAULT_PING_TIMEOUT, |t| t.0);
        b.push(span, CheckKind::Ping { target: c.target, timeout }, c.interval, c.grace);
    }
    for c in file.interface {
        let (span, c) = (c.span(), c.into_inner());
        b.push(span, CheckKind::Interface { name: c.name }, c.interval, c.grace);
    }
    for c in file.load {
        let (span, c) = (c.span(), c.into_inner());
        if c.max1.is_none() && c.max5.is_none() && c.max15.is_none() {
            return Err(b.error(span, "a [[load]] check needs at least one of max-1, max-5, max-15"));
        }
        let [max1, max5, max15] = [c.max1, c.max5, c.max15].map(|l| l.map(|l| l.0));
        b.push(span, CheckKind::Load { max1, max5, max15 }, c.interval, c.grace);
    }
    for c in file.memory {
        let (span, c) = (c.span(), c.into_inner());
        let min_available = c.min_available_mib.0.saturating_mul(1 << 20);
        b.push(span, CheckKind::Memory { min_available }, c.interval, c.grace);
    }
    for c in file.test {
        let (span, c) = (c.span(), c.into_inner());
        let timeout = c.timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.0);
        b.push(span, CheckKind::Test { command: c.command, timeout }, c.interval, c.grace);
    }
    for c in file.file {
        let (span, c) = (c.span(), c.into_inner());
        b.push(span, CheckKind::File { path: c.path, max_age: c.max_age.map(|a| a.0) }, c.interval, c.grace);
    }
    config.checks = b.checks;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, String> {
        parse(text, Path::new("/etc/fw.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = parse_str("").unwrap();
        assert_eq!(c.device, Path::new("/dev/watchdog"));
        assert_eq!(c.timeout, 60);
        assert_eq!(c.interval, Duration::from_secs(1));
        assert!(c.checks.is_empty());
        assert_eq!(c.nowayout_sigterm, NowayoutPolicy::KeepPetting);
    }

    #[test]
    fn every_check_kind_is_read_with_its_schedule_and_line() {
        let text = r#"
[watchdog]
device = "/dev/watchdog1"
timeout = 5
interval = 0.5
realtime = false
priority = 50
feed-socket = "/tmp/fw.sock"
repair-binary = ["/bin/sh", "-c", "echo repair"]
repair-timeout = 3
nowayout-sigterm = "exit"

[defaults]
interval = 2
grace = 4

[[pidfile]]
path = "/run/heartbeat.pid"

[[feeder]]
name = "heartbeat"
grace = 3
interval = 0.25

[[ping]]
target = "127.0.0.1"
timeout = 0.5

[[interface]]
name = "eth0"

[[load]]
max-1 = 24

[[memory]]
min-available-mib = 32

[[test]]
command = "/usr/local/bin/check"
timeout = 10
grace = 0

[[file]]
path = "/var/log/syslog"
max-age = 300
"#;
        let c = parse_str(text).unwrap();
        assert_eq!(c.device, Path::new("/dev/watchdog1"));
        assert_eq!((c.timeout, c.interval), (5, Duration::from_millis(500)));
        assert!(!c.realtime);
        assert_eq!(c.priority, 50);
        assert_eq!(c.feed_socket, Path::new("/tmp/fw.sock"));
        assert_eq!(c.repair.as_ref().unwrap().to_string(), "/bin/sh -c \"echo repair\"");
        assert_eq!(c.repair_timeout, Duration::from_secs(3));
        assert_eq!(c.nowayout_sigterm, NowayoutPolicy::Exit);
        let kinds: Vec<String> = c.checks.iter().map(|s| s.kind.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "pidfile /run/heartbeat.pid",
                "feeder heartbeat",
                "ping 127.0.0.1",
                "interface eth0",
                "load",
                "memory",
                "test /usr/local/bin/check",
                "file /var/log/syslog"
            ]
        );
        let pid = &c.checks[0];
        assert_eq!((pid.interval, pid.grace), (Duration::from_secs(2), Duration::from_secs(4)), "from [defaults]");
        assert_eq!(pid.origin.as_ref().unwrap().to_string(), "/etc/fw.toml:17", "the [[pidfile]] line");
        let feeder = &c.checks[1];
        assert_eq!((feeder.interval, feeder.grace), (Duration::from_millis(250), Duration::from_secs(3)));
        assert_eq!(
            c.checks[2].kind,
            CheckKind::Ping { target: "127.0.0.1".parse().unwrap(), timeout: Duration::from_millis(500) }
        );
        assert_eq!(c.checks[4].kind, CheckKind::Load { max1: Some(24.0), max5: None, max15: None });
        assert_eq!(c.checks[5].kind, CheckKind::Memory { min_available: 32 << 20 });
        assert_eq!(c.checks[6].grace, Duration::ZERO);
        assert_eq!(
            c.checks[7].kind,
            CheckKind::File { path: "/var/log/syslog".into(), max_age: Some(Duration::from_secs(300)) }
        );
    }

    #[test]
    fn feeders_name_their_user_and_pid_files_their_process() {
        let text = "[[feeder]]\nname = \"a\"\n[[feeder]]\nname = \"b\"\nuser = \"nobody\"\n\
                    [[feeder]]\nname = \"c\"\nuser = 1234\n\
                    [[pidfile]]\npath = \"/run/heartbeat.pid\"\n[[pidfile]]\npath = \"/run/x.pid\"\nprocess = \"sshd\"\n";
        let c = parse_str(text).unwrap();
        let kinds: Vec<&CheckKind> = c.checks.iter().map(|s| &s.kind).collect();
        let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("user nobody").uid.as_raw();
        assert_eq!(
            kinds,
            [
                &CheckKind::Pidfile { path: "/run/heartbeat.pid".into(), process: "heartbeat".into() },
                &CheckKind::Pidfile { path: "/run/x.pid".into(), process: "sshd".into() },
                &CheckKind::Feeder { name: "a".into(), uid: 0 },
                &CheckKind::Feeder { name: "b".into(), uid: nobody },
                &CheckKind::Feeder { name: "c".into(), uid: 1234 },
            ]
        );
    }

    #[test]
    fn bad_values_are_one_line_errors_with_file_and_line() {
        let cases = [
            ("[watchdog]\ntimeout = -5\n", "/etc/fw.toml:2:"),
            ("[watchdog]\ntimeout = 0\n", "/etc/fw.toml:2: timeout must be at least 1 second"),
            ("[watchdog]\n\ninterval = 0\n", "/etc/fw.toml:3: expected a number of seconds, more than 0, got 0"),
            (
                "[watchdog]\ninterval = \"fast\"\n",
                "/etc/fw.toml:2: invalid type: string \"fast\", expected a number of seconds",
            ),
            ("[watchdog]\npriority = 100\n", "/etc/fw.toml:2: expected a real-time priority from 1 to 99, got 100"),
            (
                "[watchdog]\ntimeout = 5\ninterval = 5\n",
                "/etc/fw.toml:3: interval (5 s) must be shorter than the watchdog timeout (5 s)",
            ),
            (
                "[watchdog]\nnowayout-sigterm = \"maybe\"\n",
                "/etc/fw.toml:2: unknown variant `maybe`, expected `keep-petting` or `exit`",
            ),
            ("[watchdog]\ndevcie = \"/dev/watchdog\"\n", "/etc/fw.toml:2: unknown field `devcie`"),
            ("[[ping]]\ntarget = \"gateway\"\n", "/etc/fw.toml:2: invalid IP address syntax"),
            ("\n[[feeder]]\nname = \"two words\"\n", "/etc/fw.toml:3: feeder name: "),
            ("[[test]]\ncommand = []\n", "/etc/fw.toml:2: the command is empty"),
            ("[[load]]\ngrace = 5\n", "/etc/fw.toml:1: a [[load]] check needs at least one of max-1, max-5, max-15"),
            ("[[load]]\nmax-1 = -1\n", "/etc/fw.toml:2: expected a load above 0, got -1"),
            ("[[memory]]\nmin-available-mib = 0\n", "/etc/fw.toml:2: expected at least 1 MiB"),
            (
                "[[file]]\npath = \"/x\"\nmax-age = -3\n",
                "/etc/fw.toml:3: expected a number of seconds, more than 0, got -3",
            ),
            ("[[pidfile]]\n", "/etc/fw.toml:1: missing field `path`"),
            ("[[pidfile]]\npath = \"/x\"\nprocess = \"a/b\"\n", "/etc/fw.toml:3: process: expected a process name"),
            (
                "[[feeder]]\nname = \"app\"\nuser = \"no-such-user-here\"\n",
                "/etc/fw.toml:3: feeder user: no user `no-such-user-here` on this system",
            ),
            ("[[feeder]]\nname = \"app\"\nuser = -1\n", "/etc/fw.toml:3: feeder user: no uid -1"),
            ("[watchdog\n", "/etc/fw.toml:1:"),
        ];
        for (text, wanted) in cases {
            let err = parse_str(text).expect_err(text);
            assert!(err.starts_with(wanted), "for {text:?}: got {err:?}, wanted {wanted:?}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }
}

#[cfg(test)]
mod example {
    use super::*;

    /// The shipped, commented example must parse to the defaults, and
    /// every commented-out check in it must parse too.
    #[test]
    fn the_documented_example_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fence-watchdog.toml"));
        let text = std::fs::read_to_string(path).unwrap();
        let mut config = parse(&text, path).unwrap();
        config.source = None;
        assert_eq!(config, Config::default());
        let uncommented: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").filter(|r| r.starts_with('[') || r.contains(" = ")).unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let all = parse(&uncommented, path).unwrap();
        assert_eq!(all.checks.len(), 8, "one of each kind");
        assert!(all.repair.is_some());
    }
}
