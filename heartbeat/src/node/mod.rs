//! A running cluster node: `heartbeat run`.
//!
//! [`load`] reads the configuration and [`run`] starts the node
//! (`startup`); one thread then owns all state and reacts to events
//! (`event_loop`): messages from peers (`peers`), control commands
//! (`commands`, over [`control`]), and the reports of the threads that
//! run resource operations and fencing (`workers`), so heartbeats keep
//! flowing while a script runs. The decisions themselves are
//! [`cluster`]'s, free of I/O.

pub mod cluster;
mod commands;
pub mod control;
mod event_loop;
mod fence_speed;
pub mod log;
pub mod media;
mod peers;
pub mod ping;
mod report;
pub mod rundir;
mod signals;
mod startup;
pub mod watchdog_link;
mod workers;

pub use startup::{load, run, Loaded, Options, RunError};
