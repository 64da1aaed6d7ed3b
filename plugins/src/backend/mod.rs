//! The backend trait: the thing that actually powers domains off and on.
//!
//! Backend calls block (libvirt is a blocking C library). Each backend
//! answers every call within a deadline even when its hypervisor hangs (the
//! libvirt backend runs calls on its own bounded [`workers`]); the
//! dispatcher runs them on tokio's blocking pool, with a deadline of its
//! own, and serializes calls per domain.

pub mod libvirt;
pub mod workers;

use std::time::Instant;

use protocol::HostRecord;

/// Power state as reported by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Running (also paused, crashed, …: anything but shut off).
    On,
    /// Shut off.
    Off,
}

/// A resolved domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainId {
    /// libvirt name.
    pub name: String,
    /// Canonical UUID text (lowercase).
    pub uuid: String,
}

/// Why a backend call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No domain with this name or UUID exists on any connection.
    #[error("domain '{0}' not found")]
    NotFound(String),
    /// The hypervisor could not be reached.
    #[error("hypervisor unavailable: {0}")]
    Unavailable(String),
    /// The operation was attempted and failed.
    #[error("{operation} of '{domain}' failed: {message}")]
    Failed {
        /// What was attempted.
        operation: &'static str,
        /// Which domain.
        domain: String,
        /// The hypervisor's message.
        message: String,
    },
    /// The hypervisor did not answer before the call's deadline (e.g.
    /// libvirtd is stopped); the call may still complete later.
    #[error("{operation} of '{target}': backend did not answer within {limit_secs} s")]
    NoAnswer {
        /// What was attempted.
        operation: &'static str,
        /// Which domain (or what else).
        target: String,
        /// How long the caller waited, in whole seconds.
        limit_secs: u64,
    },
    /// The domain did not reach the expected state before the deadline.
    #[error("{operation} of '{domain}' did not complete before the deadline")]
    Timeout {
        /// What was attempted.
        operation: &'static str,
        /// Which domain.
        domain: String,
    },
}

/// How `reboot` restarts a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebootMethod {
    /// Destroy, wait until it is off, start again (what the original does,
    /// without its fixed sleep). The guest gets a fresh QEMU process.
    #[default]
    Cycle,
    /// libvirt's hard reset: the guest's reset button. The QEMU process and
    /// its devices stay; the guest's CPUs restart at once.
    Reset,
}

/// A fencing backend.
pub trait Backend: Send + Sync + 'static {
    /// Plugin name.
    fn name(&self) -> &'static str;
    /// Resolves a domain by name or UUID.
    fn lookup(&self, domain: &str) -> Result<DomainId, BackendError>;
    /// Hard power-off; success if already off.
    fn off(&self, domain: &str) -> Result<(), BackendError>;
    /// Start; success if already running.
    fn on(&self, domain: &str, deadline: Instant) -> Result<(), BackendError>;
    /// Power-cycle or reset; returns once the new instance runs. A domain that
    /// is shut off is left off (as the original and its metadata say).
    fn reboot(&self, domain: &str, deadline: Instant) -> Result<(), BackendError>;
    /// Current power state.
    fn status(&self, domain: &str) -> Result<Power, BackendError>;
    /// Health of the backend itself (`monitor`).
    fn devstatus(&self) -> Result<(), BackendError>;
    /// Every domain, sorted by name ignoring case.
    fn host_list(&self) -> Result<Vec<HostRecord>, BackendError>;
}
