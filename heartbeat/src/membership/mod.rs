//! Membership: authenticated heartbeat messages and their typed content
//! ([`cluster_message::ClusterMessage`]), the replay guard and the
//! per-medium intake that filters datagrams before they reach the node.
//! (Media, link and node state tracking build on these.)

pub mod announcement;
pub mod cluster_message;
pub mod intake;
pub mod liveness;
pub mod message;
pub mod names;
pub mod replay;
