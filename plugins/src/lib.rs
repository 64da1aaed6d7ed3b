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

/// Name and version of a built-in plugin, as `fence_virtd -l` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    /// Plugin name as used in `fence_virt.conf`.
    pub name: &'static str,
    /// Plugin version.
    pub version: &'static str,
    /// One-line description.
    pub description: &'static str,
}

/// Built-in listeners.
pub const LISTENERS: &[PluginInfo] = &[
    PluginInfo {
        name: "multicast",
        version: "1.3",
        description: "fence_xvm requests on a multicast group, answered over a TCP callback",
    },
    PluginInfo { name: "tcp", version: "0.2", description: "fence_virt -T requests over TCP" },
];

/// Built-in backends.
pub const BACKENDS: &[PluginInfo] = &[PluginInfo {
    name: "libvirt",
    version: "0.3",
    description: "libvirt domains (qemu:///system, test:///default, ...)",
}];
