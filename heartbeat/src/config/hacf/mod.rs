//! `ha.cf`, the main configuration file (spec §1).
//!
//! One directive per line, `#` starts a comment anywhere on a line,
//! directive names are case-sensitive. Unlike Heartbeat 3.0.6 the result
//! does not depend on the order of the lines: `udpport` applies to every
//! bcast/ucast medium (with a warning when 3.0.6 would have applied it to
//! fewer), and defaults derived from other values (initdead, warntime,
//! deadping) are computed after the whole file is read.
//!
//! Deliberate differences from 3.0.6, all reported rather than silent:
//! `auto_failback` defaults to `off` (3.0.6: `legacy`) with a warning;
//! `nice_failback` is mapped as documented (`on` → `off`, `off` → `legacy`);
//! `crm`/`pacemaker` enabled, `autojoin` other than `none`, `hbaping`,
//! `serial`, `mcast6`, `ucast6`, IPv6 `ping`/`ping_group` addresses and the
//! cluster-glue `stonith` directive are refused; directives with no effect here are accepted with one warning
//! each; a repeated single-valued directive warns that the last one wins.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::value::parse_time;
use super::{numbered_lines, read_text, ConfigError, Warning};

mod directives;
mod facility;
mod media;
mod stonith;
mod timing;

pub use self::stonith::{StonithConfig, StonithDelay, DEFAULT_STONITH_TIMEOUT, FALLBACK_STONITH_DELAY};
pub use ::stonith::{AgentRef, FenceAction, FenceParams, StonithFrom, StonithHost};
pub use facility::Facility;
pub use media::{Medium, DEFAULT_UDP_PORT};
pub use timing::{Timing, DEFAULT_DEADTIME, DEFAULT_KEEPALIVE};

/// `rtprio` when not given: the middle of SCHED_FIFO's 1–99.
pub const DEFAULT_RTPRIO: i32 = 50;

/// Directives accepted for compatibility that have no effect here; each is
/// warned about once (spec §1.4, §1.6, §1.7).
const NO_EFFECT: &[&str] = &[
    "coredumps",
    "coreroot",
    "memreserve",
    "hbgenmethod",
    "msgfmt",
    "compression",
    "compression_threshold",
    "traditional_compression",
    "max_rexmit_delay",
    "quorum_server",
    "record_config_changes",
    "record_pengine_inputs",
    "enable_config_writes",
    "crm_daemon_dir",
    "crmd_spawns_pengine",
    "uuidfrom",
    "cluster",
    "use_logd",
    "syslogmsgfmt",
    "log_badpack",
    "conn_logd_time",
    "baud",
    "hopfudge",
];

/// What happens to groups when their home node comes back (spec §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    /// Groups move back to their home node.
    On,
    /// Groups stay where they are.
    Off,
    /// 3.0.6's per-group ip-request handshake (deprecated).
    Legacy,
}

/// A `ping_group NAME IP…` pseudo-node: alive while any member answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingGroup {
    /// The pseudo-node's name.
    pub name: String,
    /// Addresses pinged (IPv4 only: the pinger speaks ICMPv4).
    pub members: Vec<Ipv4Addr>,
}

/// Logging directives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Logging {
    /// `logfile`: non-debug messages are appended here.
    pub logfile: Option<PathBuf>,
    /// `debugfile`: all messages, and resource scripts' stderr.
    pub debugfile: Option<PathBuf>,
    /// `logfacility`: syslog facility; `None` for `none` or unset.
    pub facility: Option<Facility>,
    /// `debug`: 0–255.
    pub debug: u8,
}

/// `respawn USER ABS-PATH [ARGS…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respawn {
    /// User the program runs as.
    pub user: String,
    /// Absolute path of the program (executability is checked when started).
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// `apiauth CLIENT [uid=a,b] [gid=c,d]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    /// Client name (`default` covers unnamed clients).
    pub client: String,
    /// Users allowed.
    pub uids: Vec<String>,
    /// Groups allowed.
    pub gids: Vec<String>,
}

/// The typed content of ha.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// This node's name (given to the parser; checked to be listed).
    pub local_node: String,
    /// Effective timings.
    pub timing: Timing,
    /// Heartbeat paths, in file order; bcast/ucast carry the effective udpport.
    pub media: Vec<Medium>,
    /// Effective `udpport`.
    pub udp_port: u16,
    /// Cluster nodes, in file order, without duplicates.
    pub nodes: Vec<String>,
    /// `ping` pseudo-nodes (IPv4 only: the pinger speaks ICMPv4).
    pub ping_nodes: Vec<Ipv4Addr>,
    /// `ping_group` pseudo-nodes.
    pub ping_groups: Vec<PingGroup>,
    /// Effective failback policy.
    pub auto_failback: AutoFailback,
    /// Logging directives.
    pub logging: Logging,
    /// Programs to keep running.
    pub respawn: Vec<Respawn>,
    /// Client API permissions.
    pub apiauth: Vec<ApiAuth>,
    /// `watchdog` device.
    pub watchdog: Option<PathBuf>,
    /// STONITH settings.
    pub stonith: StonithConfig,
    /// `env NAME=value`: exported to resource scripts, after the `HA_*`
    /// variables (there is no respawn).
    pub env: Vec<(String, String)>,
    /// `monitor_interval` (our extension, default 10 s, 0 = off): how often
    /// the groups held here are checked with `status`/`monitor`.
    pub monitor_interval: Duration,
    /// `unfenced_takeover yes` (our extension, default no): take over from a
    /// dead peer that cannot be fenced (no `stonith_host`, no watchdog) —
    /// Heartbeat 3.0.6's behaviour, which risks split brain.
    pub unfenced_takeover: bool,
    /// `realtime` (default on): run the node's threads under SCHED_FIFO at
    /// `rtprio` and lock its memory, so that no other program on the node
    /// (a fence agent, a busy service) can delay its heartbeats.
    pub realtime: bool,
    /// `rtprio` (1–99, default 50: the middle of SCHED_FIFO's range).
    pub rtprio: i32,
    /// `watchdog_socket` (our extension): the fence-watchdog feed socket used
    /// with `watchdog` (default `/run/fence-watchdog.sock`).
    pub watchdog_socket: PathBuf,
}

/// Default of `monitor_interval`.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(10);
/// Default of `watchdog_socket` (the fence-watchdog service's).
pub const DEFAULT_WATCHDOG_SOCKET: &str = "/run/fence-watchdog.sock";

impl HaConfig {
    /// Reads and parses `path`. Also warns when the file holds fence
    /// credentials but is readable by group or other.
    pub fn load(path: &Path, local_node: &str) -> Result<(HaConfig, Vec<Warning>), ConfigError> {
        let text = read_text(path)?;
        let (config, mut warnings) = HaConfig::parse(path, &text, local_node)?;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o077 != 0 {
            if let Some(host) = config.stonith.hosts.iter().find(|h| h.has_secret()) {
                warnings.push(Warning::at(
                    path,
                    host.line,
                    format!(
                        "stonith_host holds a password but {} is readable by group/other (mode {:o}); chmod 600",
                        path.display(),
                        mode & 0o777
                    ),
                ));
            }
        }
        Ok((config, warnings))
    }

    /// Parses the text of ha.cf (`path` is used in messages only).
    /// `local_node` is this node's name, which must be listed.
    pub fn parse(path: &Path, text: &str, local_node: &str) -> Result<(HaConfig, Vec<Warning>), ConfigError> {
        let mut builder = Builder::new(path);
        for (no, raw) in numbered_lines(text) {
            let content = raw.split('#').next().unwrap_or("");
            let mut fields = content.split_whitespace();
            let Some(name) = fields.next() else { continue };
            let args: Vec<&str> = fields.collect();
            let line = directives::Line { no, name, args: &args };
            directives::apply(&mut builder, &line).map_err(|message| ConfigError::at(path, no, message))?;
        }
        builder.finish(local_node)
    }

    /// The `stonith_host` line that applies to `node`: its own line beats `*`.
    pub fn stonith_host_for(&self, node: &str) -> Option<&StonithHost> {
        let hosts = &self.stonith.hosts;
        hosts
            .iter()
            .find(|h| h.from == StonithFrom::Node(node.to_string()))
            .or_else(|| hosts.iter().find(|h| h.from == StonithFrom::Any))
    }

    /// The fencer `node` uses: its `stonith_host` line (see
    /// [`HaConfig::stonith_host_for`]) with `stonith_action` and
    /// `stonith_timeout`; `None` when no line applies (no STONITH device).
    pub fn fencer_for(&self, node: &str) -> Option<::stonith::Fencer> {
        let host = self.stonith_host_for(node)?;
        Some(::stonith::Fencer::new(host, self.stonith.action, self.stonith.timeout))
    }

    /// The nodes other than this one.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(String::as_str).filter(move |n| *n != self.local_node)
    }
}

/// A value and the line it was written on.
type AtLine<T> = Option<(T, usize)>;

/// Collects directives line by line; `finish` applies defaults and checks
/// everything that depends on more than one line.
struct Builder<'p> {
    path: &'p Path,
    warnings: Vec<Warning>,
    timing: timing::TimingInput,
    media: Vec<(usize, Medium)>,
    udpport: AtLine<u16>,
    nodes: Vec<String>,
    ping_nodes: Vec<Ipv4Addr>,
    ping_groups: Vec<(usize, PingGroup)>,
    auto_failback: AtLine<AutoFailback>,
    nice_failback: AtLine<AutoFailback>,
    logging: Logging,
    respawn: Vec<Respawn>,
    apiauth: Vec<(usize, ApiAuth)>,
    watchdog: AtLine<PathBuf>,
    stonith_hosts: Vec<StonithHost>,
    stonith_action: AtLine<FenceAction>,
    stonith_timeout: AtLine<Duration>,
    stonith_delay: AtLine<StonithDelay>,
    stonith_power_on: AtLine<bool>,
    env: Vec<(String, String)>,
    monitor_interval: AtLine<Duration>,
    unfenced_takeover: AtLine<bool>,
    realtime: AtLine<bool>,
    rtprio: AtLine<i32>,
    watchdog_socket: AtLine<PathBuf>,
    warned_no_effect: HashSet<String>,
}

impl<'p> Builder<'p> {
    fn new(path: &'p Path) -> Self {
        Builder {
            path,
            warnings: Vec::new(),
            timing: Default::default(),
            media: Vec::new(),
            udpport: None,
            nodes: Vec::new(),
            ping_nodes: Vec::new(),
            ping_groups: Vec::new(),
            auto_failback: None,
            nice_failback: None,
            logging: Logging::default(),
            respawn: Vec::new(),
            apiauth: Vec::new(),
            watchdog: None,
            stonith_hosts: Vec::new(),
            stonith_action: None,
            stonith_timeout: None,
            stonith_delay: None,
            stonith_power_on: None,
            env: Vec::new(),
            monitor_interval: None,
            unfenced_takeover: None,
            realtime: None,
            rtprio: None,
            watchdog_socket: None,
            warned_no_effect: HashSet::new(),
        }
    }

    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings.push(Warning::at(self.path, line, message));
    }

    /// Stores a single-valued directive; a repeat wins with a warning.
    fn set<T>(&mut self, slot: fn(&mut Self) -> &mut AtLine<T>, name: &str, value: T, line: usize) {
        if let Some((_, first)) = slot(self).replace((value, line)) {
            self.warn(line, format!("{name} given again; this value replaces the one on line {first}"));
        }
    }

    /// Applies defaults and every check that spans lines.
    fn finish(mut self, local_node: &str) -> Result<(HaConfig, Vec<Warning>), ConfigError> {
        let path = self.path;
        if self.media.is_empty() {
            return Err(ConfigError::file(path, "No heartbeat media defined"));
        }
        if self.nodes.is_empty() {
            return Err(ConfigError::file(
                path,
                format!("Current node [{local_node}] not in configuration! (no node lines: list every cluster node)"),
            ));
        }
        if !self.nodes.iter().any(|n| n == local_node) {
            return Err(ConfigError::file(path, format!("Current node [{local_node}] not in configuration!")));
        }
        let timing = self.timing.resolve(path, &mut self.warnings)?;

        let udp_port = self.udp_port();
        self.check_ping_groups()?;
        self.check_stonith_hosts()?;
        let auto_failback = self.failback_policy();

        let config = HaConfig {
            path: path.to_path_buf(),
            local_node: local_node.to_string(),
            timing,
            media: self.media.into_iter().map(|(_, m)| m.with_udp_port(udp_port)).collect(),
            udp_port,
            nodes: self.nodes,
            ping_nodes: self.ping_nodes,
            ping_groups: self.ping_groups.into_iter().map(|(_, g)| g).collect(),
            auto_failback,
            logging: self.logging,
            respawn: self.respawn,
            apiauth: self.apiauth.into_iter().map(|(_, a)| a).collect(),
            watchdog: self.watchdog.map(|(d, _)| d),
            stonith: StonithConfig {
                hosts: self.stonith_hosts,
                action: self.stonith_action.map_or(FenceAction::Reboot, |(a, _)| a),
                timeout: self.stonith_timeout.map_or(DEFAULT_STONITH_TIMEOUT, |(d, _)| d),
                delay: self.stonith_delay.map_or(StonithDelay::Auto, |(d, _)| d),
                power_on: self.stonith_power_on.is_some_and(|(on, _)| on),
            },
            env: self.env,
            monitor_interval: self.monitor_interval.map_or(DEFAULT_MONITOR_INTERVAL, |(d, _)| d),
            unfenced_takeover: self.unfenced_takeover.is_some_and(|(on, _)| on),
            realtime: self.realtime.is_none_or(|(on, _)| on),
            rtprio: self.rtprio.map_or(DEFAULT_RTPRIO, |(p, _)| p),
            watchdog_socket: self.watchdog_socket.map_or_else(|| PathBuf::from(DEFAULT_WATCHDOG_SOCKET), |(p, _)| p),
        };
        Ok((config, self.warnings))
    }

    /// The effective `udpport`; warns when 3.0.6 would have applied it to
    /// fewer media.
    fn udp_port(&mut self) -> u16 {
        let Some((port, line)) = self.udpport else { return DEFAULT_UDP_PORT };
        if let Some((first, _)) = self.media.iter().find(|(l, m)| *l < line && m.uses_udpport()) {
            self.warn(
                line,
                format!(
                    "udpport {port} applies to all bcast/ucast media here, but Heartbeat 3.0.6 used it only \
                     for media listed after it (line {first} would use port {DEFAULT_UDP_PORT} there)"
                ),
            );
        }
        port
    }

    /// A ping group has neither a node's name nor another group's.
    fn check_ping_groups(&self) -> Result<(), ConfigError> {
        for (line, group) in &self.ping_groups {
            if self.nodes.contains(&group.name) {
                return Err(ConfigError::at(
                    self.path,
                    *line,
                    format!("ping_group [{}] has the name of a node", group.name),
                ));
            }
        }
        if let Some((_, (line, g))) = self
            .ping_groups
            .iter()
            .enumerate()
            .find(|(i, (_, g))| self.ping_groups[..*i].iter().any(|(_, other)| other.name == g.name))
        {
            return Err(ConfigError::at(self.path, *line, format!("ping_group [{}] defined twice", g.name)));
        }
        Ok(())
    }

    /// `auto_failback`, else the mapped `nice_failback`, else `off` with a
    /// warning.
    fn failback_policy(&mut self) -> AutoFailback {
        match (self.auto_failback, self.nice_failback) {
            (Some((policy, _)), None) => policy,
            (Some((policy, line)), Some((_, nice_line))) => {
                self.warn(nice_line, format!("nice_failback ignored: auto_failback is set on line {line}"));
                policy
            }
            (None, Some((policy, _))) => policy,
            (None, None) => {
                self.warnings.push(Warning::file(
                    self.path,
                    "auto_failback not set: using 'off' (Heartbeat 3.0.6 defaulted to 'legacy'); \
                     set 'auto_failback on' or 'auto_failback off' explicitly",
                ));
                AutoFailback::Off
            }
        }
    }

    /// FROM names a listed node; one line per FROM; host_map names nodes.
    fn check_stonith_hosts(&mut self) -> Result<(), ConfigError> {
        let mut unknown_mapped = Vec::new();
        for (i, host) in self.stonith_hosts.iter().enumerate() {
            if let StonithFrom::Node(node) = &host.from {
                if !self.nodes.contains(node) {
                    return Err(ConfigError::at(
                        self.path,
                        host.line,
                        format!("stonith_host node [{node}] is not listed on a node line (use * for any node)"),
                    ));
                }
            }
            if let Some(first) = self.stonith_hosts[..i].iter().find(|h| h.from == host.from) {
                let from = match &host.from {
                    StonithFrom::Any => "*",
                    StonithFrom::Node(n) => n,
                };
                return Err(ConfigError::at(
                    self.path,
                    host.line,
                    format!(
                        "stonith_host for [{from}] given twice (first on line {}); configure one line per node",
                        first.line
                    ),
                ));
            }
            for node in host.host_map.keys().filter(|n| !self.nodes.contains(n)) {
                unknown_mapped
                    .push((host.line, format!("host_map names [{node}], which is not listed on a node line")));
            }
        }
        for (line, message) in unknown_mapped {
            self.warn(line, message);
        }
        Ok(())
    }
}

/// The single value of `name`.
fn one_value(name: &str, args: &[&str]) -> Result<String, String> {
    match args {
        [v] => Ok(v.to_string()),
        [] => Err(format!("directive [{name}] needs a value")),
        _ => Err(format!("directive [{name}] takes exactly one value")),
    }
}

/// A time value of directive `name`.
fn time_value(name: &str, value: &str) -> Result<Duration, String> {
    if value.is_empty() {
        return Err(format!("directive [{name}] needs a value"));
    }
    parse_time(value).ok_or_else(|| {
        format!("{} [{value}] is invalid. (a number of seconds, or with ms or us: 2, 1.5, 1500ms)", timing::label(name))
    })
}

/// An address of a ping pseudo-node: IPv4, since the pinger is IPv4-only.
fn ping_address(directive: &str, text: &str) -> Result<Ipv4Addr, String> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(address)) => Ok(address),
        Ok(IpAddr::V6(_)) => {
            Err(format!("{directive} address [{text}]: IPv6 ping nodes are not supported (the pinger is IPv4-only)"))
        }
        Err(_) => Err(format!("{directive} address [{text}] is not an IP address")),
    }
}

/// `apiauth CLIENT [uid=a,b] [gid=c,d]`.
fn parse_apiauth(args: &[&str]) -> Result<ApiAuth, String> {
    let usage = "apiauth needs a client and uid= or gid= lists: apiauth CLIENT [uid=a,b] [gid=c,d]";
    let [client, lists @ ..] = args else { return Err(usage.into()) };
    if lists.is_empty() {
        return Err(usage.into());
    }
    let mut auth = ApiAuth { client: client.to_string(), uids: Vec::new(), gids: Vec::new() };
    for list in lists {
        let (target, items) = match list.split_once('=') {
            Some(("uid", items)) => (&mut auth.uids, items),
            Some(("gid", items)) => (&mut auth.gids, items),
            _ => return Err(format!("apiauth [{list}] is not uid=LIST or gid=LIST")),
        };
        if items.split(',').any(str::is_empty) {
            return Err(format!("apiauth [{list}] has an empty name"));
        }
        target.extend(items.split(',').map(str::to_string));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests;
