//! What a SIGHUP can apply to a running daemon, and what needs a restart.
//!
//! Applied at once: the listener's key file and algorithms (`key_file`,
//! `hash`, `auth`) and the `groups`. Everything else is bound to sockets,
//! connections or start-up (listener and backend settings, `debug`,
//! `foreground`, `wait_for_init`): a change there is named, by its path in
//! the file, as needing a restart.

use super::backend::BackendConfig;
use super::daemon::DaemonConfig;
use super::listener::ListenerConfig;

/// The settings that differ between `running` and `fresh` and that a
/// running daemon cannot apply, by path, e.g. `listeners/multicast/check_source`.
pub fn restart_needed(running: &DaemonConfig, fresh: &DaemonConfig) -> Vec<String> {
    let mut changed = Vec::new();
    let mut check = |path: &str, differs: bool| {
        if differs {
            changed.push(path.to_string());
        }
    };
    match (&running.listener, &fresh.listener) {
        (ListenerConfig::Multicast(a), ListenerConfig::Multicast(b)) => {
            check("listeners/multicast/address", a.address != b.address);
            check("listeners/multicast/port", a.port != b.port);
            check("listeners/multicast/interface", a.interface != b.interface);
            check("listeners/multicast/check_source", a.require_source_match != b.require_source_match);
        }
        (ListenerConfig::Tcp(a), ListenerConfig::Tcp(b)) => {
            check("listeners/tcp/address", a.address != b.address);
            check("listeners/tcp/port", a.port != b.port);
        }
        (ListenerConfig::Vsock(a), ListenerConfig::Vsock(b)) => check("listeners/vsock/port", a.port != b.port),
        (ListenerConfig::Serial(a), ListenerConfig::Serial(b)) => check("listeners/serial", a != b),
        _ => check("fence_virtd/listener", true),
    }
    match (&running.backend, &fresh.backend) {
        (BackendConfig::Libvirt(a), BackendConfig::Libvirt(b)) => {
            check("backends/libvirt/uri", a.uris != b.uris);
            check("backends/libvirt/reboot_method", a.reboot_method != b.reboot_method);
            check("backends/libvirt/timeout", a.call_timeout != b.call_timeout);
        }
        (BackendConfig::Cpg(a), BackendConfig::Cpg(b)) => check("backends/cpg", a != b),
        _ => check("fence_virtd/backend", true),
    }
    check("fence_virtd/debug", running.debug != fresh.debug);
    check("fence_virtd/foreground", running.foreground != fresh.foreground);
    check("fence_virtd/wait_for_init", running.wait_for_init != fresh.wait_for_init);
    changed
}

/// The configuration the daemon runs with after applying `fresh`: the
/// running one with `fresh`'s key settings and groups.
pub fn applied(running: &DaemonConfig, fresh: &DaemonConfig) -> DaemonConfig {
    let mut now = running.clone();
    if let (Some(auth), Some(new)) = (now.listener.auth_mut(), fresh.listener.auth()) {
        *auth = new.clone();
    }
    now.groups = fresh.groups.clone();
    now
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(listener: &str, backend: &str, groups: &str) -> DaemonConfig {
        let text = format!(
            "fence_virtd {{ listener = \"multicast\"; backend = \"libvirt\"; }}\n\
             listeners {{ multicast {{ {listener} }} }}\n\
             backends {{ libvirt {{ uri = \"test:///default\"; {backend} }} }}\n{groups}"
        );
        DaemonConfig::from_str(&text, Path::new("/etc/fence_virt.conf")).unwrap().0
    }

    #[test]
    fn names_what_needs_a_restart_and_applies_the_rest() {
        let running = load("key_file = \"/k1\";", "", "");
        let fresh = load(
            "key_file = \"/k2\"; hash = \"sha512\"; check_source = \"no\"; port = \"1230\";",
            "timeout = \"5\";",
            "groups { group { ip = \"198.18.0.1\"; uuid = \"test\"; } }",
        );
        assert_eq!(
            restart_needed(&running, &fresh),
            ["listeners/multicast/port", "listeners/multicast/check_source", "backends/libvirt/timeout"]
        );
        let now = applied(&running, &fresh);
        assert_eq!(now.listener.auth(), fresh.listener.auth());
        assert_eq!(now.groups, fresh.groups);
        // The settings not applied keep their running values, and are named again.
        assert_eq!(restart_needed(&now, &fresh).len(), 3);
        assert!(restart_needed(&fresh, &fresh).is_empty());
    }
}
