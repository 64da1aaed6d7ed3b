//! Running a configured command (a test command, the repair command) with
//! a time limit; a command that overruns is killed with its process group.
//! Its output is passed on to the service's stdout and stderr.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use plumbing::process::{self, RunError};

use crate::checks::Failure;
use crate::config::{show_duration, CommandLine};

/// Runs `command` (with `extra_args` and `env` added), waiting at most
/// `timeout`; `Ok` when it exits 0.
///
/// The failure's code is the command's exit status, or an errno value
/// (`ETIMEDOUT`, `ENOENT`, …) when it overran, died by a signal or could
/// not start.
pub fn run(
    command: &CommandLine,
    extra_args: &[String],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), Failure> {
    use std::os::unix::process::ExitStatusExt;
    let mut cmd = command.command();
    cmd.args(extra_args).envs(env.iter().copied());
    let status = match process::run(cmd, None, timeout) {
        Ok(output) => {
            // The command's output goes where the service's own goes (the
            // console or journal), as when it inherited our stdout/stderr.
            use std::io::Write;
            let _ = std::io::stdout().write_all(output.stdout.as_bytes());
            let _ = std::io::stderr().write_all(output.stderr.as_bytes());
            output.status
        }
        Err(RunError::Spawn { source, .. }) => {
            return Err(Failure {
                reason: format!("`{command}` could not be started: {source}"),
                code: source.raw_os_error().unwrap_or(Errno::ENOEXEC as i32),
            })
        }
        Err(RunError::Timeout { .. }) => {
            return Err(Failure {
                reason: format!("`{command}` did not finish within {} and was killed", show_duration(timeout)),
                code: Errno::ETIMEDOUT as i32,
            })
        }
        Err(RunError::Wait { source, .. }) => {
            return Err(Failure {
                reason: format!("`{command}`: cannot wait for it: {source}"),
                code: source.raw_os_error().unwrap_or(Errno::ECHILD as i32),
            })
        }
        Err(RunError::Cancelled { .. }) => unreachable!("nothing cancels this run"),
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure { reason: format!("`{command}` exited with status {code}"), code }),
        (None, Some(signal)) => {
            let name = Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.as_str().to_string());
            Err(Failure { reason: format!("`{command}` was killed by {name}"), code: Errno::EINTR as i32 })
        }
        (None, None) => Err(Failure { reason: format!("`{command}` ended abnormally"), code: Errno::EINTR as i32 }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine { program: "/bin/sh".into(), args: vec!["-c".into(), script.into()] }
    }

    #[test]
    fn exit_zero_passes_and_other_statuses_say_which() {
        assert!(run(&sh("exit 0"), &[], &[], Duration::from_secs(5)).is_ok());
        let f = run(&sh("exit 3"), &[], &[], Duration::from_secs(5)).unwrap_err();
        assert_eq!(f.reason, "`/bin/sh -c \"exit 3\"` exited with status 3");
        assert_eq!(f.code, 3);
        let f = run(&sh("kill -TERM $$"), &[], &[], Duration::from_secs(5)).unwrap_err();
        assert!(f.reason.ends_with("was killed by SIGTERM"), "{}", f.reason);
    }

    #[test]
    fn an_overrunning_command_and_its_children_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let f = run(&sh(&script), &[], &[], Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(f.reason.ends_with("did not finish within 0.3 s and was killed"), "{}", f.reason);
        assert_eq!(f.code, Errno::ETIMEDOUT as i32);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the background child was killed with the group");
    }

    #[test]
    fn arguments_and_environment_are_passed_and_a_missing_program_is_named() {
        let f = run(&sh("exit $(( $0 + ${EXTRA} ))"), &["4".into()], &[("EXTRA", "3")], Duration::from_secs(5));
        assert_eq!(f.unwrap_err().code, 7);
        let f = run(&CommandLine::program("/nonexistent/check"), &[], &[], Duration::from_secs(5)).unwrap_err();
        assert!(f.reason.starts_with("`/nonexistent/check` could not be started: No such file"), "{}", f.reason);
        assert_eq!(f.code, Errno::ENOENT as i32);
    }
}
