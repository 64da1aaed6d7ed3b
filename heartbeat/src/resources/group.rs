//! Resource groups (spec §3.4): start left→right, stop right→left, status
//! ALL/SOME/NONE.

use std::fmt;

use tracing::{error, info};

use super::{ResourceError, ResourceRunner};
use crate::config::haresources::ResourceGroup;

/// How much of a group runs here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStatus {
    /// Every resource runs.
    All,
    /// Some, not all.
    Some,
    /// None.
    None,
}

/// A resource of a group failed.
#[derive(Debug, thiserror::Error)]
#[error("resource {resource} of group {group}: {cause}")]
pub struct GroupError {
    /// The group's key.
    pub group: String,
    /// The failing resource, as written in haresources.
    pub resource: String,
    /// What happened.
    pub cause: ResourceError,
}

/// Starting a group failed; what was started has been released again
/// (unless `rollback` says that failed too).
#[derive(Debug)]
pub struct GroupStartError {
    /// The resource whose status or start failed.
    pub failure: GroupError,
    /// A stop that failed while releasing the group again (the resources
    /// left of it are still running).
    pub rollback: Option<Box<GroupError>>,
}

impl fmt::Display for GroupStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Giving up resources due to failure of {}: {}", self.failure.resource, self.failure.cause)?;
        if let Some(rollback) = &self.rollback {
            write!(f, "; releasing the group failed too: {rollback}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GroupStartError {}

impl ResourceRunner {
    /// Acquires `group`: left to right, each resource's status first and a
    /// start only when it is not running. When a resource fails, the
    /// resources up to and including it are stopped again right to left
    /// (the failing one too, in case its start half-succeeded) and the
    /// error names it; resources right of it are not touched.
    pub fn start_group(&self, group: &ResourceGroup) -> Result<(), GroupStartError> {
        info!("Acquiring resource group: {}", describe(group));
        for (i, resource) in group.resources.iter().enumerate() {
            let (cause, attempted_start) = match self.status(resource) {
                Ok(state) if state.is_running() => continue,
                Ok(_) => match self.start(resource) {
                    Ok(()) => continue,
                    Err(cause) => (cause, true),
                },
                Err(cause) => (cause, false),
            };
            error!("Giving up resources due to failure of {}", resource.token);
            let failure = GroupError { group: group.key.clone(), resource: resource.token.clone(), cause };
            let release = if attempted_start { i + 1 } else { i };
            let rollback = self.stop_resources(group, release).err().map(Box::new);
            return Err(GroupStartError { failure, rollback });
        }
        Ok(())
    }

    /// Releases `group`: every resource stopped right to left (stops are
    /// idempotent, so this is safe for a group that is not running). Stops
    /// at the first failure, leaving the resources left of it running: a
    /// stop failure calls for fencing, not for pulling resources out from
    /// under a running one.
    pub fn stop_group(&self, group: &ResourceGroup) -> Result<(), GroupError> {
        info!("Releasing resource group: {}", describe(group));
        self.stop_resources(group, group.resources.len())
    }

    /// ALL / SOME / NONE of `group` running here.
    pub fn group_status(&self, group: &ResourceGroup) -> Result<GroupStatus, GroupError> {
        let mut running = 0;
        for resource in &group.resources {
            let state = self.status(resource).map_err(|cause| GroupError {
                group: group.key.clone(),
                resource: resource.token.clone(),
                cause,
            })?;
            running += usize::from(state.is_running());
        }
        Ok(match running {
            0 => GroupStatus::None,
            n if n == group.resources.len() => GroupStatus::All,
            _ => GroupStatus::Some,
        })
    }

    /// Stops the first `count` resources of `group`, right to left.
    fn stop_resources(&self, group: &ResourceGroup, count: usize) -> Result<(), GroupError> {
        for resource in group.resources[..count].iter().rev() {
            if let Err(cause) = self.stop(resource) {
                let err = GroupError { group: group.key.clone(), resource: resource.token.clone(), cause };
                error!("Resource STOP failure: {err}");
                return Err(err);
            }
        }
        Ok(())
    }
}

/// `HOME RES RES…` as in the v1 acquire/release log lines.
fn describe(group: &ResourceGroup) -> String {
    let mut text = group.home.clone();
    for r in &group.resources {
        text.push(' ');
        text.push_str(&r.token);
    }
    text
}
