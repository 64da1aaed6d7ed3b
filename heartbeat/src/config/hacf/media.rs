//! Communication media directives (spec §1.3): `bcast`, `mcast`, `ucast`.

use std::net::Ipv4Addr;

/// Heartbeat's UDP port (IANA `ha-cluster`), used by bcast and ucast when
/// ha.cf has no `udpport`. (3.0.6 first consults `/etc/services`; Debian's
/// has no `ha-cluster` entry, so the result is the same.)
pub const DEFAULT_UDP_PORT: u16 = 694;

/// One heartbeat path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// UDP broadcast on `iface` to `port` (`bcast IF`).
    Bcast { iface: String, port: u16 },
    /// UDP multicast (`mcast IF GROUP PORT TTL LOOP`); its port is its own,
    /// `udpport` does not apply.
    Mcast { iface: String, group: Ipv4Addr, port: u16, ttl: u8, loopback: bool },
    /// UDP unicast to one peer (`ucast IF PEER-IP`). A line naming one of
    /// this node's own addresses is to be ignored at run time.
    Ucast { iface: String, peer: Ipv4Addr, port: u16 },
}

impl Medium {
    /// The interface the medium is bound to.
    pub fn iface(&self) -> &str {
        match self {
            Medium::Bcast { iface, .. } | Medium::Mcast { iface, .. } | Medium::Ucast { iface, .. } => iface,
        }
    }

    /// Whether `udpport` applies to this medium (bcast and ucast).
    pub fn uses_udpport(&self) -> bool {
        !matches!(self, Medium::Mcast { .. })
    }

    /// Sets the port of a bcast/ucast medium; mcast keeps its own.
    pub(super) fn with_udp_port(self, udp_port: u16) -> Medium {
        match self {
            Medium::Bcast { iface, .. } => Medium::Bcast { iface, port: udp_port },
            Medium::Ucast { iface, peer, .. } => Medium::Ucast { iface, peer, port: udp_port },
            mcast @ Medium::Mcast { .. } => mcast,
        }
    }
}

/// `bcast IF [IF…]`: one medium per interface.
pub(super) fn parse_bcast(args: &[&str]) -> Result<Vec<Medium>, String> {
    if args.is_empty() {
        return Err("bcast needs at least one interface: bcast IF [IF...]".into());
    }
    Ok(args.iter().map(|iface| Medium::Bcast { iface: iface.to_string(), port: DEFAULT_UDP_PORT }).collect())
}

/// `ucast IF PEER-IP`.
pub(super) fn parse_ucast(args: &[&str]) -> Result<Medium, String> {
    let [iface, peer] = args else {
        return Err("ucast needs 2 values: ucast IF PEER-IP".into());
    };
    let peer: Ipv4Addr = peer.parse().map_err(|_| format!("ucast peer [{peer}] is not an IPv4 address"))?;
    Ok(Medium::Ucast { iface: iface.to_string(), peer, port: DEFAULT_UDP_PORT })
}

/// `mcast IF GROUP PORT TTL LOOP`; returns the medium and an optional
/// advisory (loopback on, or a reserved group).
pub(super) fn parse_mcast(args: &[&str]) -> Result<(Medium, Option<String>), String> {
    let [iface, group, port, ttl, lp] = args else {
        return Err("mcast needs 5 values: mcast IF GROUP PORT TTL LOOP".into());
    };
    let group: Ipv4Addr = match group.parse::<Ipv4Addr>() {
        Ok(g) if g.is_multicast() => g,
        _ => return Err(format!("mcast group [{group}] is not an IPv4 multicast address (224.0.0.0-239.255.255.255)")),
    };
    let port = parse_port(port).ok_or_else(|| format!("mcast port [{port}] is invalid (1-65535)"))?;
    let ttl = match ttl.parse::<u8>() {
        Ok(t) if t >= 1 => t,
        _ => return Err(format!("mcast ttl [{ttl}] is invalid (1-255)")),
    };
    let loopback = match *lp {
        "0" => false,
        "1" => true,
        _ => return Err(format!("mcast loop [{lp}] is invalid (0 or 1)")),
    };
    let advice = if group.octets()[..3] == [224, 0, 0] {
        Some(format!("mcast group [{group}] is a reserved well-known group; use one from 239.192.0.0/14"))
    } else if loopback {
        Some("mcast loop 1 makes this node receive its own packets; use 0".to_string())
    } else {
        None
    };
    Ok((Medium::Mcast { iface: iface.to_string(), group, port, ttl, loopback }, advice))
}

/// A UDP port number 1–65535.
pub(super) fn parse_port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcast_makes_one_medium_per_interface() {
        assert_eq!(
            parse_bcast(&["eth0", "eth1"]).unwrap(),
            vec![Medium::Bcast { iface: "eth0".into(), port: 694 }, Medium::Bcast { iface: "eth1".into(), port: 694 }]
        );
        assert_eq!(parse_bcast(&[]).unwrap_err(), "bcast needs at least one interface: bcast IF [IF...]");
    }

    #[test]
    fn ucast_takes_interface_and_ipv4_peer() {
        assert_eq!(
            parse_ucast(&["eth1", "10.0.0.2"]).unwrap(),
            Medium::Ucast { iface: "eth1".into(), peer: Ipv4Addr::new(10, 0, 0, 2), port: 694 }
        );
        assert_eq!(parse_ucast(&["eth1"]).unwrap_err(), "ucast needs 2 values: ucast IF PEER-IP");
        assert_eq!(parse_ucast(&["eth1", "a", "b"]).unwrap_err(), "ucast needs 2 values: ucast IF PEER-IP");
        assert_eq!(parse_ucast(&["eth1", "bravo"]).unwrap_err(), "ucast peer [bravo] is not an IPv4 address");
        assert_eq!(parse_ucast(&["eth1", "fe80::1"]).unwrap_err(), "ucast peer [fe80::1] is not an IPv4 address");
    }

    #[test]
    fn mcast_parses_all_five_values() {
        let (m, advice) = parse_mcast(&["eth0", "239.192.0.1", "694", "1", "0"]).unwrap();
        assert_eq!(
            m,
            Medium::Mcast {
                iface: "eth0".into(),
                group: Ipv4Addr::new(239, 192, 0, 1),
                port: 694,
                ttl: 1,
                loopback: false
            }
        );
        assert_eq!(advice, None);
    }

    #[test]
    fn mcast_errors_name_the_bad_value() {
        let err = |a: &[&str]| parse_mcast(a).unwrap_err();
        assert_eq!(err(&["eth0", "239.0.0.1", "694", "1"]), "mcast needs 5 values: mcast IF GROUP PORT TTL LOOP");
        assert_eq!(
            err(&["eth0", "10.0.0.1", "694", "1", "0"]),
            "mcast group [10.0.0.1] is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"
        );
        assert_eq!(
            err(&["eth0", "240.0.0.1", "694", "1", "0"]),
            "mcast group [240.0.0.1] is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"
        );
        assert_eq!(err(&["eth0", "239.0.0.1", "0", "1", "0"]), "mcast port [0] is invalid (1-65535)");
        assert_eq!(err(&["eth0", "239.0.0.1", "65536", "1", "0"]), "mcast port [65536] is invalid (1-65535)");
        assert_eq!(err(&["eth0", "239.0.0.1", "694", "0", "0"]), "mcast ttl [0] is invalid (1-255)");
        assert_eq!(err(&["eth0", "239.0.0.1", "694", "256", "0"]), "mcast ttl [256] is invalid (1-255)");
        assert_eq!(err(&["eth0", "239.0.0.1", "694", "1", "2"]), "mcast loop [2] is invalid (0 or 1)");
    }

    #[test]
    fn mcast_advises_against_loopback_and_reserved_groups() {
        let (_, advice) = parse_mcast(&["eth0", "239.192.0.1", "694", "1", "1"]).unwrap();
        assert_eq!(advice.unwrap(), "mcast loop 1 makes this node receive its own packets; use 0");
        let (_, advice) = parse_mcast(&["eth0", "224.0.0.18", "694", "1", "0"]).unwrap();
        assert!(advice.unwrap().starts_with("mcast group [224.0.0.18] is a reserved well-known group"));
    }

    #[test]
    fn udpport_applies_to_bcast_and_ucast_only() {
        let b = parse_bcast(&["eth0"]).unwrap().remove(0).with_udp_port(700);
        assert_eq!(b, Medium::Bcast { iface: "eth0".into(), port: 700 });
        let u = parse_ucast(&["eth1", "10.0.0.2"]).unwrap().with_udp_port(700);
        assert_eq!(u, Medium::Ucast { iface: "eth1".into(), peer: Ipv4Addr::new(10, 0, 0, 2), port: 700 });
        let (m, _) = parse_mcast(&["eth0", "239.192.0.1", "695", "1", "0"]).unwrap();
        assert!(!m.uses_udpport());
        assert!(matches!(m.with_udp_port(700), Medium::Mcast { port: 695, .. }));
    }
}
