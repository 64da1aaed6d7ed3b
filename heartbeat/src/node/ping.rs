//! Ping pseudo-nodes (spec §1.3 `ping`, `ping_group`): an ICMP echo request
//! to every address each keepalive; replies are reported by address. A
//! raw ICMP socket is used, so the core needs root or CAP_NET_RAW when
//! ping nodes are configured.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};

use plumbing::icmp;
use socket2::{Domain, Protocol, Socket, Type};
use tracing::debug;

/// Sends echo requests and hands replies to a callback.
#[derive(Debug)]
pub struct Pinger {
    socket: Socket,
    targets: Vec<Ipv4Addr>,
    identifier: u16,
    sequence: u16,
}

/// The payload of our echo requests.
const PAYLOAD: &[u8] = b"heartbeat ping";

/// The source of an echo reply with our identifier in a raw IPv4 packet.
fn reply_source(packet: &[u8], identifier: u16) -> Option<Ipv4Addr> {
    let (source, icmp) = icmp::split_raw_ipv4(packet)?;
    icmp::echo_reply(icmp, false).filter(|(id, _)| *id == identifier).map(|_| source)
}

impl Pinger {
    /// A pinger for `targets` (ha.cf accepts IPv4 ping nodes only).
    pub fn new(targets: &[Ipv4Addr]) -> io::Result<Pinger> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open an ICMP socket for ping nodes: {e} (needs root or CAP_NET_RAW)"),
            )
        })?;
        Ok(Pinger { socket, targets: targets.to_vec(), identifier: (std::process::id() & 0xffff) as u16, sequence: 0 })
    }

    /// Sends one echo request to every target (errors such as an unreachable
    /// network are expected while a link is down and only logged at debug).
    pub fn send_round(&mut self) {
        self.sequence = self.sequence.wrapping_add(1);
        let packet = icmp::echo_request(false, self.identifier, self.sequence, PAYLOAD);
        for target in &self.targets {
            if let Err(e) = self.socket.send_to(&packet, &SocketAddr::from((*target, 0)).into()) {
                debug!("ping {target}: {e}");
            }
        }
    }

    /// Starts the thread that reports each reply's source address.
    pub fn spawn_receiver(&self, deliver: impl Fn(Ipv4Addr) + Send + 'static) -> io::Result<()> {
        let socket = self.socket.try_clone()?;
        let identifier = self.identifier;
        let targets = self.targets.clone();
        std::thread::Builder::new().name("read ping".into()).spawn(move || {
            let mut buffer = [MaybeUninit::<u8>::uninit(); 2048];
            loop {
                let Ok(n) = socket.recv(&mut buffer) else { continue };
                // SAFETY: recv initialised the first n bytes.
                let bytes: Vec<u8> = buffer[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
                if let Some(src) = reply_source(&bytes, identifier) {
                    if targets.contains(&src) {
                        deliver(src);
                    }
                }
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_source_accepts_only_our_echo_replies() {
        let mut ip = vec![0x45u8, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 254, 198, 18, 0, 1];
        let mut reply = icmp::echo_request(false, 0x1234, 1, PAYLOAD);
        reply[0] = 0;
        ip.extend_from_slice(&reply);
        assert_eq!(reply_source(&ip, 0x1234), Some(Ipv4Addr::new(198, 18, 0, 254)));
        assert_eq!(reply_source(&ip, 0x4321), None);
        ip[20] = 8;
        assert_eq!(reply_source(&ip, 0x1234), None);
        assert_eq!(reply_source(&[0x45, 0], 1), None);
    }
}
