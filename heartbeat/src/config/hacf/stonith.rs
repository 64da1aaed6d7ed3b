//! STONITH directives (spec §5.1, §5.5 — our fence-agent extension):
//! `stonith_host FROM AGENT [key=value…]`, `stonith_action`,
//! `stonith_timeout`, `stonith_delay`, `stonith_power_on`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use stonith::{AgentRef, FenceAction, FenceParams, StonithFrom, StonithHost, RESERVED_KEYS};

/// How long one fence-agent call may take before it is killed.
pub const DEFAULT_STONITH_TIMEOUT: Duration = Duration::from_secs(60);
/// The weaker side's wait when the peer has not told how fast it fences
/// (`stonith_delay auto` with a peer that announced no fence time).
pub const FALLBACK_STONITH_DELAY: Duration = Duration::from_secs(5);

/// How long the side with the weaker claim waits before fencing its peer
/// in a partition, so that the side with the better claim (the resource
/// holder) fences first and wins the shoot-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StonithDelay {
    /// `stonith_delay auto` (the default): the peer's own announced fence
    /// time (how long its fence of this node takes to take effect, measured
    /// on its device) plus two keepalives for the skew between the two
    /// sides' deadtime; [`FALLBACK_STONITH_DELAY`] while the peer has
    /// announced none.
    #[default]
    Auto,
    /// `stonith_delay TIME`: always this long.
    Fixed(Duration),
}

impl fmt::Display for StonithDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StonithDelay::Auto => f.write_str("auto"),
            StonithDelay::Fixed(d) => write!(f, "{} ms", d.as_millis()),
        }
    }
}

/// Effective STONITH settings of ha.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StonithConfig {
    /// Every `stonith_host` line (at most one per FROM).
    pub hosts: Vec<StonithHost>,
    /// `stonith_action` (default reboot).
    pub action: FenceAction,
    /// `stonith_timeout` (default 60 s).
    pub timeout: Duration,
    /// `stonith_delay` (default `auto`): in a partition, the node with the
    /// weaker claim (usually the one holding no resources) waits this long
    /// before fencing, so the holder fences first.
    pub delay: StonithDelay,
    /// `stonith_power_on yes` (default no): a lost peer found powered off,
    /// or left off by the fence (a reboot of an off domain leaves it off;
    /// `stonith_action off` always does), is powered on again (`action=on`)
    /// once it is safe, so it rejoins as standby. With `stonith_action off`
    /// this is the quickest failover: the takeover waits for the power-off
    /// only, the power-on runs beside it.
    pub power_on: bool,
}

/// `stonith_host FROM AGENT [key=value…]`.
pub(super) fn parse_stonith_host(args: &[&str], line: usize) -> Result<StonithHost, String> {
    let [from, agent, pairs @ ..] = args else {
        return Err("stonith_host needs at least 2 values: stonith_host FROM-NODE|* AGENT [key=value...]".into());
    };
    let from = match *from {
        "*" => StonithFrom::Any,
        node => StonithFrom::Node(node.to_string()),
    };
    let agent = if agent.starts_with('/') {
        AgentRef::Path(PathBuf::from(agent))
    } else if agent.contains('/') {
        return Err(format!(
            "stonith_host agent [{agent}] looks like a cluster-glue STONITH plugin, which is not supported; \
             name a fence agent (e.g. fence_ipmilan) or give its absolute path"
        ));
    } else if *agent == "." || *agent == ".." {
        return Err(format!("stonith_host agent [{agent}] is not a file name"));
    } else {
        AgentRef::Name(agent.to_string())
    };

    let mut params: Vec<(String, String)> = Vec::new();
    let mut host_map = None;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "stonith_host parameter [{pair}] is not key=value (positional STONITH plugin parameters are not supported)"
            ));
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(format!("stonith_host parameter name [{key}] is invalid"));
        }
        if RESERVED_KEYS.contains(&key) {
            return Err(format!(
                "stonith_host parameter [{key}] is set by heartbeat on each call; use stonith_action for the \
                 action and host_map=node:plug;... for plugs"
            ));
        }
        if key == "host_map" {
            if host_map.is_some() {
                return Err("stonith_host parameter [host_map] given twice".into());
            }
            host_map = Some(parse_host_map(value)?);
        } else if params.iter().any(|(k, _)| k == key) {
            return Err(format!("stonith_host parameter [{key}] given twice"));
        } else {
            params.push((key.to_string(), value.to_string()));
        }
    }
    Ok(StonithHost { from, agent, params: FenceParams(params), host_map: host_map.unwrap_or_default(), line })
}

/// `node1:plug1;node2:plug2` (Pacemaker's pcmk_host_map syntax; a plug may
/// hold `,` as in `node2:2,3`).
fn parse_host_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for entry in text.split(';').filter(|e| !e.is_empty()) {
        match entry.split_once(':') {
            Some((node, plug)) if !node.is_empty() && !plug.is_empty() => {
                if map.insert(node.to_string(), plug.to_string()).is_some() {
                    return Err(format!("host_map names node [{node}] twice"));
                }
            }
            _ => return Err(format!("host_map entry [{entry}] is not node:plug")),
        }
    }
    if map.is_empty() {
        return Err("host_map is empty; expected node:plug;node:plug".into());
    }
    Ok(map)
}

/// `stonith_action reboot|off`.
pub(super) fn parse_action(text: &str) -> Result<FenceAction, String> {
    match text {
        "reboot" => Ok(FenceAction::Reboot),
        "off" => Ok(FenceAction::Off),
        _ => Err(format!("stonith_action [{text}] is invalid (reboot or off)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<StonithHost, String> {
        let args: Vec<&str> = line.split_whitespace().collect();
        parse_stonith_host(&args, 12)
    }

    #[test]
    fn agent_name_params_and_host_map() {
        let h =
            parse("* fence_ipmilan ipaddr=10.0.9.2 login=admin passwd=s3cret host_map=alpha:vm1;bravo:vm2").unwrap();
        assert_eq!(h.from, StonithFrom::Any);
        assert_eq!(h.agent, AgentRef::Name("fence_ipmilan".into()));
        assert_eq!(
            h.params.0,
            vec![
                ("ipaddr".to_string(), "10.0.9.2".to_string()),
                ("login".to_string(), "admin".to_string()),
                ("passwd".to_string(), "s3cret".to_string())
            ]
        );
        assert_eq!(h.plug_for("alpha"), "vm1");
        assert_eq!(h.plug_for("charlie"), "charlie");
        assert_eq!(h.line, 12);
        assert!(h.has_secret());
        assert!(!format!("{h:?}").contains("s3cret"), "Debug must not print secrets");
    }

    #[test]
    fn node_specific_line_with_absolute_path() {
        let h = parse("alpha /opt/fence/fence_test").unwrap();
        assert_eq!(h.from, StonithFrom::Node("alpha".into()));
        assert_eq!(h.agent, AgentRef::Path("/opt/fence/fence_test".into()));
        assert!(h.params.0.is_empty() && h.host_map.is_empty());
        assert!(!h.has_secret());
    }

    #[test]
    fn errors() {
        let err = |l: &str| parse(l).unwrap_err();
        assert!(err("*").starts_with("stonith_host needs at least 2 values"));
        assert!(err("* external/ipmi alpha 10.0.0.1").contains("cluster-glue STONITH plugin"));
        assert_eq!(err("* .."), "stonith_host agent [..] is not a file name");
        assert!(err("* fence_x 10.0.0.3 mylogin").starts_with("stonith_host parameter [10.0.0.3] is not key=value"));
        assert_eq!(err("* fence_x =v"), "stonith_host parameter name [] is invalid");
        assert_eq!(err("* fence_x a$b=v"), "stonith_host parameter name [a$b] is invalid");
        assert!(err("* fence_x action=off").starts_with("stonith_host parameter [action] is set by heartbeat"));
        assert!(err("* fence_x port=3").starts_with("stonith_host parameter [port] is set by heartbeat"));
        assert!(err("* fence_x plug=3").starts_with("stonith_host parameter [plug] is set by heartbeat"));
        assert!(err("* fence_x nodename=a").starts_with("stonith_host parameter [nodename] is set by heartbeat"));
        assert_eq!(err("* fence_x login=a login=b"), "stonith_host parameter [login] given twice");
        assert_eq!(err("* fence_x host_map=a:1 host_map=b:2"), "stonith_host parameter [host_map] given twice");
        assert_eq!(err("* fence_x host_map="), "host_map is empty; expected node:plug;node:plug");
        assert_eq!(err("* fence_x host_map=alpha"), "host_map entry [alpha] is not node:plug");
        assert_eq!(err("* fence_x host_map=alpha:"), "host_map entry [alpha:] is not node:plug");
        assert_eq!(err("* fence_x host_map=:vm1"), "host_map entry [:vm1] is not node:plug");
        assert_eq!(err("* fence_x host_map=a:1;a:2"), "host_map names node [a] twice");
    }

    #[test]
    fn host_map_plugs_may_hold_commas_and_empty_entries_are_skipped() {
        let h = parse("* fence_x host_map=alpha:1;bravo:2,3;").unwrap();
        assert_eq!(h.plug_for("bravo"), "2,3");
        assert_eq!(h.host_map.len(), 2);
    }

    #[test]
    fn stonith_action_values() {
        assert_eq!(parse_action("reboot"), Ok(FenceAction::Reboot));
        assert_eq!(parse_action("off"), Ok(FenceAction::Off));
        assert_eq!(parse_action("on").unwrap_err(), "stonith_action [on] is invalid (reboot or off)");
        assert_eq!(FenceAction::Off.as_str(), "off");
    }
}
