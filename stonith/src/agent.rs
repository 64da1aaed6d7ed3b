//! What one `stonith_host` line describes: which nodes use it, the agent,
//! the parameters passed on its stdin and the node-to-plug map.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Keys the fencer sets itself on every call; a `stonith_host` line must
/// not set them (`port` is fence-agents' legacy alias of `plug`).
pub const RESERVED_KEYS: [&str; 4] = ["action", "plug", "port", "nodename"];

/// What fencing does to the victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FenceAction {
    /// Power off, then on again (`action=reboot`).
    #[default]
    Reboot,
    /// Power off and leave off (`action=off`).
    Off,
}

impl FenceAction {
    /// The fence-agents action name.
    pub fn as_str(self) -> &'static str {
        match self {
            FenceAction::Reboot => "reboot",
            FenceAction::Off => "off",
        }
    }
}

/// Which nodes a `stonith_host` line applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StonithFrom {
    /// `*`: any node.
    Any,
    /// Only this node (it can reach the device).
    Node(String),
}

/// The fence agent named on a `stonith_host` line; names are looked up in
/// `/usr/sbin` then `/sbin` when fencing, not when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentRef {
    /// An absolute path.
    Path(PathBuf),
    /// A file name such as `fence_ipmilan`.
    Name(String),
}

impl fmt::Display for AgentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentRef::Path(p) => write!(f, "{}", p.display()),
            AgentRef::Name(n) => f.write_str(n),
        }
    }
}

/// `key=value` pairs for the agent's stdin, in the order written. `Debug`
/// shows the keys only: values include passwords.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FenceParams(pub Vec<(String, String)>);

impl fmt::Debug for FenceParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(k, _)| format!("{k}=…"))).finish()
    }
}

/// One `stonith_host` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StonithHost {
    /// Nodes that use this line.
    pub from: StonithFrom,
    /// The agent to run.
    pub agent: AgentRef,
    /// Pairs passed on the agent's stdin (never `host_map`).
    pub params: FenceParams,
    /// `host_map=node:plug;…`: the plug of each mapped node (default: its name).
    pub host_map: BTreeMap<String, String>,
    /// The configuration line it came from.
    pub line: usize,
}

impl StonithHost {
    /// The plug that powers `node`.
    pub fn plug_for<'a>(&'a self, node: &'a str) -> &'a str {
        self.host_map.get(node).map_or(node, String::as_str)
    }

    /// Whether the line holds a password-like value (its configuration file
    /// then should not be readable by group or other).
    pub fn has_secret(&self) -> bool {
        self.params.0.iter().any(|(k, _)| k.contains("passw") || k.contains("secret"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned `(key, value)` pairs.
    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn host(params: &[(&str, &str)], host_map: &[(&str, &str)]) -> StonithHost {
        StonithHost {
            from: StonithFrom::Any,
            agent: AgentRef::Name("fence_test".into()),
            params: FenceParams(pairs(params)),
            host_map: pairs(host_map).into_iter().collect(),
            line: 1,
        }
    }

    #[test]
    fn plugs_default_to_the_node_name() {
        let h = host(&[], &[("alpha", "vm1")]);
        assert_eq!(h.plug_for("alpha"), "vm1");
        assert_eq!(h.plug_for("bravo"), "bravo");
    }

    #[test]
    fn secrets_are_recognised_and_never_shown_by_debug() {
        let h = host(&[("login", "admin"), ("passwd", "s3cret")], &[]);
        assert!(h.has_secret());
        assert!(!format!("{h:?}").contains("s3cret"));
        assert!(!host(&[("login", "admin")], &[]).has_secret());
    }

    #[test]
    fn names_print_as_configured() {
        assert_eq!(AgentRef::Path("/opt/fence_x".into()).to_string(), "/opt/fence_x");
        assert_eq!(AgentRef::Name("fence_x".into()).to_string(), "fence_x");
        assert_eq!(FenceAction::Off.as_str(), "off");
        assert_eq!(FenceAction::default().as_str(), "reboot");
    }
}
