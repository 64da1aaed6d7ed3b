//! `fence_xvm`: send the signed request to the multicast group from every
//! local address, wait for a daemon to connect back, authenticate.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use keys::HashAlgorithm;
use protocol::defaults::MULTICAST_TTL;
use protocol::Request;
use rand::RngCore;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::callback::{collect, Callbacks};
use super::{Answer, Credentials, TransportError};

/// Where and how often to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MulticastTarget {
    /// Multicast group (its family selects the local addresses used).
    pub group: IpAddr,
    /// UDP port of the group, also the preferred callback port.
    pub port: u16,
    /// Time between rounds.
    pub retrans: Duration,
}

/// Local addresses a request is sent from, in kernel order, IPv6 loopback
/// and link-local addresses excluded (IPv4 loopback is kept, as the original).
pub fn local_addresses(ipv6: bool) -> io::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        let Some(addr) = ifa.address else { continue };
        let ip = if ipv6 {
            match addr.as_sockaddr_in6() {
                Some(a) => IpAddr::V6(a.ip()),
                None => continue,
            }
        } else {
            match addr.as_sockaddr_in() {
                Some(a) => IpAddr::V4(a.ip()),
                None => continue,
            }
        };
        if let IpAddr::V6(v6) = ip {
            if v6 == Ipv6Addr::LOCALHOST || (v6.segments()[0] & 0xffc0) == 0xfe80 {
                continue;
            }
        }
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// Opens the callback listener on the group's port, or on an ephemeral port
/// when that one is taken (so two agents on one host do not fail; the
/// daemon connects to whatever port the request names).
fn open_listener(group: IpAddr, port: u16) -> io::Result<TcpListener> {
    let wildcard = match group {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let bind = |port| -> io::Result<TcpListener> {
        let socket =
            Socket::new(Domain::for_address(SocketAddr::new(wildcard, port)), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if wildcard.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&SockAddr::from(SocketAddr::new(wildcard, port)))?;
        socket.listen(10)?;
        TcpListener::from_std(socket.into())
    };
    match bind(port) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => bind(0),
        other => other,
    }
}

/// Sends one signed copy of `request`, naming `local` as callback address.
fn send_from(
    local: IpAddr,
    target: &MulticastTarget,
    callback_port: u16,
    request: &Request,
    creds: &Credentials,
) -> io::Result<()> {
    let group = SocketAddr::new(target.group, target.port);
    let socket = Socket::new(Domain::for_address(group), Type::DGRAM, Some(Protocol::UDP))?;
    match (local, target.group) {
        (IpAddr::V4(local4), IpAddr::V4(group4)) => {
            let _ = socket.join_multicast_v4(&group4, &local4);
            socket.set_multicast_if_v4(&local4)?;
            socket.set_multicast_ttl_v4(MULTICAST_TTL)?;
        }
        (IpAddr::V6(_), IpAddr::V6(group6)) => {
            socket.set_multicast_loop_v6(true)?;
            let _ = socket.join_multicast_v6(&group6, 0);
            socket.set_multicast_hops_v6(MULTICAST_TTL)?;
        }
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "address family mismatch")),
    }
    let mut copy = request.clone();
    copy.callback = Some(SocketAddr::new(local, callback_port));
    if copy.hash != HashAlgorithm::None {
        rand::rngs::OsRng.fill_bytes(&mut copy.random);
    }
    socket.send_to(&copy.to_signed_bytes(&creds.key), &SockAddr::from(group))?;
    Ok(())
}

/// Sends rounds of requests until a daemon connects back and proves it
/// holds the key, or `deadline` passes; then answers its challenge and
/// reads the answer. Connections that are not the daemon are dropped and
/// the client keeps waiting (see [`super::callback`]).
pub async fn run(
    target: &MulticastTarget,
    request: &Request,
    creds: &Credentials,
    deadline: Instant,
    debug: u32,
) -> Result<Answer, TransportError> {
    let listener = open_listener(target.group, target.port).map_err(TransportError::Listen)?;
    let callback_port = listener.local_addr().map_err(TransportError::Listen)?.port();
    if debug > 0 && callback_port != target.port {
        eprintln!("port {} is busy; waiting for the callback on port {callback_port}", target.port);
    }
    let addresses = local_addresses(target.group.is_ipv6()).map_err(TransportError::Send)?;
    let mut callbacks = Callbacks::new(creds, deadline, debug);
    let round = || {
        // Interfaces may come and go during the run; keep the first list if
        // they cannot be read again.
        let addresses = local_addresses(target.group.is_ipv6()).unwrap_or_else(|_| addresses.clone());
        let mut sent = 0;
        for local in &addresses {
            match send_from(*local, target, callback_port, request, creds) {
                Ok(()) => sent += 1,
                Err(e) if debug > 0 => eprintln!("Sending from {local} failed: {e}"),
                Err(_) => {}
            }
        }
        if debug > 0 {
            eprintln!("Sent {sent} request(s) for {request}");
        }
        Instant::now() + target.retrans
    };
    let result = collect(&listener, &mut callbacks, deadline, round).await;
    if let Some(summary) = callbacks.summary() {
        eprintln!("{summary}");
    }
    result
}
