//! What each ha.cf directive does to the [`Builder`]: one table maps every
//! directive name this parser acts on to its handler, grouped as the
//! manual groups them (timing, media, nodes and ping nodes, failback and
//! resource management, logging, STONITH, watchdog, the rest). The table
//! is also the list of known names behind the wrong-case hint.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    media, one_value, parse_apiauth, ping_address, stonith, time_value, AtLine, AutoFailback, Builder, Facility,
    PingGroup, Respawn, StonithDelay, NO_EFFECT,
};
use crate::config::value::parse_bool;

/// One directive line: its number, its name and its values.
pub(super) struct Line<'a> {
    /// Line number in ha.cf.
    pub(super) no: usize,
    /// The directive's name.
    pub(super) name: &'a str,
    /// Its values, split at whitespace.
    pub(super) args: &'a [&'a str],
}

impl Line<'_> {
    /// The values joined by single spaces.
    fn value(&self) -> String {
        self.args.join(" ")
    }

    /// The single value of the directive.
    fn one(&self) -> Result<String, String> {
        one_value(self.name, self.args)
    }
}

/// Applies one line to the builder; `Err` is the message for the line.
type Handler = fn(&mut Builder<'_>, &Line<'_>) -> Result<(), String>;

/// Every directive name this parser acts on, with its handler.
const DIRECTIVES: &[(&str, Handler)] = &[
    // Timing.
    ("keepalive", |b, l| b.time_setting(l, |b| &mut b.timing.keepalive)),
    ("deadtime", |b, l| b.time_setting(l, |b| &mut b.timing.deadtime)),
    ("warntime", |b, l| b.time_setting(l, |b| &mut b.timing.warntime)),
    ("initdead", |b, l| b.time_setting(l, |b| &mut b.timing.initdead)),
    ("deadping", |b, l| b.time_setting(l, |b| &mut b.timing.deadping)),
    // Media.
    ("bcast", |b, l| b.bcast(l)),
    ("udp", |b, l| b.udp(l)),
    ("mcast", |b, l| b.mcast(l)),
    ("ucast", |b, l| b.ucast(l)),
    ("udpport", |b, l| b.udpport(l)),
    ("mcast6", unsupported_medium),
    ("ucast6", unsupported_medium),
    ("serial", unsupported_medium),
    ("hbaping", |_, _| Err("hbaping was never supported by Heartbeat and is not supported here".into())),
    // Nodes and ping nodes.
    ("node", |b, l| b.node(l)),
    ("ping", |b, l| b.ping(l)),
    ("ping_group", |b, l| b.ping_group(l)),
    // Failback and resource management.
    ("auto_failback", |b, l| b.auto_failback(l)),
    ("nice_failback", |b, l| b.nice_failback(l)),
    ("crm", crm),
    ("pacemaker", crm),
    ("autojoin", autojoin),
    // Logging.
    ("logfile", |b, l| {
        b.logging.logfile = Some(PathBuf::from(l.one()?));
        Ok(())
    }),
    ("debugfile", |b, l| {
        b.logging.debugfile = Some(PathBuf::from(l.one()?));
        Ok(())
    }),
    ("logfacility", |b, l| b.logfacility(l)),
    ("debug", |b, l| b.debug(l)),
    // Programs and clients.
    ("respawn", |b, l| b.respawn(l)),
    ("apiauth", |b, l| b.apiauth(l)),
    // Watchdog.
    ("watchdog", |b, l| b.watchdog(l)),
    ("watchdog_socket", |b, l| b.watchdog_socket(l)),
    // STONITH.
    ("stonith", |_, _| {
        Err("stonith TYPE CONFIGFILE (cluster-glue plugins) is not supported; use \
             stonith_host FROM-NODE|* FENCE-AGENT [key=value...]"
            .into())
    }),
    ("stonith_host", |b, l| {
        b.stonith_hosts.push(stonith::parse_stonith_host(l.args, l.no)?);
        Ok(())
    }),
    ("stonith_action", |b, l| b.stonith_action(l)),
    ("stonith_timeout", |b, l| b.stonith_timeout(l)),
    ("stonith_delay", |b, l| b.stonith_delay(l)),
    ("stonith_power_on", |b, l| b.boolean(l, |b| &mut b.stonith_power_on)),
    // The rest.
    ("env", |b, l| b.env(l)),
    ("monitor_interval", |b, l| b.time_setting(l, |b| &mut b.monitor_interval)),
    ("unfenced_takeover", |b, l| b.boolean(l, |b| &mut b.unfenced_takeover)),
    ("realtime", |b, l| b.boolean(l, |b| &mut b.realtime)),
    ("rtprio", |b, l| b.rtprio(l)),
];

/// Handles one directive line; `Err` is the message for this line.
pub(super) fn apply(builder: &mut Builder<'_>, line: &Line<'_>) -> Result<(), String> {
    let name = line.name;
    if let Some((_, handler)) = DIRECTIVES.iter().find(|(known, _)| *known == name) {
        return handler(builder, line);
    }
    if NO_EFFECT.contains(&name) {
        if builder.warned_no_effect.insert(name.to_string()) {
            builder.warn(line.no, format!("directive [{name}] is accepted for compatibility but has no effect here"));
        }
        return Ok(());
    }
    let lower = name.to_ascii_lowercase();
    if DIRECTIVES.iter().any(|(known, _)| *known == lower) || NO_EFFECT.contains(&lower.as_str()) {
        return Err(format!("illegal directive [{name}] (directive names are case-sensitive: did you mean {lower}?)"));
    }
    Err(format!("illegal directive [{name}]"))
}

/// `mcast6`, `ucast6`, `serial`.
fn unsupported_medium(_: &mut Builder<'_>, line: &Line<'_>) -> Result<(), String> {
    Err(format!("medium [{}] is not supported here; use bcast, mcast or ucast", line.name))
}

/// `crm` / `pacemaker`: only `off` (haresources mode) is accepted.
fn crm(_: &mut Builder<'_>, line: &Line<'_>) -> Result<(), String> {
    let (name, v) = (line.name, line.one()?);
    if parse_bool(&v) != Some(false) {
        return Err(format!(
            "{name} [{v}] is not supported: this heartbeat manages resources from haresources only \
             (set '{name} off' or remove the line)"
        ));
    }
    Ok(())
}

/// `autojoin`: only `none` (every node listed) is accepted.
fn autojoin(_: &mut Builder<'_>, line: &Line<'_>) -> Result<(), String> {
    let v = line.one()?;
    match v.as_str() {
        "none" => Ok(()),
        "other" | "any" => Err(format!(
            "R1 style resource management conflicts with autojoin set (autojoin {v}); \
             list every node on node lines and use 'autojoin none'"
        )),
        _ => Err(format!("autojoin [{v}] is invalid (none, other or any)")),
    }
}

/// Shared shapes of single-valued settings.
impl Builder<'_> {
    /// A time value stored in `slot`.
    fn time_setting(&mut self, line: &Line<'_>, slot: fn(&mut Self) -> &mut AtLine<Duration>) -> Result<(), String> {
        let d = time_value(line.name, &line.value())?;
        self.set(slot, line.name, d, line.no);
        Ok(())
    }

    /// A yes/no value stored in `slot`.
    fn boolean(&mut self, line: &Line<'_>, slot: fn(&mut Self) -> &mut AtLine<bool>) -> Result<(), String> {
        let v = line.one()?;
        let on = parse_bool(&v).ok_or_else(|| format!("{} [{v}] is not a boolean (yes or no)", line.name))?;
        self.set(slot, line.name, on, line.no);
        Ok(())
    }
}

/// Media: `bcast`, `udp`, `mcast`, `ucast`, `udpport`.
impl Builder<'_> {
    fn bcast(&mut self, line: &Line<'_>) -> Result<(), String> {
        let media = media::parse_bcast(line.args)?;
        self.media.extend(media.into_iter().map(|m| (line.no, m)));
        Ok(())
    }

    fn udp(&mut self, line: &Line<'_>) -> Result<(), String> {
        self.warn(line.no, "directive 'udp' replaced by 'bcast'");
        let media = media::parse_bcast(line.args).map_err(|e| e.replacen("bcast", "udp", 2))?;
        self.media.extend(media.into_iter().map(|m| (line.no, m)));
        Ok(())
    }

    fn mcast(&mut self, line: &Line<'_>) -> Result<(), String> {
        let (medium, advice) = media::parse_mcast(line.args)?;
        if let Some(advice) = advice {
            self.warn(line.no, advice);
        }
        self.media.push((line.no, medium));
        Ok(())
    }

    fn ucast(&mut self, line: &Line<'_>) -> Result<(), String> {
        let medium = media::parse_ucast(line.args)?;
        self.media.push((line.no, medium));
        Ok(())
    }

    fn udpport(&mut self, line: &Line<'_>) -> Result<(), String> {
        let port = media::parse_port(&line.one()?)
            .ok_or_else(|| format!("udpport [{}] is invalid (1-65535)", line.value()))?;
        if let Some((_, first)) = self.udpport {
            return Err(format!(
                "udpport multiply specified (first on line {first}); one port applies to all bcast/ucast media"
            ));
        }
        self.udpport = Some((port, line.no));
        Ok(())
    }
}

/// Nodes and ping nodes: `node`, `ping`, `ping_group`.
impl Builder<'_> {
    fn node(&mut self, line: &Line<'_>) -> Result<(), String> {
        if line.args.is_empty() {
            return Err("node needs at least one name: node NAME [NAME...]".into());
        }
        for node in line.args {
            if self.nodes.iter().any(|n| n == node) {
                self.warn(line.no, format!("node [{node}] is listed twice"));
            } else {
                self.nodes.push(node.to_string());
            }
        }
        Ok(())
    }

    fn ping(&mut self, line: &Line<'_>) -> Result<(), String> {
        if line.args.is_empty() {
            return Err("ping needs at least one address: ping IP [IP...]".into());
        }
        for ip in line.args {
            self.ping_nodes.push(ping_address("ping", ip)?);
        }
        Ok(())
    }

    fn ping_group(&mut self, line: &Line<'_>) -> Result<(), String> {
        let usage = "ping_group needs a name and addresses: ping_group NAME IP [IP...]";
        let [group, ips @ ..] = line.args else { return Err(usage.into()) };
        if ips.is_empty() {
            return Err(usage.into());
        }
        let members = ips.iter().map(|ip| ping_address("ping_group", ip)).collect::<Result<_, _>>()?;
        self.ping_groups.push((line.no, PingGroup { name: group.to_string(), members }));
        Ok(())
    }
}

/// Failback: `auto_failback`, `nice_failback`.
impl Builder<'_> {
    fn auto_failback(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        let policy = match (v.to_ascii_lowercase().as_str(), parse_bool(&v)) {
            ("legacy", _) => {
                self.warn(
                    line.no,
                    "Deprecated 'legacy' auto_failback option selected. Please convert to \
                     'auto_failback on'. See documentation for conversion details.",
                );
                AutoFailback::Legacy
            }
            (_, Some(true)) => AutoFailback::On,
            (_, Some(false)) => AutoFailback::Off,
            _ => return Err(format!("auto_failback [{v}] is invalid (on, off or legacy)")),
        };
        self.set(|b| &mut b.auto_failback, line.name, policy, line.no);
        Ok(())
    }

    fn nice_failback(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        let (policy, reading) = match parse_bool(&v) {
            Some(true) => (AutoFailback::Off, "off"),
            Some(false) => (AutoFailback::Legacy, "legacy"),
            None => return Err(format!("nice_failback [{v}] is invalid (a boolean)")),
        };
        self.warn(
            line.no,
            format!(
                "nice_failback flag is obsolete; 'nice_failback {v}' is read as 'auto_failback {reading}'. \
                 Use auto_failback {{on, off, legacy}} instead."
            ),
        );
        self.set(|b| &mut b.nice_failback, line.name, policy, line.no);
        Ok(())
    }
}

/// Logging, programs and clients: `logfacility`, `debug`, `respawn`,
/// `apiauth`.
impl Builder<'_> {
    fn logfacility(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        self.logging.facility = match (v.as_str(), Facility::from_name(&v)) {
            ("none", _) => None,
            (_, Some(facility)) => Some(facility),
            _ => return Err(format!("logfacility [{v}] is not a syslog facility (e.g. daemon, local0, none)")),
        };
        Ok(())
    }

    fn debug(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        self.logging.debug = v.parse().map_err(|_| format!("debug level [{v}] is invalid (0-255)"))?;
        Ok(())
    }

    fn respawn(&mut self, line: &Line<'_>) -> Result<(), String> {
        let [user, program, rest @ ..] = line.args else {
            return Err("respawn needs a user and a program: respawn USER /PATH [ARGS...]".into());
        };
        if !program.starts_with('/') {
            return Err(format!("respawn program [{program}] must be an absolute path"));
        }
        self.respawn.push(Respawn {
            user: user.to_string(),
            path: PathBuf::from(program),
            args: rest.iter().map(|a| a.to_string()).collect(),
        });
        Ok(())
    }

    fn apiauth(&mut self, line: &Line<'_>) -> Result<(), String> {
        let auth = parse_apiauth(line.args)?;
        if let Some((first, _)) = self.apiauth.iter().find(|(_, a)| a.client == auth.client) {
            return Err(format!("apiauth for client [{}] given twice (first on line {first})", auth.client));
        }
        self.apiauth.push((line.no, auth));
        Ok(())
    }
}

/// Watchdog: `watchdog`, `watchdog_socket`.
impl Builder<'_> {
    fn watchdog(&mut self, line: &Line<'_>) -> Result<(), String> {
        let device = line.one()?;
        if self.watchdog.is_some() {
            return Err("Watchdog device multiply specified".into());
        }
        self.watchdog = Some((PathBuf::from(device), line.no));
        Ok(())
    }

    fn watchdog_socket(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        if !v.starts_with('/') {
            return Err(format!("watchdog_socket [{v}] is not an absolute path"));
        }
        self.set(|b| &mut b.watchdog_socket, line.name, PathBuf::from(v), line.no);
        Ok(())
    }
}

/// STONITH: `stonith_action`, `stonith_timeout`, `stonith_delay`.
impl Builder<'_> {
    fn stonith_action(&mut self, line: &Line<'_>) -> Result<(), String> {
        let action = stonith::parse_action(&line.one()?)?;
        self.set(|b| &mut b.stonith_action, line.name, action, line.no);
        Ok(())
    }

    fn stonith_timeout(&mut self, line: &Line<'_>) -> Result<(), String> {
        let d = time_value(line.name, &line.value())?;
        if d.is_zero() {
            return Err("STONITH timeout [0] must be greater than zero.".into());
        }
        self.set(|b| &mut b.stonith_timeout, line.name, d, line.no);
        Ok(())
    }

    fn stonith_delay(&mut self, line: &Line<'_>) -> Result<(), String> {
        let value = line.value();
        let delay =
            if value == "auto" { StonithDelay::Auto } else { StonithDelay::Fixed(time_value(line.name, &value)?) };
        self.set(|b| &mut b.stonith_delay, line.name, delay, line.no);
        Ok(())
    }
}

/// The rest: `env`, `rtprio`.
impl Builder<'_> {
    fn env(&mut self, line: &Line<'_>) -> Result<(), String> {
        let value = line.value();
        let valid_name = |n: &str| {
            n.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        match value.split_once('=') {
            Some((var, val)) if valid_name(var) => {
                self.env.push((var.to_string(), val.to_string()));
                Ok(())
            }
            _ => Err(format!("env [{value}] is not NAME=value")),
        }
    }

    fn rtprio(&mut self, line: &Line<'_>) -> Result<(), String> {
        let v = line.one()?;
        let prio = v
            .parse::<i32>()
            .ok()
            .filter(|p| (1..=99).contains(p))
            .ok_or_else(|| format!("rtprio [{v}] is not a SCHED_FIFO priority (1 to 99)"))?;
        self.set(|b| &mut b.rtprio, line.name, prio, line.no);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directive_is_listed_once() {
        for (i, (name, _)) in DIRECTIVES.iter().enumerate() {
            assert!(!DIRECTIVES[..i].iter().any(|(other, _)| other == name), "{name} is listed twice");
            assert!(!NO_EFFECT.contains(name), "{name} is both acted on and without effect");
        }
    }
}
