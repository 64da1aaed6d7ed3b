//! One admitted request on one connection: challenge/response, execution,
//! reply. Shared by the multicast callback and the TCP listener.

use std::sync::Arc;

use protocol::auth::daemon_handshake;
use protocol::hostlist::write_host_list;
use protocol::{Request, ResultCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use super::{Admission, Deadlines, Dispatch, ListenerAuth, ListenerStats, Reply, Source};

/// What a session needs besides its connection and request.
#[derive(Clone)]
pub struct SessionContext {
    /// Credentials in force when the request was verified.
    pub auth: Arc<ListenerAuth>,
    /// Where verified requests go.
    pub dispatch: Arc<dyn Dispatch>,
    /// Network deadlines.
    pub deadlines: Deadlines,
    /// The listener's counters.
    pub stats: Arc<ListenerStats>,
}

/// Runs the exchange on `stream` for an admitted, verified request.
pub async fn serve<S>(mut stream: S, request: Request, source: Source, admission: Admission, ctx: SessionContext)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let SessionContext { auth, dispatch, deadlines, stats } = ctx;
    if let Err(e) = daemon_handshake(&mut stream, auth.auth, &auth.key, deadlines.step).await {
        ListenerStats::bump(&stats.auth_failures);
        stats.warn(
            super::stats::Warning::HandshakeFailed,
            &format_args!("{request} from {}: authentication failed: {e}", source.identity),
        );
        return;
    }
    let reply = dispatch.execute(request.clone(), source.clone()).await;
    let written = match &reply {
        Reply::Code(code) => match timeout(deadlines.reply, stream.write_all(&[code.byte()])).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "reply write timed out")),
        },
        Reply::HostList(records) => write_host_list(&mut stream, records, ResultCode::Success, deadlines.reply).await,
    };
    match written {
        Ok(()) => {
            let _ = timeout(deadlines.reply, stream.shutdown()).await;
            ListenerStats::bump(&stats.served);
            admission.complete();
        }
        Err(e) => {
            tracing::warn!("{} from {}: could not deliver the result: {e}", request, source.identity);
            // The operation ran; record it so a retransmission is not acted on twice.
            admission.complete();
        }
    }
}
