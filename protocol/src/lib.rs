//! The fence_xvm wire protocol ("XVM 1.9.0"), byte-compatible with
//! fence-virt 4.12.
//!
//! * [`request`]: the 176-byte request, its signature and total parsing;
//! * [`auth`]: the two-way challenge/response over any async stream;
//! * [`codes`]: operation, hash and result codes;
//! * [`hostlist`]: the 130-byte host-list records;
//! * [`issued`]: the daemon's ledger of outstanding challenges.
//!
//! Defaults that both ends share (port, groups) live in [`defaults`].

pub mod auth;
pub mod codes;
pub mod hostlist;
pub mod issued;
pub mod request;

pub use codes::{Operation, ResultCode};
pub use hostlist::{DomainState, HostRecord};
pub use keys::HashAlgorithm;
pub use request::{RejectReason, Request, REQUEST_LEN};

/// Compiled-in defaults shared by clients and the daemon.
pub mod defaults {
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Port for multicast, TCP, vsock and VMChannel.
    pub const PORT: u16 = 1229;
    /// IPv4 multicast group.
    pub const IPV4_GROUP: Ipv4Addr = Ipv4Addr::new(225, 0, 0, 12);
    /// IPv6 multicast group (ff05::3:1).
    pub const IPV6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 3, 1);
    /// Multicast TTL / hop limit used by both ends.
    pub const MULTICAST_TTL: u32 = 2;
    /// Protocol version string printed by `-V`.
    pub const PROTOCOL_VERSION: &str = "1.9.0";
    /// Default VMChannel address of fence_virt's serial mode.
    pub const VMCHANNEL_ADDRESS: &str = "10.0.2.179";
    /// Default config file of fence_virtd.
    pub const CONFIG_FILE: &str = "/etc/fence_virt.conf";
    /// Default key file of both ends.
    pub use keys::DEFAULT_KEY_FILE as KEY_FILE;
}
