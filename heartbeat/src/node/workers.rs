//! Work the node hands to threads of their own, so heartbeats keep
//! flowing while a script or fence agent runs: resource group operations,
//! group status checks, fences, power queries and fence device checks;
//! and what the node does with their reports.

use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::resources::GroupStatus;
use plumbing::process::{Cancel, RunError as AgentRunError};
use stonith::{FenceError, Power};

use super::cluster::{self, Action, CleanReason, GroupKey, GroupResult};
use super::event_loop::{Event, Node, Timer};

/// A finished fence-agent call.
pub(super) enum AgentReport {
    /// A fence of `node`.
    Fence { node: String, outcome: FenceOutcome },
    /// A power-state query of `node` (`None`: the agent could not tell).
    Power { node: String, power: Option<Power>, took: Duration },
    /// A check of the fence device (`None`: it did not answer).
    DeviceCheck { answered_in: Option<Duration> },
}

/// How a fence call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FenceOutcome {
    /// The agent reported success.
    Done,
    /// The agent failed (retried while the node still needs fencing).
    Failed,
    /// Killed because its reason was gone.
    Cancelled,
}

/// What the status check of a running group found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupHealth {
    /// Every resource runs.
    Running,
    /// Some resource stopped (or the check failed): the group died here.
    Died,
}

/// A resource group operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupOp {
    /// Start the group here.
    Start,
    /// Stop the group here.
    Stop,
}

/// Which check of the fence device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeviceCheck {
    /// The first, when the node becomes active (`monitor`: logs that it runs).
    First,
    /// The periodic re-check (`probe`: logs only a failure).
    Again,
}

/// Pause between fencing attempts (Heartbeat's).
const FENCE_RETRY: Duration = Duration::from_secs(5);

impl Node {
    /// Starts or stops group `key` on its own thread.
    pub(super) fn spawn_group_op(&self, key: GroupKey, op: GroupOp) {
        let group = self.groups[&key].clone();
        let runner = self.runner.clone();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let result = match op {
                GroupOp::Start => match runner.start_group(&group) {
                    Ok(()) => GroupResult::Started,
                    Err(e) => {
                        error!(crit = true, "{e}");
                        if e.rollback.is_some() {
                            GroupResult::StopFailed
                        } else {
                            GroupResult::StartFailed
                        }
                    }
                },
                GroupOp::Stop => match runner.stop_group(&group) {
                    Ok(()) => GroupResult::Stopped,
                    Err(_) => GroupResult::StopFailed,
                },
            };
            let _ = tx.send(Event::GroupDone(key, result));
        });
    }

    /// Checks each group running here on its own thread (one check per
    /// group at a time).
    pub(super) fn start_monitors(&mut self) {
        for info in self.cluster.groups().to_vec() {
            if self.cluster.local_group(&info.key) != cluster::LocalGroup::Running
                || self.monitoring.contains(&info.key)
            {
                continue;
            }
            let Some(group) = self.groups.get(&info.key).cloned() else { continue };
            self.monitoring.insert(info.key.clone());
            let runner = self.runner.clone();
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let health = match runner.group_status(&group) {
                    Ok(GroupStatus::All) => GroupHealth::Running,
                    _ => GroupHealth::Died,
                };
                let _ = tx.send(Event::Monitored { group: GroupKey::from(&group.key), health });
            });
        }
    }

    /// Checks the fence device (`monitor`) on its own thread; the answer's
    /// duration feeds the announced fence time.
    pub(super) fn check_fence_device(&mut self, check: DeviceCheck) {
        self.next_device_check = None;
        if let Some(fencer) = self.fencer.clone() {
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let answered = match check {
                    DeviceCheck::First => fencer.monitor(),
                    DeviceCheck::Again => fencer.probe(),
                };
                let answered_in = answered.ok().map(|_| started.elapsed());
                let _ = tx.send(Event::Agent(AgentReport::DeviceCheck { answered_in }));
            });
        }
    }

    /// Runs a fence of `node` on its own thread, cancellable.
    pub(super) fn spawn_fence(&mut self, node: String) {
        let Some(fencer) = self.fencer.clone() else { return };
        let cancel = Cancel::new();
        self.fencing_now.insert(node.clone(), cancel.clone());
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let outcome = match fencer.fence_cancellable(&node, &cancel) {
                Ok(()) => FenceOutcome::Done,
                Err(FenceError::Run(AgentRunError::Cancelled { .. })) => FenceOutcome::Cancelled,
                Err(_) => FenceOutcome::Failed,
            };
            let _ = tx.send(Event::Agent(AgentReport::Fence { node, outcome }));
        });
    }

    /// Asks the device for `node`'s power state on its own thread.
    pub(super) fn spawn_power_check(&self, node: String) {
        let Some(fencer) = self.fencer.clone() else { return };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let power = match fencer.power_status(&node) {
                Ok(power) => Some(power),
                Err(e) => {
                    warn!("Power status of {node} unknown: {e}");
                    None
                }
            };
            let _ = tx.send(Event::Agent(AgentReport::Power { node, power, took: started.elapsed() }));
        });
    }

    /// A fence agent call finished.
    pub(super) fn on_agent_report(&mut self, report: AgentReport) -> Vec<Action> {
        match report {
            AgentReport::Fence { node, outcome } => {
                self.fencing_now.remove(&node);
                match outcome {
                    FenceOutcome::Done => self.cluster.on_node_safe(&node, CleanReason::Fenced),
                    FenceOutcome::Failed if self.cluster.may_fence(&node) => {
                        error!("STONITH of {node} failed.  Retrying...");
                        self.timers.push((Instant::now() + FENCE_RETRY, Timer::Fence(node)));
                        Vec::new()
                    }
                    FenceOutcome::Failed | FenceOutcome::Cancelled => Vec::new(),
                }
            }
            AgentReport::Power { node, power, took } => {
                let mut actions = Vec::new();
                if power.is_some() {
                    actions.extend(self.device_answered_in(took));
                }
                match power {
                    Some(Power::Off) => actions.extend(self.cluster.on_power_off(&node)),
                    Some(Power::On) if self.cluster.needs_fencing(&node) => {
                        info!("node {node} is powered on: fencing it after the delay")
                    }
                    _ => {}
                }
                actions
            }
            AgentReport::DeviceCheck { answered_in } => {
                self.next_device_check = Some(Instant::now() + self.fence_speed.next_check_in());
                let Some(took) = answered_in else { return Vec::new() };
                self.device_answered_in(took)
            }
        }
    }

    /// A device query (monitor or status) answered in `took`: the fence
    /// time to announce follows it (logged when it changes).
    fn device_answered_in(&mut self, took: Duration) -> Vec<Action> {
        self.fence_speed.record_query(took);
        let estimate = self.fence_speed.estimate();
        let actions = self.cluster.set_fence_time(estimate);
        if !actions.is_empty() {
            info!(
                "STONITH device answered in {} ms: announcing a fence time of {} ms",
                took.as_millis(),
                estimate.as_millis()
            );
        }
        actions
    }
}
