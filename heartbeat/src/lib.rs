//! A compact Heartbeat 3.0.x compatible cluster core ("haresources" mode):
//! the foundation of the `heartbeat` program.
//!
//! * [`config`] — ha.cf, authkeys and haresources as typed values.
//! * [`membership`] — signed cluster messages, their typed content and
//!   replay protection.
//! * [`realtime`] — SCHED_FIFO and locked memory for the node (`realtime`).
//! * [`resources`] — resource scripts, LSB init scripts and OCF agents;
//!   resource groups.
//! * [`node`] — the running node: media, membership, failover, control socket.
//!
//! Fence agents are run by the `stonith` crate; ha.cf's `stonith_*`
//! directives are parsed here ([`config::hacf`]).

pub mod cli;
pub mod config;
pub mod membership;
pub mod node;
pub mod realtime;
pub mod resources;

#[cfg(test)]
mod testutil;
