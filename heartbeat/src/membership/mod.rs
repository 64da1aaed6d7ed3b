//! Membership: authenticated heartbeat messages and the replay guard.
//! (Media, link and node state tracking build on these.)

pub mod liveness;
pub mod message;
pub mod replay;
