//! The one registry of listener and backend plugins fence_virtd knows by
//! name: what the configuration checker accepts, what the wizard and
//! `fence_virtd -l` list and what the server can run.

/// What a plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// Accepts requests from fencing clients (`fence_virtd/listener`).
    Listener,
    /// Carries requests out (`fence_virtd/backend`).
    Backend,
}

impl PluginKind {
    /// The word used in the configuration and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Listener => "listener",
            PluginKind::Backend => "backend",
        }
    }
}

/// Every plugin of the original fence_virtd, in the order messages list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginId {
    /// Multicast requests with TCP call-back (fence_xvm).
    Multicast,
    /// Direct TCP (fence_virt -T).
    Tcp,
    /// AF_VSOCK (fence_virt -S).
    Vsock,
    /// Serial / VMChannel sockets of guests.
    Serial,
    /// Local libvirt connections.
    Libvirt,
    /// Corosync CPG forwarding.
    Cpg,
}

impl PluginId {
    /// This plugin's registry entry.
    pub fn plugin(self) -> &'static Plugin {
        &PLUGINS[self as usize]
    }

    /// The name used in the configuration.
    pub fn name(self) -> &'static str {
        self.plugin().name
    }
}

/// One entry of the registry.
#[derive(Debug)]
pub struct Plugin {
    /// Which plugin.
    pub id: PluginId,
    /// The name used in the configuration (compared without case).
    pub name: &'static str,
    /// Listener or backend.
    pub kind: PluginKind,
    /// The version the original's plugin of this name reports (listed by
    /// the wizard and `-l` for implemented plugins).
    pub version: &'static str,
    /// One line for `fence_virtd -l`.
    pub description: &'static str,
    /// Whether this fence_virtd can run it. The configuration checker
    /// accepts every plugin; only implemented ones are offered or started.
    pub implemented: bool,
}

use PluginKind::{Backend, Listener};

/// Every known plugin, indexed by [`PluginId`].
pub const PLUGINS: &[Plugin] = &[
    Plugin {
        id: PluginId::Multicast,
        name: "multicast",
        kind: Listener,
        version: "1.3",
        description: "fence_xvm requests on a multicast group, answered over a TCP callback",
        implemented: true,
    },
    Plugin {
        id: PluginId::Tcp,
        name: "tcp",
        kind: Listener,
        version: "0.2",
        description: "fence_virt -T requests over TCP",
        implemented: true,
    },
    Plugin {
        id: PluginId::Vsock,
        name: "vsock",
        kind: Listener,
        version: "0.2",
        description: "fence_virt -S requests over AF_VSOCK",
        implemented: false,
    },
    Plugin {
        id: PluginId::Serial,
        name: "serial",
        kind: Listener,
        version: "0.5",
        description: "fence_virt requests over guests' serial or VMChannel sockets",
        implemented: false,
    },
    Plugin {
        id: PluginId::Libvirt,
        name: "libvirt",
        kind: Backend,
        version: "0.3",
        description: "libvirt domains (qemu:///system, test:///default, ...)",
        implemented: true,
    },
    Plugin {
        id: PluginId::Cpg,
        name: "cpg",
        kind: Backend,
        version: "0.1",
        description: "requests routed through a corosync CPG to the host running the domain",
        implemented: false,
    },
];

/// The known plugins of `kind`, implemented or not.
pub fn known(kind: PluginKind) -> impl Iterator<Item = &'static Plugin> {
    PLUGINS.iter().filter(move |p| p.kind == kind)
}

/// The plugins of `kind` this fence_virtd can run.
pub fn implemented(kind: PluginKind) -> impl Iterator<Item = &'static Plugin> {
    known(kind).filter(|p| p.implemented)
}

/// The names of every known plugin of `kind`.
pub fn known_names(kind: PluginKind) -> Vec<&'static str> {
    known(kind).map(|p| p.name).collect()
}

/// The known plugin of `kind` called `name` (case ignored).
pub fn find(kind: PluginKind, name: &str) -> Option<&'static Plugin> {
    known(kind).find(|p| p.name.eq_ignore_ascii_case(name))
}

/// "the vsock listener is not built in (available: multicast, tcp)".
pub fn not_built_in(id: PluginId) -> String {
    let plugin = id.plugin();
    let available: Vec<&str> = implemented(plugin.kind).map(|p| p.name).collect();
    format!("the {} {} is not built in (available: {})", plugin.name, plugin.kind.as_str(), available.join(", "))
}

/// The `fence_virtd -l` text: the implemented listeners, then backends.
pub fn listing() -> String {
    let mut out = String::new();
    for (title, kind) in [("Available listeners:", Listener), ("Available backends:", Backend)] {
        out.push_str(title);
        out.push('\n');
        for p in implemented(kind) {
            out.push_str(&format!("    {:<12} {:<6} {}\n", p.name, p.version, p.description));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_indexed_by_id() {
        for (index, plugin) in PLUGINS.iter().enumerate() {
            assert_eq!(plugin.id as usize, index, "{} is out of place", plugin.name);
        }
    }

    #[test]
    fn names_are_found_without_case_and_only_for_their_kind() {
        assert_eq!(find(PluginKind::Listener, "TCP").map(|p| p.id), Some(PluginId::Tcp));
        assert!(find(PluginKind::Backend, "tcp").is_none());
        assert_eq!(known_names(PluginKind::Listener), ["multicast", "tcp", "vsock", "serial"]);
        assert_eq!(known_names(PluginKind::Backend), ["libvirt", "cpg"]);
    }

    #[test]
    fn the_listing_shows_implemented_plugins_only() {
        assert_eq!(
            listing(),
            "Available listeners:\n    multicast    1.3    fence_xvm requests on a multicast group, answered over a TCP \
             callback\n    tcp          0.2    fence_virt -T requests over TCP\nAvailable backends:\n    libvirt      \
             0.3    libvirt domains (qemu:///system, test:///default, ...)\n"
        );
    }

    #[test]
    fn messages_name_what_is_available() {
        assert_eq!(not_built_in(PluginId::Serial), "the serial listener is not built in (available: multicast, tcp)");
        assert_eq!(not_built_in(PluginId::Cpg), "the cpg backend is not built in (available: libvirt)");
    }
}
