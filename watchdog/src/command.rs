//! Running a configured command (a test command, the repair command) with
//! a time limit; a command that overruns is killed with its process group.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

use crate::checks::Failure;
use crate::config::{show_duration, CommandLine};

/// Makes `command`'s child start with no signal blocked. A daemon that
/// takes its termination signals on one thread blocks them in every
/// thread, and a child inherits the spawning thread's mask (std does not
/// clear it): a program it starts would ignore `kill` — a resource script
/// stopping its service would wait for its SIGKILL fallback.
pub fn clear_signal_mask(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; pthread_sigmask is
    // async-signal-safe and touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(std::io::Error::from)
        });
    }
}

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
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut cmd = command.command();
    cmd.args(extra_args).envs(env.iter().copied()).stdin(Stdio::null()).process_group(0);
    clear_signal_mask(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| Failure {
        reason: format!("`{command}` could not be started: {e}"),
        code: e.raw_os_error().unwrap_or(Errno::ENOEXEC as i32),
    })?;
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                return Err(Failure {
                    reason: format!("`{command}` did not finish within {} and was killed", show_duration(timeout)),
                    code: Errno::ETIMEDOUT as i32,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(Failure {
                    reason: format!("`{command}`: cannot wait for it: {e}"),
                    code: e.raw_os_error().unwrap_or(Errno::ECHILD as i32),
                })
            }
        }
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
    fn a_command_starts_with_no_signal_blocked() {
        // The service blocks SIGTERM/SIGINT/SIGHUP in its threads; a test
        // command must not inherit that. grep directly: dash clears the mask.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mask");
        let handle = std::thread::spawn({
            let out = out.clone();
            move || {
                let mut set = SigSet::empty();
                set.add(Signal::SIGTERM);
                pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).unwrap();
                let mut cmd = Command::new("grep");
                cmd.args(["SigBlk", "/proc/self/status"]).stdout(std::fs::File::create(&out).unwrap());
                clear_signal_mask(&mut cmd);
                cmd.status().unwrap()
            }
        });
        assert!(handle.join().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text.split_whitespace().nth(1), Some("0000000000000000"), "{text}");
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
