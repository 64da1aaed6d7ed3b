//! The plugins of fence_virtd: listeners (how requests arrive) and backends
//! (what fences a domain), each behind one trait.
//!
//! Listeners own the network: receiving, verifying, calling back,
//! challenge/response and writing the answer. They hand verified requests
//! to a [`listener::Dispatch`] implementation (the daemon's dispatcher),
//! which applies history, permissions and per-domain ordering before it
//! calls a [`backend::Backend`].

pub mod backend;
pub mod listener;
