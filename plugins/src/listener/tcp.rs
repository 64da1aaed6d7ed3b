//! The TCP listener (`fence_virt -T`): the request arrives on the
//! connection itself; the source identity is the peer address.
//!
//! What a peer can hold is bounded: connections are capped in total and
//! per address ([`ConnectionLimits`]; one over a cap is closed at once), a
//! connection must deliver its whole request within `Deadlines::request`
//! (1 s, as the original), and `accept` errors back off exponentially.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::REQUEST_LEN;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener as TokioTcpListener, TcpStream};
use tokio::time::timeout;

use super::backoff::Backoff;
use super::conn_limit::{ConnectionLimits, Slot};
use super::session::SessionContext;
use super::stats::Warning;
use super::{
    current_auth, session, BoxFuture, Deadlines, Declined, Dispatch, Listener, ListenerStats, SharedAuth, Source,
};

/// A bound TCP listener.
pub struct TcpListener {
    socket: TokioTcpListener,
    auth: SharedAuth,
    deadlines: Deadlines,
    stats: Arc<ListenerStats>,
    limits: Arc<ConnectionLimits>,
}

impl TcpListener {
    /// Binds `address` (must be called inside a tokio runtime).
    pub fn bind(
        address: SocketAddr,
        auth: SharedAuth,
        deadlines: Deadlines,
        stats: Arc<ListenerStats>,
    ) -> std::io::Result<Self> {
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if address.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&SockAddr::from(address))?;
        socket.listen(128)?;
        Ok(TcpListener {
            socket: TokioTcpListener::from_std(socket.into())?,
            auth,
            deadlines,
            stats,
            limits: ConnectionLimits::for_this_process(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// Serves one accepted connection; `_slot` holds its place under the
/// connection caps until this returns.
async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    _slot: Slot,
    auth: SharedAuth,
    dispatch: Arc<dyn Dispatch>,
    deadlines: Deadlines,
    stats: Arc<ListenerStats>,
) {
    let mut buf = [0u8; REQUEST_LEN];
    match timeout(deadlines.request, stream.read_exact(&mut buf)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => {
            stats.reject(peer.ip(), &"connection closed before a whole request arrived");
            return;
        }
        Err(_) => {
            stats.reject(peer.ip(), &"no request within the deadline");
            return;
        }
    }
    let creds = current_auth(&auth);
    let request = match creds.verify(&buf) {
        Ok(r) => r,
        Err(reason) => {
            stats.reject(peer.ip(), &reason);
            return;
        }
    };
    ListenerStats::bump(&stats.verified);
    let source = Source { identity: peer.ip().to_string(), peer: Some(peer) };
    let admission = match dispatch.admit(&request, &source) {
        Ok(a) => a,
        Err(Declined::Duplicate) => {
            ListenerStats::bump(&stats.duplicates);
            tracing::debug!("{request} from {peer}: duplicate, dropped");
            return;
        }
        Err(Declined::Busy) => {
            ListenerStats::bump(&stats.busy);
            return;
        }
    };
    let ctx = SessionContext { auth: creds, dispatch, deadlines, stats };
    session::serve(stream, request, source, admission, ctx).await;
}

impl Listener for TcpListener {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn serve(self: Box<Self>, dispatch: Arc<dyn Dispatch>) -> BoxFuture<std::io::Result<()>> {
        Box::pin(async move {
            tracing::debug!(
                "tcp: at most {} connections at once, {} per address",
                self.limits.total_cap(),
                super::conn_limit::MAX_PER_PEER
            );
            let mut backoff = Backoff::default();
            loop {
                let (stream, peer) = match self.socket.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        ListenerStats::bump(&self.stats.accept_failures);
                        let wait = backoff.failed();
                        self.stats.warn(
                            Warning::AcceptFailed,
                            &format_args!("tcp accept failed: {e}; retrying in {} ms", wait.as_millis()),
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                };
                backoff.succeeded();
                ListenerStats::bump(&self.stats.received);
                let slot = match self.limits.take(peer.ip()) {
                    Ok(slot) => slot,
                    Err(full) => {
                        drop(stream);
                        ListenerStats::bump(&self.stats.refused_connections);
                        let refused = ListenerStats::get(&self.stats.refused_connections);
                        self.stats.warn(
                            Warning::ConnectionRefused,
                            &format_args!("tcp connection from {peer} refused: {full} ({refused} refused so far)"),
                        );
                        continue;
                    }
                };
                tokio::spawn(handle(
                    stream,
                    peer,
                    slot,
                    self.auth.clone(),
                    dispatch.clone(),
                    self.deadlines,
                    self.stats.clone(),
                ));
            }
        })
    }
}
