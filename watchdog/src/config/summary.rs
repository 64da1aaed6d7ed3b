//! `fence-watchdog --check`: what a loaded configuration makes the service
//! do, one line per setting and per health check, for an admin to read
//! before starting it (and to compare across nodes).

use std::fmt::Write;

use super::{show_duration, Config, NowayoutPolicy, DEFAULT_CONFIG};

/// The summary of `config` (already loaded and validated).
pub fn summary(config: &Config) -> String {
    let mut out = match &config.source {
        Some(file) => format!("configuration: {} is valid\n", file.display()),
        None => format!("configuration: built-in defaults ({DEFAULT_CONFIG} does not exist)\n"),
    };
    let _ = writeln!(
        out,
        "device: {}, timeout {} s, petted every {}",
        config.device.display(),
        config.timeout,
        show_duration(config.interval)
    );
    let _ = match config.realtime {
        true => writeln!(out, "realtime: petting thread at SCHED_FIFO priority {}, memory locked", config.priority),
        false => writeln!(out, "realtime: off"),
    };
    let _ = writeln!(out, "feed socket: {}", config.feed_socket.display());
    let _ = writeln!(
        out,
        "on SIGTERM with nowayout: {}",
        match config.nowayout_sigterm {
            NowayoutPolicy::KeepPetting => "keep petting",
            NowayoutPolicy::Exit => "exit (the node resets)",
        }
    );
    if config.checks.is_empty() {
        out.push_str("checks: none (the device is petted while the service runs)\n");
    }
    for check in &config.checks {
        let at = check.origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "check: {} every {}, grace {}{at}",
            check.kind,
            show_duration(check.interval),
            show_duration(check.grace)
        );
    }
    let _ = match &config.repair {
        Some(command) => writeln!(out, "repair: `{command}` (timeout {})", show_duration(config.repair_timeout)),
        None => writeln!(out, "repair: none"),
    };
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::debian;

    #[test]
    fn the_summary_names_device_checks_and_where_each_was_configured() {
        let text = "watchdog-device = /dev/watchdog1\nwatchdog-timeout = 20\ninterval = 2\n\
                    ping = 198.18.0.1\nrepair-binary = /usr/sbin/repair\n";
        let (config, _) = debian::parse(text, Path::new("/etc/watchdog.conf")).unwrap();
        let summary = summary(&config);
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[0], "configuration: /etc/watchdog.conf is valid");
        assert_eq!(lines[1], "device: /dev/watchdog1, timeout 20 s, petted every 2 s");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("check: ping 198.18.0.1 every 2 s, grace ")
                    && l.ends_with("(/etc/watchdog.conf:4)")),
            "{summary}"
        );
        assert!(summary.contains("repair: `/usr/sbin/repair` (timeout "), "{summary}");
    }

    #[test]
    fn the_defaults_say_so() {
        let summary = summary(&Config::default());
        assert!(summary.starts_with("configuration: built-in defaults ("), "{summary}");
        assert!(summary.contains("checks: none"), "{summary}");
        assert!(summary.contains("repair: none"), "{summary}");
    }
}
