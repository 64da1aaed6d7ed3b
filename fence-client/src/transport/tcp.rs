//! `fence_virt -T address`: connect to the daemon's TCP listener, send the
//! request, authenticate, read the answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use protocol::Request;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use super::{authenticate_and_read, Answer, Credentials, TransportError};

/// The original's connect limit.
const CONNECT_LIMIT: Duration = Duration::from_secs(3);

/// Sends `request` to `addr:port` and returns the daemon's answer.
pub async fn run(
    addr: IpAddr,
    port: u16,
    request: &Request,
    creds: &Credentials,
    deadline: Instant,
) -> Result<Answer, TransportError> {
    let target = SocketAddr::new(addr, port);
    let connect_err = |source| TransportError::Connect { addr: target.to_string(), source };
    let mut stream = match timeout(CONNECT_LIMIT, TcpStream::connect(target)).await {
        Err(_) => return Err(connect_err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))),
        Ok(Err(e)) => return Err(connect_err(e)),
        Ok(Ok(s)) => s,
    };
    let mut request = request.clone();
    request.callback = None;
    if request.hash != keys::HashAlgorithm::None {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut request.random);
    }
    let bytes = request.to_signed_bytes(&creds.key);
    match timeout_at(deadline, stream.write_all(&bytes)).await {
        Err(_) => return Err(TransportError::NoResult),
        Ok(Err(e)) => return Err(TransportError::Send(e)),
        Ok(Ok(())) => {}
    }
    authenticate_and_read(&mut stream, creds, deadline).await
}
