//! The two-way challenge/response run over every connection (multicast
//! callback, TCP, vsock): the client challenges first, the daemon answers;
//! then the daemon challenges and the client answers.
//!
//! A challenge is 64 random bytes; the answer is `H(key ‖ challenge)`
//! zero-padded to 64 bytes. Both ends use their configured algorithm; with
//! `none` nothing is exchanged. Every read and write has its own deadline.
//!
//! The daemon's side never answers a challenge equal to one it has itself
//! sent and not yet retired, in any session (see [`crate::issued`]).

use std::time::Duration;

use keys::{constant_time_eq, HashAlgorithm, PADDED_DIGEST_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use crate::issued::IssuedChallenges;

/// Size of a challenge and of a response.
pub const CHALLENGE_LEN: usize = 64;

/// Which step of the exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The peer did not send or accept data within the step's deadline.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// The connection failed or closed early.
    #[error("connection error during {step}: {source}")]
    Io {
        /// The step that failed.
        step: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The peer's answer to our challenge was wrong (different key or algorithm).
    #[error("invalid response to challenge")]
    BadResponse,
    /// The peer sent, as its challenge, one the daemon itself issued in
    /// another session: a reflection attempt by a peer without the key.
    #[error("the peer's challenge is one of ours (reflection attempt); not answered")]
    ReflectedChallenge,
}

async fn write_step<S: AsyncWrite + Unpin>(
    s: &mut S,
    data: &[u8],
    step: &'static str,
    limit: Duration,
) -> Result<(), AuthError> {
    match timeout(limit, s.write_all(data)).await {
        Err(_) => Err(AuthError::Timeout(step)),
        Ok(Err(source)) => Err(AuthError::Io { step, source }),
        Ok(Ok(())) => Ok(()),
    }
}

async fn read_step<S: AsyncRead + Unpin>(
    s: &mut S,
    step: &'static str,
    limit: Duration,
) -> Result<[u8; 64], AuthError> {
    let mut buf = [0u8; 64];
    match timeout(limit, s.read_exact(&mut buf)).await {
        Err(_) => Err(AuthError::Timeout(step)),
        Ok(Err(source)) => Err(AuthError::Io { step, source }),
        Ok(Ok(_)) => Ok(buf),
    }
}

/// Sends a fresh challenge and checks the peer's answer.
pub async fn challenge<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    challenge_recorded(stream, algorithm, key, step_limit, &IssuedChallenges::default()).await
}

/// [`challenge`], with the nonce recorded in `ledger` until the answer
/// has been read or the step failed.
async fn challenge_recorded<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
    ledger: &IssuedChallenges,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if algorithm == HashAlgorithm::None {
        return Ok(());
    }
    let issued = ledger.issue();
    write_step(stream, issued.nonce(), "sending challenge", step_limit).await?;
    let expected: [u8; PADDED_DIGEST_LEN] = algorithm.keyed_digest(key, issued.nonce());
    let answer = read_step(stream, "reading response", step_limit).await?;
    drop(issued);
    if constant_time_eq(&expected, &answer) {
        Ok(())
    } else {
        Err(AuthError::BadResponse)
    }
}

/// Reads the peer's challenge and answers it.
pub async fn respond<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    respond_unless_ours(stream, algorithm, key, step_limit, &IssuedChallenges::default()).await
}

/// [`respond`], refusing a challenge that `ledger` holds as outstanding.
async fn respond_unless_ours<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
    ledger: &IssuedChallenges,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if algorithm == HashAlgorithm::None {
        return Ok(());
    }
    let nonce = read_step(stream, "reading challenge", step_limit).await?;
    if ledger.is_outstanding(&nonce) {
        return Err(AuthError::ReflectedChallenge);
    }
    let answer = algorithm.keyed_digest(key, &nonce);
    write_step(stream, &answer, "sending response", step_limit).await
}

/// The client's side: challenge the daemon, then answer its challenge.
pub async fn client_handshake<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    challenge(stream, algorithm, key, step_limit).await?;
    respond(stream, algorithm, key, step_limit).await
}

/// The daemon's side: answer the client's challenge, then challenge it.
///
/// Answering first is what the stock client expects; it means the daemon
/// computes one keyed digest for whoever sits at the other end before that
/// peer has proven anything. The daemon never acts before its own
/// challenge succeeds, and it never answers a challenge it issued itself
/// and has not retired (in any session of this process), so a peer cannot
/// obtain the answer to the daemon's challenge from the daemon.
pub async fn daemon_handshake<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    daemon_handshake_with(stream, algorithm, key, step_limit, IssuedChallenges::process_wide()).await
}

/// [`daemon_handshake`] against an explicit ledger (tests).
pub async fn daemon_handshake_with<S>(
    stream: &mut S,
    algorithm: HashAlgorithm,
    key: &[u8],
    step_limit: Duration,
    ledger: &IssuedChallenges,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    respond_unless_ours(stream, algorithm, key, step_limit, ledger).await?;
    challenge_recorded(stream, algorithm, key, step_limit, ledger).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn matching_keys_authenticate_both_ways() {
        for algorithm in HashAlgorithm::ALL {
            let (mut a, mut b) = tokio::io::duplex(1024);
            let client = tokio::spawn(async move { client_handshake(&mut a, algorithm, b"key", STEP).await });
            daemon_handshake(&mut b, algorithm, b"key", STEP).await.unwrap();
            client.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn wrong_key_is_detected_by_the_challenger() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let daemon = tokio::spawn(async move { daemon_handshake(&mut b, HashAlgorithm::Sha256, b"other", STEP).await });
        let err = client_handshake(&mut a, HashAlgorithm::Sha256, b"key", STEP).await.unwrap_err();
        assert!(matches!(err, AuthError::BadResponse), "{err}");
        drop(a);
        assert!(daemon.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn answers_the_spec_vector() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let challenge: Vec<u8> = (0u8..64).collect();
        a.write_all(&challenge).await.unwrap();
        respond(&mut b, HashAlgorithm::Sha256, b"example-key", STEP).await.unwrap();
        let mut answer = [0u8; 64];
        a.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer[..4], &[0x5e, 0xfc, 0x99, 0x95]);
        assert!(answer[32..].iter().all(|&x| x == 0));
    }

    #[tokio::test]
    async fn the_daemon_never_answers_its_own_outstanding_challenge() {
        let ledger = IssuedChallenges::default();
        let key = b"secret";
        // Session 1: the peer sends any challenge, reads the answer and the
        // daemon's challenge N1, and then has to answer N1.
        let (mut peer1, mut daemon1) = tokio::io::duplex(1024);
        let ledger_ref: &'static IssuedChallenges = Box::leak(Box::new(ledger));
        let session1 = tokio::spawn(async move {
            daemon_handshake_with(&mut daemon1, HashAlgorithm::Sha256, key, STEP, ledger_ref).await
        });
        peer1.write_all(&[1u8; 64]).await.unwrap();
        let mut answer = [0u8; 64];
        peer1.read_exact(&mut answer).await.unwrap();
        let mut n1 = [0u8; 64];
        peer1.read_exact(&mut n1).await.unwrap();
        // Session 2: N1 reflected as the peer's challenge is refused.
        let (mut peer2, mut daemon2) = tokio::io::duplex(1024);
        peer2.write_all(&n1).await.unwrap();
        let err = daemon_handshake_with(&mut daemon2, HashAlgorithm::Sha256, key, STEP, ledger_ref).await.unwrap_err();
        assert!(matches!(err, AuthError::ReflectedChallenge), "{err}");
        let mut nothing = Vec::new();
        drop(daemon2);
        peer2.read_to_end(&mut nothing).await.unwrap();
        assert!(nothing.is_empty(), "the daemon answered its own challenge");
        // Session 1 fails with whatever the peer can offer instead.
        peer1.write_all(&[0u8; 64]).await.unwrap();
        assert!(matches!(session1.await.unwrap(), Err(AuthError::BadResponse)));
        assert!(ledger_ref.is_empty(), "the challenge is retired when its session ends");
    }

    #[tokio::test]
    async fn a_silent_peer_costs_only_the_step_deadline() {
        let (_a, mut b) = tokio::io::duplex(1024);
        let err = daemon_handshake(&mut b, HashAlgorithm::Sha256, b"k", Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, AuthError::Timeout("reading challenge")), "{err}");
    }
}
