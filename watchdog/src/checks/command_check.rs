//! A test command exits 0 within its time limit (Debian's `test-binary`).

use std::time::Duration;

use super::{Check, Failure};
use crate::config::CommandLine;

/// Runs the command on every check.
#[derive(Debug)]
pub struct TestCommand {
    command: CommandLine,
    timeout: Duration,
}

impl TestCommand {
    /// A check running `command` with a time limit.
    pub fn new(command: CommandLine, timeout: Duration) -> Self {
        TestCommand { command, timeout }
    }
}

impl Check for TestCommand {
    fn run(&mut self) -> Result<(), Failure> {
        crate::command::run(&self.command, &[], &[], self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_status_decides() {
        let sh = |s: &str| CommandLine { program: "/bin/sh".into(), args: vec!["-c".into(), s.into()] };
        assert_eq!(TestCommand::new(sh("true"), Duration::from_secs(5)).run(), Ok(()));
        let err = TestCommand::new(sh("exit 2"), Duration::from_secs(5)).run().unwrap_err();
        assert_eq!((err.reason.as_str(), err.code), ("`/bin/sh -c \"exit 2\"` exited with status 2", 2));
        let err = TestCommand::new(sh("sleep 5"), Duration::from_millis(100)).run().unwrap_err();
        assert!(err.reason.ends_with("did not finish within 0.1 s and was killed"), "{err:?}");
    }
}
