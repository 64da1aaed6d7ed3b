//! The TCP listener (`fence_virt -T`): the request arrives on the
//! connection itself; the source identity is the peer address.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::{Request, REQUEST_LEN};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener as TokioTcpListener, TcpStream};
use tokio::time::timeout;

use super::session::SessionContext;
use super::{
    current_auth, session, BoxFuture, Deadlines, Declined, Dispatch, Listener, ListenerStats, SharedAuth, Source,
};

/// A bound TCP listener.
pub struct TcpListener {
    socket: TokioTcpListener,
    auth: SharedAuth,
    deadlines: Deadlines,
    stats: Arc<ListenerStats>,
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
        Ok(TcpListener { socket: TokioTcpListener::from_std(socket.into())?, auth, deadlines, stats })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
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
    let request = match Request::verify_and_decode(&buf, &creds.key, creds.hash) {
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
            loop {
                let (stream, peer) = match self.socket.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("tcp accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                ListenerStats::bump(&self.stats.received);
                tokio::spawn(handle(
                    stream,
                    peer,
                    self.auth.clone(),
                    dispatch.clone(),
                    self.deadlines,
                    self.stats.clone(),
                ));
            }
        })
    }
}
