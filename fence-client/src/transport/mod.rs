//! Ways of reaching fence_virtd. Every transport ends in a connected,
//! authenticated stream on which the daemon's answer is read.

pub mod callback;
pub mod multicast;
pub mod tcp;

use std::net::IpAddr;
use std::time::Duration;

use keys::HashAlgorithm;
use protocol::auth::{challenge, respond, AuthError};
use protocol::hostlist::{read_host_list, HostListError};
use protocol::{HostRecord, ResultCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{timeout_at, Instant};

/// How the agent reaches fence_virtd, chosen once the options are complete
/// ([`crate::options::Options::transport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// fence_xvm: multicast the request, the daemon calls back over TCP.
    Multicast(multicast::MulticastTarget),
    /// fence_virt `-T`: connect to the daemon's TCP listener.
    Tcp {
        /// Daemon address.
        address: IpAddr,
        /// Daemon port.
        port: u16,
    },
    /// fence_virt `-S`: connect over a VM socket (not implemented yet).
    Vsock {
        /// Host CID.
        cid: u32,
        /// Port.
        port: u16,
    },
    /// fence_virt `-D`: a serial device (not implemented yet).
    Serial {
        /// Device path.
        device: String,
        /// Line parameters (`115200,8N1`).
        params: String,
    },
    /// fence_virt without `-T`, `-S` or `-D`: guest-forwarding VMChannel
    /// (not implemented yet).
    VmChannel {
        /// Channel address.
        address: String,
        /// Port.
        port: u16,
    },
}

/// What the daemon answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A result byte.
    Result(ResultCode),
    /// A host list (after the 0xFD marker).
    HostList(Vec<HostRecord>),
}

/// Why no answer was obtained.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No daemon called back before the timeout (multicast).
    #[error("Timed out waiting for response")]
    NoCallback,
    /// The callback listener could not be opened.
    #[error("Failed to listen: {0}")]
    Listen(std::io::Error),
    /// Sending the request failed.
    #[error("Failed to send request: {0}")]
    Send(std::io::Error),
    /// TCP connect failed.
    #[error("Unable to connect to fence_virtd host {addr} {source}")]
    Connect {
        /// Target.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Challenge/response failed.
    #[error("Invalid response to challenge ({0})")]
    Auth(AuthError),
    /// No result byte within the timeout.
    #[error("Unknown response (-1)")]
    NoResult,
    /// Reading the host list failed.
    #[error("{0}")]
    HostList(HostListError),
    /// The transport is not available in this build.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Authentication settings shared by all transports.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Key bytes (empty when both algorithms are none).
    pub key: Vec<u8>,
    /// Packet signature algorithm.
    pub hash: HashAlgorithm,
    /// Challenge/response algorithm.
    pub auth: HashAlgorithm,
}

/// Runs the challenge/response on a connected stream and reads the answer.
/// No step may run past `deadline`.
pub async fn authenticate_and_read<S>(
    stream: &mut S,
    creds: &Credentials,
    deadline: Instant,
) -> Result<Answer, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    verify_daemon(stream, creds, deadline).await?;
    answer_and_read(stream, creds, deadline).await
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

/// First half of the exchange: challenges the peer, which proves it holds
/// the key by answering (nothing is exchanged when `auth` is none).
pub async fn verify_daemon<S>(stream: &mut S, creds: &Credentials, deadline: Instant) -> Result<(), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    auth_step(deadline, challenge(stream, creds.auth, &creds.key, remaining(deadline))).await
}

/// Runs one challenge/response step, failing when `deadline` passes.
async fn auth_step(
    deadline: Instant,
    step: impl std::future::Future<Output = Result<(), AuthError>>,
) -> Result<(), TransportError> {
    match timeout_at(deadline, step).await {
        Err(_) => Err(TransportError::Auth(AuthError::Timeout("challenge/response"))),
        Ok(result) => result.map_err(TransportError::Auth),
    }
}

/// Second half: answers the daemon's challenge, then reads the result byte
/// (and the host list after 0xFD). A connection closed without a result
/// is a failure.
pub async fn answer_and_read<S>(
    stream: &mut S,
    creds: &Credentials,
    deadline: Instant,
) -> Result<Answer, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    auth_step(deadline, respond(stream, creds.auth, &creds.key, remaining(deadline))).await?;
    Ok(read_answer(stream, deadline).await?.unwrap_or(Answer::Result(ResultCode::Failure)))
}

/// Reads the result byte and, after 0xFD, the host list. `None` when the
/// peer closed (or broke) the connection before sending a byte.
pub async fn read_answer<S>(stream: &mut S, deadline: Instant) -> Result<Option<Answer>, TransportError>
where
    S: AsyncRead + Unpin,
{
    let mut byte = [0u8; 1];
    match timeout_at(deadline, stream.read(&mut byte)).await {
        Err(_) => Err(TransportError::NoResult),
        Ok(Err(_)) | Ok(Ok(0)) => Ok(None),
        Ok(Ok(_)) => match ResultCode::from_byte(byte[0]) {
            ResultCode::HostListFollows => read_host_list(stream, remaining(deadline))
                .await
                .map(|records| Some(Answer::HostList(records)))
                .map_err(TransportError::HostList),
            code => Ok(Some(Answer::Result(code))),
        },
    }
}
