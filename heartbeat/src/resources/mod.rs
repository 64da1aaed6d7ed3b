//! Running resource actions: heartbeat-style scripts, LSB init scripts and
//! OCF agents (spec §3.3–§3.6), one resource at a time or as a group.
//!
//! Every call has a deadline ([`ResourceRunner::timeout`]); on expiry the
//! program's process group is killed and the call fails. Each run is
//! logged as `Running PATH args… OP` (start/stop at info, status at debug);
//! the program's stderr goes to the debug log.

use std::path::PathBuf;
use std::time::Duration;

use tracing::{debug, error, info};

use crate::config::haresources::Resource;
use plumbing::process::{self, Output, RunError};

pub mod agent;
mod group;
pub mod status;

pub use agent::{resolve, Agent, HaPaths, Operation};
pub use group::{GroupError, GroupStartError, GroupStatus};
pub use status::ResourceState;

/// Deadline of one resource operation unless configured otherwise.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a resource operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// No program for the resource (v1: counts as a failure).
    #[error("Cannot locate resource script {name} (looked for {})", display_paths(searched))]
    NotFound { name: String, searched: Vec<PathBuf> },
    /// The program could not be run, or timed out and was killed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// start/stop ended with a non-zero exit (or a signal).
    #[error("{}", failure_text(path, *code, stderr))]
    Failed { path: PathBuf, code: Option<i32>, stderr: String },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `Return code N from PATH` (v1 wording), plus the last line of stderr.
fn failure_text(path: &std::path::Path, code: Option<i32>, stderr: &str) -> String {
    let head = match code {
        Some(code) => format!("Return code {code} from {}", path.display()),
        None => format!("{} was killed by a signal", path.display()),
    };
    match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(last) => format!("{head}: {last}"),
        None => head,
    }
}

/// Runs resource operations.
#[derive(Debug, Clone)]
pub struct ResourceRunner {
    /// Where programs are looked up.
    pub paths: HaPaths,
    /// Deadline of each operation.
    pub timeout: Duration,
    /// Extra environment for every program (e.g. the `HA_*` variables).
    pub env: Vec<(String, String)>,
}

impl ResourceRunner {
    /// A runner with the default deadline and no extra environment.
    pub fn new(paths: HaPaths) -> Self {
        ResourceRunner { paths, timeout: DEFAULT_OP_TIMEOUT, env: Vec::new() }
    }

    /// Starts `resource`; success is exit 0.
    pub fn start(&self, resource: &Resource) -> Result<(), ResourceError> {
        self.start_or_stop(resource, Operation::Start)
    }

    /// Stops `resource`; success is exit 0 (scripts must succeed when the
    /// resource is already stopped).
    pub fn stop(&self, resource: &Resource) -> Result<(), ResourceError> {
        self.start_or_stop(resource, Operation::Stop)
    }

    /// Asks whether `resource` runs: the v1 text rule for heartbeat-style
    /// scripts, LSB codes for init scripts (0 running, 3 stopped), OCF
    /// codes for agents (0 running, 7 stopped).
    pub fn status(&self, resource: &Resource) -> Result<ResourceState, ResourceError> {
        let (agent, output) = self.run(resource, Operation::Status)?;
        Ok(match agent {
            Agent::Heartbeat { .. } => status::from_status_text(&output.stdout),
            Agent::Lsb { .. } => status::from_lsb_code(output.code()),
            Agent::Ocf { .. } => status::from_ocf_code(output.code()),
        })
    }

    fn start_or_stop(&self, resource: &Resource, op: Operation) -> Result<(), ResourceError> {
        let (agent, output) = self.run(resource, op)?;
        if output.code() == Some(0) {
            return Ok(());
        }
        let err =
            ResourceError::Failed { path: agent.path().to_path_buf(), code: output.code(), stderr: output.stderr };
        error!("{err}");
        Err(err)
    }

    /// Resolves and runs one operation, logging it.
    fn run(&self, resource: &Resource, op: Operation) -> Result<(Agent, Output), ResourceError> {
        let agent = resolve(resource, &self.paths).inspect_err(|e| error!("{e}"))?;
        let line = agent.command_line(op);
        if op == Operation::Status {
            debug!("Running {line}");
        } else {
            info!("Running {line}");
        }
        let mut command = agent.command(op, &self.paths, self.timeout);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = process::run(command, None, self.timeout).inspect_err(|e| error!("{e}"))?;
        for l in output.stderr.lines() {
            debug!("{}: {l}", agent.path().display());
        }
        Ok((agent, output))
    }
}

#[cfg(test)]
mod tests;
