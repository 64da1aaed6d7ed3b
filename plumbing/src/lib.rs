//! Plumbing shared by the suite's programs, so that none of it exists twice:
//!
//! * [`process`] — running a helper program (resource script, fence agent,
//!   health-check or repair command) with a deadline, cancellable, its
//!   process group killed on expiry, starting with no signal blocked and
//!   the normal scheduling policy whatever its parent runs under.
//! * [`fs`] — replacing a file atomically (state files, pid files, keys,
//!   configuration written by the wizard).
//! * [`icmp`] — ICMP echo packets (fence-watchdog's ping check,
//!   heartbeat's ping nodes).
//! * [`poll`] — checking a condition with back-off until a deadline
//!   (the libvirt backend's polling fallback).
//!
//! The log sink lives in the `logging` crate.

pub mod fs;
pub mod icmp;
pub mod poll;
pub mod process;
pub mod service_manager;
