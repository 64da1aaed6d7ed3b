//! The fencer: runs the agent of one `stonith_host` line (spec §5.4, §5.5)
//! with the calling convention described in the crate documentation.
//! Retrying, delays and takeover decisions belong to the caller; a fence
//! call can be cancelled ([`Cancel`]) when its reason is gone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tracing::{error, info};

use crate::agent::{AgentRef, FenceAction, StonithHost};
use plumbing::process::{self, Cancel, RunError};

/// Where agents given by name are looked up, in order.
pub const AGENT_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Why fencing (or the device check) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// No executable agent found.
    #[error("fence agent {name} not found (looked for {})", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    AgentNotFound { name: String, searched: Vec<PathBuf> },
    /// The agent could not be run, or did not finish in time and was killed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The agent exited non-zero (or was killed by a signal).
    #[error("{}", failed_text(agent, action, target.as_deref(), *code, stderr))]
    Failed { agent: PathBuf, action: &'static str, target: Option<String>, code: Option<i32>, stderr: String },
}

fn failed_text(agent: &Path, action: &str, target: Option<&str>, code: Option<i32>, stderr: &str) -> String {
    let what = match target {
        Some(victim) => format!("{action} of {victim}"),
        None => action.to_string(),
    };
    let how = match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_string(),
    };
    let mut text = format!("fence agent {} failed ({what}): {how}", agent.display());
    if let Some(last) = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        text.push_str(": ");
        text.push_str(last);
    }
    text
}

/// A node's power state as its fence agent reports it (`action=status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Exit 0: powered on (running, paused, anything but off).
    On,
    /// Exit 2: powered off.
    Off,
}

/// Fences other nodes with one `stonith_host` line (the one that applies to
/// this node).
#[derive(Debug, Clone)]
pub struct Fencer {
    host: StonithHost,
    action: FenceAction,
    timeout: Duration,
    search_dirs: Vec<PathBuf>,
}

impl Fencer {
    /// The fencer running `host`'s agent: fencing does `action`, and every
    /// call is killed after `timeout`. Names are looked up in [`AGENT_DIRS`].
    pub fn new(host: &StonithHost, action: FenceAction, timeout: Duration) -> Fencer {
        Fencer { host: host.clone(), action, timeout, search_dirs: AGENT_DIRS.iter().map(PathBuf::from).collect() }
    }

    /// Looks agent names up in `dirs` instead of [`AGENT_DIRS`].
    pub fn with_search_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.search_dirs = dirs;
        self
    }

    /// The agent as configured (for log lines).
    pub fn agent(&self) -> &AgentRef {
        &self.host.agent
    }

    /// The deadline of one agent call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The plug that powers `node`.
    pub fn plug_for<'a>(&'a self, node: &'a str) -> &'a str {
        self.host.plug_for(node)
    }

    /// The agent's path: the configured path, or the first executable
    /// regular file of that name in the search directories.
    pub fn resolve_agent(&self) -> Result<PathBuf, FenceError> {
        let candidates = match &self.host.agent {
            AgentRef::Path(path) => vec![path.clone()],
            AgentRef::Name(name) => self.search_dirs.iter().map(|d| d.join(name)).collect(),
        };
        candidates
            .iter()
            .find(|p| is_executable(p))
            .cloned()
            .ok_or_else(|| FenceError::AgentNotFound { name: self.host.agent.to_string(), searched: candidates })
    }

    /// Fences `victim` (blocking): `Ok` only when the agent exits 0.
    pub fn fence(&self, victim: &str) -> Result<(), FenceError> {
        self.fence_cancellable(victim, &Cancel::new())
    }

    /// [`Fencer::fence`], killed when `cancel` is cancelled (an error then).
    pub fn fence_cancellable(&self, victim: &str, cancel: &Cancel) -> Result<(), FenceError> {
        info!("Resetting node {victim} with [{}]", self.host.agent);
        match self.call(self.action.as_str(), Some(victim), cancel) {
            Ok(()) => {
                info!("node {victim} now reset.");
                Ok(())
            }
            Err(e @ FenceError::Run(RunError::Cancelled { .. })) => {
                info!("Fencing of {victim} cancelled: its reason is gone");
                Err(e)
            }
            Err(e) => {
                error!("Host {victim} not reset!");
                error!("{e}");
                Err(e)
            }
        }
    }

    /// `victim`'s power state (`action=status`; exit 0 on, 2 off, anything
    /// else an error).
    pub fn power_status(&self, victim: &str) -> Result<Power, FenceError> {
        match self.call("status", Some(victim), &Cancel::new()) {
            Ok(()) => Ok(Power::On),
            Err(FenceError::Failed { code: Some(2), .. }) => Ok(Power::Off),
            Err(e) => Err(e),
        }
    }

    /// Powers `node` on (`action=on`).
    pub fn power_on(&self, node: &str) -> Result<(), FenceError> {
        info!("Powering on node {node} with [{}]", self.host.agent);
        self.call("on", Some(node), &Cancel::new()).inspect_err(|e| error!("Node {node} not powered on: {e}"))
    }

    /// Checks the device (`action=monitor`): `Ok` when the agent exits 0.
    pub fn monitor(&self) -> Result<(), FenceError> {
        info!("Checking status of STONITH device [{}]", self.host.agent);
        self.probe()
    }

    /// [`Fencer::monitor`] without the log line saying it runs (a failure
    /// is still logged): for periodic checks.
    pub fn probe(&self) -> Result<(), FenceError> {
        self.call("monitor", None, &Cancel::new())
            .inspect_err(|e| error!("STONITH device {} not operational! {e}", self.host.agent))
    }

    /// The agent's stdin: configured pairs, then action, plug and nodename.
    fn stdin(&self, action: &str, victim: Option<&str>) -> String {
        let mut text = String::new();
        for (key, value) in &self.host.params.0 {
            text.push_str(&format!("{key}={value}\n"));
        }
        text.push_str(&format!("action={action}\n"));
        if let Some(victim) = victim {
            text.push_str(&format!("plug={}\nnodename={victim}\n", self.plug_for(victim)));
        }
        text
    }

    fn call(&self, action: &'static str, victim: Option<&str>, cancel: &Cancel) -> Result<(), FenceError> {
        let agent = self.resolve_agent()?;
        let input = self.stdin(action, victim);
        let output = process::run_cancellable(Command::new(&agent), Some(input.as_bytes()), self.timeout, cancel)?;
        if output.code() == Some(0) {
            return Ok(());
        }
        Err(FenceError::Failed {
            agent,
            action,
            target: victim.map(str::to_string),
            code: output.code(),
            stderr: output.stderr,
        })
    }
}

/// A regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests;
