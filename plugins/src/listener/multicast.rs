//! The multicast listener (fence_xvm): requests arrive as UDP datagrams on
//! a multicast group; the daemon connects back to the address in the
//! request and runs the exchange there.
//!
//! The receive loop never waits on anything but the socket: verification
//! is cheap and done inline, everything else runs on a task per request.
//!
//! Only datagrams sent to the group reach the socket: it is bound to the
//! group address (not the wildcard, so unicast datagrams to any of the
//! host's addresses on the port are not delivered to it), it receives only
//! the memberships it joined itself (`IP_MULTICAST_ALL` /
//! `IPV6_MULTICAST_ALL` off), and with an `interface` it joins there only
//! and is bound to that device, so datagrams arriving on other interfaces
//! are dropped by the kernel.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use protocol::{Request, REQUEST_LEN};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::session::SessionContext;
use super::stats::Warning;
use super::{
    current_auth, session, BoxFuture, Deadlines, Declined, Dispatch, Listener, ListenerStats, SharedAuth, Source,
};

/// Receive buffer asked of the kernel, so floods do not drop good packets.
const RECV_BUFFER: usize = 4 << 20;

/// Where to listen.
#[derive(Debug, Clone)]
pub struct MulticastConfig {
    /// Group to join (its family is the listener's family).
    pub group: IpAddr,
    /// UDP port.
    pub port: u16,
    /// Interface index to join on (`None`: let the kernel choose).
    pub interface_index: Option<u32>,
    /// Require the callback address in the request to equal the datagram's
    /// source address (off only for NAT setups).
    pub require_source_match: bool,
}

/// A bound multicast listener.
pub struct MulticastListener {
    socket: UdpSocket,
    config: MulticastConfig,
    auth: SharedAuth,
    deadlines: Deadlines,
    stats: Arc<ListenerStats>,
}

impl MulticastListener {
    /// Binds the port and joins the group (inside a tokio runtime).
    pub fn bind(
        config: MulticastConfig,
        auth: SharedAuth,
        deadlines: Deadlines,
        stats: Arc<ListenerStats>,
    ) -> io::Result<Self> {
        let bind_addr = SocketAddr::new(config.group, config.port);
        let socket = Socket::new(Domain::for_address(bind_addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        if let Err(e) = socket.set_recv_buffer_size(RECV_BUFFER) {
            tracing::debug!("could not enlarge the receive buffer: {e}");
        }
        if let Some(index) = config.interface_index {
            // Memberships already filter by interface (multicast-all is off
            // below); the device binding also drops anything else arriving
            // elsewhere. It needs CAP_NET_RAW on older kernels.
            match nix::net::if_::if_indextoname(index) {
                Ok(name) => {
                    if let Err(e) = socket.bind_device(Some(name.as_bytes())) {
                        tracing::warn!(
                            "could not bind the multicast socket to {name:?}: {e} (membership still limits it)"
                        );
                    }
                }
                Err(e) => return Err(io::Error::other(format!("interface index {index}: {e}"))),
            }
        }
        match config.group {
            IpAddr::V4(group) => {
                socket.set_multicast_all_v4(false)?;
                socket.bind(&SockAddr::from(bind_addr))?;
                let iface = match config.interface_index {
                    Some(i) => InterfaceIndexOrAddress::Index(i),
                    None => InterfaceIndexOrAddress::Address(Ipv4Addr::UNSPECIFIED),
                };
                socket.join_multicast_v4_n(&group, &iface)?;
            }
            IpAddr::V6(group) => {
                socket.set_only_v6(true)?;
                socket.set_multicast_all_v6(false)?;
                socket.bind(&SockAddr::from(v6_bind_address(group, &config)))?;
                socket.set_multicast_loop_v6(true)?;
                socket.join_multicast_v6(&group, config.interface_index.unwrap_or(0))?;
            }
        }
        socket.set_nonblocking(true)?;
        Ok(MulticastListener { socket: UdpSocket::from_std(socket.into())?, config, auth, deadlines, stats })
    }
}

/// Where an IPv6 listener binds: the group, with the interface as scope
/// for interface- and link-local groups (ff01::/16, ff02::/16 style). Such a
/// group without an `interface` cannot be bound, so the wildcard is used
/// then (memberships still limit what arrives by multicast), and said.
fn v6_bind_address(group: std::net::Ipv6Addr, config: &MulticastConfig) -> SocketAddr {
    let scope = group.segments()[0] & 0x000f;
    let needs_scope = scope == 1 || scope == 2;
    match (needs_scope, config.interface_index) {
        (false, _) => SocketAddr::new(IpAddr::V6(group), config.port),
        (true, Some(index)) => std::net::SocketAddrV6::new(group, config.port, 0, index).into(),
        (true, None) => {
            tracing::warn!(
                "multicast group {group} is link-scoped and no interface is set: listening on all addresses of port {}; set `interface` to limit it",
                config.port
            );
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), config.port)
        }
    }
}

async fn call_back(
    request: Request,
    callback: SocketAddr,
    source: Source,
    admission: super::Admission,
    ctx: SessionContext,
) {
    let (deadlines, stats) = (ctx.deadlines, ctx.stats.clone());
    let stream = match timeout(deadlines.connect, TcpStream::connect(callback)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            ListenerStats::bump(&stats.callback_failures);
            stats.warn(Warning::CallbackFailed, &format_args!("{request}: failed to call back {callback}: {e}"));
            return;
        }
        Err(_) => {
            ListenerStats::bump(&stats.callback_failures);
            stats.warn(Warning::CallbackFailed, &format_args!("{request}: failed to call back {callback}: timed out"));
            return;
        }
    };
    let _ = socket2::SockRef::from(&stream).set_keepalive(true);
    let _ = stream.set_nodelay(true);
    session::serve(stream, request, source, admission, ctx).await;
}

impl Listener for MulticastListener {
    fn name(&self) -> &'static str {
        "multicast"
    }

    fn serve(self: Box<Self>, dispatch: Arc<dyn Dispatch>) -> BoxFuture<io::Result<()>> {
        Box::pin(async move {
            // One byte more than a request, so oversized datagrams are seen as such.
            let mut buf = [0u8; REQUEST_LEN + 1];
            loop {
                let (len, from) = match self.socket.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(e) => {
                        self.stats.warn(Warning::ReceiveFailed, &format_args!("multicast receive failed: {e}"));
                        continue;
                    }
                };
                ListenerStats::bump(&self.stats.received);
                let creds = current_auth(&self.auth);
                let request = match creds.verify(&buf[..len]) {
                    Ok(r) => r,
                    Err(reason) => {
                        self.stats.reject(from.ip(), &reason);
                        continue;
                    }
                };
                let Some(callback) = request.callback else {
                    self.stats.reject(from.ip(), &"request without callback address");
                    continue;
                };
                if self.config.require_source_match && callback.ip() != from.ip() {
                    self.stats
                        .reject(from.ip(), &format_args!("callback address {} differs from the sender", callback.ip()));
                    continue;
                }
                ListenerStats::bump(&self.stats.verified);
                let source = Source { identity: callback.ip().to_string(), peer: Some(from) };
                let admission = match dispatch.admit(&request, &source) {
                    Ok(a) => a,
                    Err(Declined::Duplicate) => {
                        ListenerStats::bump(&self.stats.duplicates);
                        continue;
                    }
                    Err(Declined::Busy) => {
                        ListenerStats::bump(&self.stats.busy);
                        continue;
                    }
                };
                let ctx = SessionContext {
                    auth: creds,
                    dispatch: dispatch.clone(),
                    deadlines: self.deadlines,
                    stats: self.stats.clone(),
                };
                tokio::spawn(call_back(request, callback, source, admission, ctx));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(group: &str, interface_index: Option<u32>) -> MulticastConfig {
        MulticastConfig { group: group.parse().unwrap(), port: 1229, interface_index, require_source_match: true }
    }

    #[test]
    fn ipv6_binds_the_group_scoped_to_the_interface_when_needed() {
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
        assert_eq!(v6_bind_address(v6("ff05::3:1"), &config("ff05::3:1", None)), "[ff05::3:1]:1229".parse().unwrap());
        let scoped = v6_bind_address(v6("ff02::3:1"), &config("ff02::3:1", Some(7)));
        assert_eq!(scoped, std::net::SocketAddrV6::new(v6("ff02::3:1"), 1229, 0, 7).into());
        assert_eq!(v6_bind_address(v6("ff02::3:1"), &config("ff02::3:1", None)), "[::]:1229".parse().unwrap());
    }
}
