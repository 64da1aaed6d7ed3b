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
use plumbing::icmp;

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

/// Whether `packet` (as read from the socket) is our echo reply.
fn is_reply(packet: &[u8], v6: bool, raw: bool, ident: u16, sequence: u16) -> bool {
    // Raw IPv4 sockets hand over the IP header too.
    let icmp = if raw && !v6 { icmp::split_raw_ipv4(packet).map_or(&[][..], |(_, icmp)| icmp) } else { packet };
    // Datagram sockets get their identifier from the kernel.
    icmp::echo_reply(icmp, v6).is_some_and(|(id, seq)| (!raw || id == ident) && seq == sequence)
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
    socket.send(&icmp::echo_request(v6, ident, sequence, PAYLOAD)).map_err(|e| fail("send", e))?;
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
    fn replies_are_matched_by_identifier_and_sequence() {
        let mut reply = icmp::echo_request(false, 7, 9, PAYLOAD);
        reply[0] = 0;
        assert!(is_reply(&reply, false, false, 1, 9), "datagram sockets: the kernel owns the identifier");
        assert!(!is_reply(&reply, false, false, 7, 10));
        let mut with_ip = vec![0x45; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert!(is_reply(&with_ip, false, true, 7, 9));
        assert!(!is_reply(&with_ip, false, true, 8, 9));
        assert!(!is_reply(&icmp::echo_request(false, 7, 9, PAYLOAD), false, false, 7, 9), "a request is no reply");
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
