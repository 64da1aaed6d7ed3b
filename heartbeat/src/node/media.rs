//! Heartbeat media (spec §1.3): one UDP socket per (interface, port),
//! bound to its interface, that sends every message to the medium's
//! destinations (broadcast address, unicast peers, multicast groups) and
//! receives what arrives on that interface.
//!
//! `ucast` lines naming one of this node's own addresses are skipped, so
//! every node can share one ha.cf listing all peers.
//!
//! Each `ucast` peer also gets a receive-only socket connected to the
//! peer's address and port: the kernel delivers that peer's datagrams to
//! it, in a queue of its own, so a flood from any other address (which
//! fills the shared socket's queue) cannot make the peer's heartbeats be
//! dropped before we read them. The sockets of one interface and port
//! share one handler (and so one replay guard).

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tracing::{info, warn};

use crate::config::hacf::Medium;
use crate::membership::message::MAX_MESSAGE_LEN;

/// A datagram that arrived on a medium (borrowed from the receive buffer).
#[derive(Debug)]
pub struct Datagram<'a> {
    /// The interface it arrived on.
    pub iface: &'a str,
    /// The local port it arrived on.
    pub port: u16,
    /// The sender.
    pub from: SocketAddr,
    /// Its bytes.
    pub bytes: &'a [u8],
}

/// Why the media could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{medium}: {message}")]
pub struct MediaError {
    /// The medium as written (`bcast eth0`).
    pub medium: String,
    /// What went wrong.
    pub message: String,
}

/// One socket and where it sends.
#[derive(Debug)]
struct Link {
    iface: String,
    port: u16,
    socket: UdpSocket,
    /// Receive-only sockets connected to the `ucast` peers.
    peer_sockets: Vec<UdpSocket>,
    destinations: Vec<SocketAddrV4>,
    labels: Vec<String>,
    errors: WriteErrors,
}

/// Throttles send-error logging: the first error of a burst is logged,
/// then one line per minute at most.
#[derive(Debug, Default)]
struct WriteErrors {
    last_logged: Option<Instant>,
    suppressed: u64,
}

/// All media of this node.
#[derive(Debug)]
pub struct Media {
    links: Vec<Link>,
}

/// This machine's IPv4 addresses and each interface's (first) directed
/// broadcast address, computed from address and netmask.
fn interface_addresses() -> (Vec<Ipv4Addr>, BTreeMap<String, Ipv4Addr>) {
    let mut own = Vec::new();
    let mut broadcast = BTreeMap::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
                own.push(sin.ip());
            }
            let ip = a.address.as_ref().and_then(|s| s.as_sockaddr_in()).map(|s| s.ip());
            let mask = a.netmask.as_ref().and_then(|s| s.as_sockaddr_in()).map(|s| s.ip());
            if let (Some(ip), Some(mask)) = (ip, mask) {
                if !ip.is_loopback() && u32::from(mask) != u32::MAX {
                    let directed = Ipv4Addr::from(u32::from(ip) | !u32::from(mask));
                    broadcast.entry(a.interface_name.clone()).or_insert(directed);
                }
            }
        }
    }
    (own, broadcast)
}

fn describe(medium: &Medium) -> String {
    match medium {
        Medium::Bcast { iface, .. } => format!("bcast {iface}"),
        Medium::Mcast { iface, group, port, .. } => format!("mcast {iface} {group} {port}"),
        Medium::Ucast { iface, peer, .. } => format!("ucast {iface} {peer}"),
    }
}

impl Media {
    /// Opens every medium. A missing interface or a port that cannot be
    /// bound is an error naming the medium.
    pub fn open(media: &[Medium]) -> Result<Media, MediaError> {
        let (own, broadcasts) = interface_addresses();
        let mut links: Vec<Link> = Vec::new();
        for medium in media {
            let label = describe(medium);
            let fail = |message: String| MediaError { medium: label.clone(), message };
            let iface = medium.iface();
            if nix::net::if_::if_nametoindex(iface).is_err() {
                return Err(fail(format!("no interface named {iface} on this node")));
            }
            let (port, destination) = match medium {
                Medium::Bcast { iface, port } => {
                    let addr = broadcasts.get(iface).copied().unwrap_or(Ipv4Addr::BROADCAST);
                    (*port, SocketAddrV4::new(addr, *port))
                }
                Medium::Ucast { peer, port, .. } => {
                    if own.contains(peer) {
                        info!("{label}: {peer} is this node's own address; line skipped");
                        continue;
                    }
                    (*port, SocketAddrV4::new(*peer, *port))
                }
                Medium::Mcast { group, port, .. } => (*port, SocketAddrV4::new(*group, *port)),
            };
            let index = match links.iter().position(|l| l.iface == iface && l.port == port) {
                Some(i) => i,
                None => {
                    let socket = bind(iface, port).map_err(|e| fail(format!("cannot open UDP port {port}: {e}")))?;
                    links.push(Link {
                        iface: iface.to_string(),
                        port,
                        socket,
                        peer_sockets: Vec::new(),
                        destinations: Vec::new(),
                        labels: Vec::new(),
                        errors: WriteErrors::default(),
                    });
                    links.len() - 1
                }
            };
            let link = &mut links[index];
            if let Medium::Mcast { group, ttl, loopback, .. } = medium {
                join(&link.socket, iface, *group, *ttl, *loopback)
                    .map_err(|e| fail(format!("cannot join multicast group {group}: {e}")))?;
            }
            if !link.destinations.contains(&destination) {
                link.destinations.push(destination);
                if let Medium::Ucast { .. } = medium {
                    let socket = bind_connected(iface, port, destination)
                        .map_err(|e| fail(format!("cannot open a UDP socket for {destination}: {e}")))?;
                    link.peer_sockets.push(socket);
                }
            }
            link.labels.push(label.clone());
            info!("{label}: started on port {port} interface {iface} to {}", destination.ip());
        }
        if links.is_empty() {
            return Err(MediaError {
                medium: "media".into(),
                message: "every medium names this node's own address: nothing to send on".into(),
            });
        }
        Ok(Media { links })
    }

    /// Sends `bytes` on every medium. Errors (a cable pulled, an interface
    /// down) are logged, throttled, and do not stop the other media.
    pub fn send(&mut self, bytes: &[u8]) {
        for link in &mut self.links {
            let mut failure = None;
            for destination in &link.destinations {
                if let Err(e) = link.socket.send_to(bytes, destination) {
                    failure = Some(e);
                }
            }
            match failure {
                Some(e) => link.errors.record(&link.labels.join(", "), &e),
                None => link.errors.clear(&link.labels.join(", ")),
            }
        }
    }

    /// Starts one receiving thread per socket; `make` builds one handler
    /// per interface and port (it may keep per-medium state), which gets
    /// every datagram read on that interface and port.
    pub fn spawn_receivers<F>(&self, mut make: impl FnMut() -> F) -> io::Result<()>
    where
        F: FnMut(Datagram<'_>) + Send + 'static,
    {
        for link in &self.links {
            let deliver = Arc::new(Mutex::new(make()));
            for socket in std::iter::once(&link.socket).chain(&link.peer_sockets) {
                let socket = socket.try_clone()?;
                let iface = link.iface.clone();
                let port = link.port;
                let deliver = deliver.clone();
                std::thread::Builder::new().name(format!("read {iface}")).spawn(move || {
                    let mut buffer = vec![0u8; MAX_MESSAGE_LEN + 1];
                    loop {
                        match socket.recv_from(&mut buffer) {
                            Ok((n, from)) => {
                                let mut deliver = deliver.lock().unwrap_or_else(|p| p.into_inner());
                                (*deliver)(Datagram { iface: &iface, port, from, bytes: &buffer[..n] })
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                warn!("read on {iface}: {e}");
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })?;
            }
        }
        Ok(())
    }
}

impl WriteErrors {
    fn record(&mut self, label: &str, e: &io::Error) {
        let now = Instant::now();
        match self.last_logged {
            Some(t) if now.duration_since(t) < Duration::from_secs(60) => self.suppressed += 1,
            _ => {
                if self.last_logged.is_none() {
                    warn!("write failure on {label}: {e}; Is a cable unplugged?");
                } else {
                    warn!("write failure on {label}: {e} ({} more suppressed)", self.suppressed);
                }
                warn!("Temporarily Suppressing write error messages");
                self.last_logged = Some(now);
                self.suppressed = 0;
            }
        }
    }

    fn clear(&mut self, label: &str) {
        if self.last_logged.take().is_some() {
            info!("writes on {label} work again");
        }
        self.suppressed = 0;
    }
}

/// A UDP socket on `port`, bound to `iface`, allowed to broadcast.
fn bind(iface: &str, port: u16) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(iface.as_bytes()))?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(socket.into())
}

/// A receive-only UDP socket on `port`, bound to `iface` and connected to
/// `peer`, so the kernel hands it `peer`'s datagrams.
fn bind_connected(iface: &str, port: u16, peer: SocketAddrV4) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind_device(Some(iface.as_bytes()))?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    socket.connect(&SocketAddr::V4(peer).into())?;
    Ok(socket.into())
}

/// Joins `group` on `iface` and sends multicast there.
fn join(socket: &UdpSocket, iface: &str, group: Ipv4Addr, ttl: u8, loopback: bool) -> io::Result<()> {
    let index = nix::net::if_::if_nametoindex(iface).map_err(io::Error::from)?;
    let socket = socket2::SockRef::from(socket);
    socket.join_multicast_v4_n(&group, &socket2::InterfaceIndexOrAddress::Index(index))?;
    socket.set_multicast_ttl_v4(u32::from(ttl))?;
    socket.set_multicast_loop_v4(loopback)?;
    Ok(())
}
