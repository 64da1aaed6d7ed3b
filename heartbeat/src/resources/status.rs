//! Reading a status result: the v1 text rule for heartbeat-style scripts
//! (spec §3.3), LSB exit codes for init scripts, OCF exit codes for agents
//! (§3.6).

/// What a status/monitor call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceState {
    /// Running.
    Running,
    /// Cleanly stopped.
    Stopped,
    /// Neither: the agent reported a failure (exit code, if any).
    Failed { code: Option<i32> },
}

impl ResourceState {
    /// Whether the resource runs.
    pub fn is_running(self) -> bool {
        self == ResourceState::Running
    }
}

/// The v1 rule for heartbeat-style scripts: only stdout counts, the exit
/// code is ignored. `[Nn][Oo][Tt] ` followed later by `[Rr]unning` →
/// stopped; else `[Rr]unning` or `OK` anywhere → running; else stopped.
pub fn from_status_text(stdout: &str) -> ResourceState {
    let mentions_running = |s: &str| s.contains("running") || s.contains("Running");
    let says_not_running = stdout.char_indices().filter(|(_, c)| *c == 'n' || *c == 'N').any(|(i, _)| {
        let rest = &stdout[i..];
        rest.len() >= 4 && rest.as_bytes()[..3].eq_ignore_ascii_case(b"not") && rest.as_bytes()[3] == b' ' && {
            mentions_running(&rest[4..])
        }
    });
    if says_not_running {
        ResourceState::Stopped
    } else if mentions_running(stdout) || stdout.contains("OK") {
        ResourceState::Running
    } else {
        ResourceState::Stopped
    }
}

/// LSB `status`: 0 running, 3 stopped, anything else failed (1 and 2 mean
/// "dead but pid/lock file exists", 4 "unknown").
pub fn from_lsb_code(code: Option<i32>) -> ResourceState {
    match code {
        Some(0) => ResourceState::Running,
        Some(3) => ResourceState::Stopped,
        code => ResourceState::Failed { code },
    }
}

/// OCF `monitor`: 0 running, 7 stopped, anything else failed.
pub fn from_ocf_code(code: Option<i32>) -> ResourceState {
    match code {
        Some(0) => ResourceState::Running,
        Some(7) => ResourceState::Stopped,
        code => ResourceState::Failed { code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceState::*;

    #[test]
    fn v1_text_rule() {
        assert_eq!(from_status_text("running"), Running);
        assert_eq!(from_status_text("INFO: IPaddr Running OK\n"), Running);
        assert_eq!(from_status_text("OK"), Running);
        assert_eq!(from_status_text("httpd (pid 123) is running..."), Running);
        assert_eq!(from_status_text("httpd is not running"), Stopped);
        assert_eq!(from_status_text("NOT Running"), Stopped);
        assert_eq!(from_status_text("Not currently running"), Stopped);
        assert_eq!(from_status_text("INFO: Resource is stopped"), Stopped);
        assert_eq!(from_status_text(""), Stopped);
        // Only [Rr]unning counts: RUNNING is not running; "ok" is not OK.
        assert_eq!(from_status_text("RUNNING"), Stopped);
        assert_eq!(from_status_text("ok"), Stopped);
        // "not" must be followed by a blank.
        assert_eq!(from_status_text("nothing-running"), Running);
        assert_eq!(from_status_text("not"), Stopped);
        assert_eq!(from_status_text("ñot running ünicode"), Running);
    }

    #[test]
    fn lsb_codes() {
        assert_eq!(from_lsb_code(Some(0)), Running);
        assert_eq!(from_lsb_code(Some(3)), Stopped);
        assert_eq!(from_lsb_code(Some(1)), Failed { code: Some(1) });
        assert_eq!(from_lsb_code(Some(7)), Failed { code: Some(7) });
        assert_eq!(from_lsb_code(None), Failed { code: None });
    }

    #[test]
    fn ocf_codes() {
        assert_eq!(from_ocf_code(Some(0)), Running);
        assert_eq!(from_ocf_code(Some(7)), Stopped);
        assert_eq!(from_ocf_code(Some(3)), Failed { code: Some(3) });
        assert_eq!(from_ocf_code(Some(1)), Failed { code: Some(1) });
        assert!(Running.is_running() && !Stopped.is_running());
    }
}
