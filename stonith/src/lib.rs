//! STONITH ("shoot the other node in the head") through fence-agents-style
//! agents, as heartbeat's `stonith_host` lines configure it. This crate
//! only runs agents: it links no libvirt and knows nothing of ha.cf syntax
//! (heartbeat parses the lines into the [`StonithHost`] values used here).
//!
//! # The calling convention
//!
//! It is the one of the fence-agents project (`fence_ipmilan`,
//! `fence_xvm`, …):
//!
//! * The agent is an absolute path, or a file name looked up at each call
//!   in [`AGENT_DIRS`] (`/usr/sbin`, then `/sbin`); the first executable
//!   regular file wins.
//! * It gets no arguments. Its stdin carries one `key=value` line per
//!   configured parameter, in the order written, followed by the lines the
//!   caller sets itself ([`RESERVED_KEYS`]; a configuration must not set
//!   them): `action=ACTION`, and for an action aimed at a node
//!   `plug=PLUG` and `nodename=NODE`. The plug is the node's name unless
//!   the `host_map=node1:plug1;node2:plug2` parameter maps it; `host_map`
//!   itself is not passed.
//! * Actions: `reboot` or `off` to fence ([`FenceAction`]), `on` to power
//!   a node on, `status` for its power state, `monitor` (no plug) to check
//!   the device.
//! * Exit code 0 means done (for `status`: powered on); for `status`, 2
//!   means powered off; anything else, or death by a signal, is a failure
//!   reported with the last line the agent wrote to stderr.
//! * Every call is bounded by a timeout (heartbeat's `stonith_timeout`) and
//!   can be cancelled ([`Cancel`]) when its reason is gone; either way the
//!   agent's whole process group is killed (through [`plumbing::process`]).
//!
//! Log lines follow Heartbeat's (`Resetting node N with [AGENT]`,
//! `node N now reset.`, `Host N not reset!`, `Checking status of STONITH
//! device [AGENT]`). Parameter values are never logged: they include
//! passwords.
//!
//! # Test helpers
//!
//! The `testutil` cargo feature (off by default) makes `stonith::testutil`
//! public: log capture, executable scripts and a call recorder shared by
//! this crate's tests and heartbeat's (whose dev-dependency on this crate
//! enables it), so they exist once. Programs never enable it.

mod agent;
mod fencer;

pub use agent::{AgentRef, FenceAction, FenceParams, StonithFrom, StonithHost, RESERVED_KEYS};
pub use fencer::{FenceError, Fencer, Power, AGENT_DIRS};
pub use plumbing::process::{Cancel, RunError};

#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
