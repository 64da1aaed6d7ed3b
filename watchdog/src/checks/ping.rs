//! A target answers ICMP echo (Debian's `ping`).
//!
//! Uses an unprivileged ICMP datagram socket where the kernel allows it
//! (`net.ipv4.ping_group_range`), else a raw socket (root). The socket
//! is connected to the target, so the kernel only hands us its packets.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use socket2::{Domain, Protocol, Socket, Type};

use super::{Check, Failure};
use crate::config::show_duration;

const PAYLOAD: &[u8; 16] = b"fence-watchdog\0\0";
static NEXT_SEQUENCE: AtomicU16 = AtomicU16::new(1);

/// Pings one target per run.
#[derive(Debug)]
pub struct PingCheck {
    target: IpAddr,
    timeout: Duration,
}

impl PingCheck {
    /// A check that `target` answers within `timeout`.
    pub fn new(target: IpAddr, timeout: Duration) -> Self {
        PingCheck { target, timeout }
    }
}

impl Check for PingCheck {
    fn run(&mut self) -> Result<(), Failure> {
        ping(self.target, self.timeout).map(drop)
    }
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// The internet checksum of RFC 1071.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(v6: bool, ident: u16, sequence: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&ident.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(PAYLOAD);
    if !v6 {
        // ICMPv6 checksums cover a pseudo-header: the kernel fills them in.
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// Whether `packet` (as read from the socket) is our echo reply.
fn is_reply(packet: &[u8], v6: bool, raw: bool, ident: u16, sequence: u16) -> bool {
    // Raw IPv4 sockets hand over the IP header too.
    let icmp = if raw && !v6 {
        let header = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(header..).unwrap_or(&[])
    } else {
        packet
    };
    if icmp.len() < 8 || icmp[0] != if v6 { 129 } else { 0 } {
        return false;
    }
    // Datagram sockets get their identifier from the kernel.
    (!raw || icmp[4..6] == ident.to_be_bytes()) && icmp[6..8] == sequence.to_be_bytes()
}

fn open(target: IpAddr) -> std::io::Result<(Socket, bool)> {
    let (domain, protocol) = match target {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => Ok((s, false)),
        Err(_) => Socket::new(domain, Type::RAW, Some(protocol)).map(|s| (s, true)),
    }
}

/// Sends one echo request to `target` and waits up to `timeout` for the
/// reply; returns the round-trip time.
pub fn ping(target: IpAddr, timeout: Duration) -> Result<Duration, Failure> {
    let fail = |what: &str, e: std::io::Error| Failure::new(format!("ping {target}: {what}: {e}"), errno(&e));
    let (mut socket, raw) = open(target).map_err(|e| fail("cannot open an ICMP socket", e))?;
    let v6 = target.is_ipv6();
    let ident = (std::process::id() as u16) ^ 0x5744;
    let sequence = NEXT_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    socket.connect(&SocketAddr::new(target, 0).into()).map_err(|e| fail("connect", e))?;
    let started = Instant::now();
    socket.send(&echo_request(v6, ident, sequence)).map_err(|e| fail("send", e))?;
    let deadline = started + timeout;
    let mut buffer = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::new(
                format!("ping {target}: no reply within {}", show_duration(timeout)),
                Errno::ETIMEDOUT,
            ));
        }
        socket.set_read_timeout(Some(left)).map_err(|e| fail("set timeout", e))?;
        match socket.read(&mut buffer) {
            Ok(n) if is_reply(&buffer[..n], v6, raw, ident, sequence) => return Ok(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail("receive", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_rfc_1071() {
        // Echo request, id 0x1234, seq 1, no payload: sum 0x0800+0x1234+0x0001.
        let packet = [8, 0, 0, 0, 0x12, 0x34, 0, 1];
        assert_eq!(checksum(&packet), !0x1a35);
        let request = echo_request(false, 0x1234, 1);
        assert_eq!(checksum(&request), 0, "a packet with its checksum sums to zero");
    }

    #[test]
    fn replies_are_matched_by_identifier_and_sequence() {
        let mut reply = echo_request(false, 7, 9);
        reply[0] = 0;
        assert!(is_reply(&reply, false, false, 1, 9), "datagram sockets: the kernel owns the identifier");
        assert!(!is_reply(&reply, false, false, 7, 10));
        let mut with_ip = vec![0x45; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert!(is_reply(&with_ip, false, true, 7, 9));
        assert!(!is_reply(&with_ip, false, true, 8, 9));
        assert!(!is_reply(&echo_request(false, 7, 9), false, false, 7, 9), "a request is no reply");
    }

    #[test]
    fn loopback_answers() {
        if !nix::unistd::Uid::effective().is_root() && open("127.0.0.1".parse().unwrap()).is_err() {
            eprintln!("SKIP: ICMP sockets need root or net.ipv4.ping_group_range");
            return;
        }
        let rtt = ping("127.0.0.1".parse().unwrap(), Duration::from_secs(2)).unwrap();
        assert!(rtt < Duration::from_secs(2));
        assert_eq!(PingCheck::new("127.0.0.1".parse().unwrap(), Duration::from_secs(2)).run(), Ok(()));
    }

    #[test]
    fn an_unreachable_target_fails_with_the_reason() {
        // A fresh network namespace has its loopback down: nothing is reachable.
        let result = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).ok()?;
            Some(ping("127.0.0.1".parse().unwrap(), Duration::from_millis(500)))
        })
        .join()
        .unwrap();
        let Some(result) = result else {
            eprintln!("SKIP: cannot create a network namespace (needs root)");
            return;
        };
        let err = result.unwrap_err();
        assert!(err.reason.starts_with("ping 127.0.0.1: "), "{err:?}");
        assert!(
            err.reason.contains("Network is unreachable") || err.reason.contains("no reply within 0.5 s"),
            "{err:?}"
        );
    }
}
