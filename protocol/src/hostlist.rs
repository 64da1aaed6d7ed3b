//! Host-list records: after the 0xFD marker the daemon sends one 130-byte
//! record per domain, an all-zero terminator record, then a result byte.
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 64 | name, NUL-padded (≤ 63 bytes) |
//! | 64 | 64 | UUID text, NUL-padded |
//! | 128 | 1 | libvirt domain state |
//! | 129 | 1 | padding (zero) |

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use crate::codes::ResultCode;

/// Size of one record.
pub const RECORD_LEN: usize = 130;
const FIELD_LEN: usize = 64;

/// libvirt's domain state numbers as carried in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainState(pub u8);

impl DomainState {
    /// `VIR_DOMAIN_RUNNING`: the only state a client prints as "on".
    pub const RUNNING: DomainState = DomainState(1);
    /// `VIR_DOMAIN_SHUTOFF`.
    pub const SHUTOFF: DomainState = DomainState(5);

    /// "on" for running, "off" for every other state (as the stock client).
    pub fn on_off(self) -> &'static str {
        if self == Self::RUNNING {
            "on"
        } else {
            "off"
        }
    }
}

/// One domain in a host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    /// Domain name.
    pub name: String,
    /// Canonical UUID text.
    pub uuid: String,
    /// libvirt state.
    pub state: DomainState,
}

fn put_field(dst: &mut [u8], text: &str) {
    let n = text.len().min(FIELD_LEN - 1);
    dst[..n].copy_from_slice(&text.as_bytes()[..n]);
}

fn get_field(src: &[u8]) -> String {
    let end = src.iter().position(|&b| b == 0).unwrap_or(src.len());
    String::from_utf8_lossy(&src[..end]).into_owned()
}

impl HostRecord {
    /// Encodes the record; unused bytes are zero.
    pub fn to_bytes(&self) -> [u8; RECORD_LEN] {
        let mut buf = [0u8; RECORD_LEN];
        put_field(&mut buf[..FIELD_LEN], &self.name);
        put_field(&mut buf[FIELD_LEN..2 * FIELD_LEN], &self.uuid);
        buf[128] = self.state.0;
        buf
    }

    /// Decodes a record; `None` for the terminator (empty name and UUID).
    pub fn from_bytes(buf: &[u8; RECORD_LEN]) -> Option<Self> {
        if buf[0] == 0 && buf[FIELD_LEN] == 0 {
            return None;
        }
        Some(HostRecord {
            name: get_field(&buf[..FIELD_LEN]),
            uuid: get_field(&buf[FIELD_LEN..2 * FIELD_LEN]),
            state: DomainState(buf[128]),
        })
    }

    /// The client's output line: name padded to 32 columns, UUID, on/off.
    pub fn display_line(&self) -> String {
        format!("{:<32} {} {}", self.name, self.uuid, self.state.on_off())
    }
}

/// Why reading a host list failed.
#[derive(Debug, thiserror::Error)]
pub enum HostListError {
    /// No record arrived within the deadline.
    #[error("Timed out!")]
    Timeout,
    /// The connection closed in the middle of a record.
    #[error("Bad read!")]
    ShortRead,
}

/// Sends marker, records, terminator and the final result byte, each write
/// bounded by `step_limit`.
pub async fn write_host_list<S: AsyncWrite + Unpin>(
    stream: &mut S,
    records: &[HostRecord],
    result: ResultCode,
    step_limit: Duration,
) -> std::io::Result<()> {
    let deadline = |r: Result<std::io::Result<()>, _>| {
        r.unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "host list write timed out")))
    };
    deadline(timeout(step_limit, stream.write_all(&[ResultCode::HostListFollows.byte()])).await)?;
    for record in records {
        deadline(timeout(step_limit, stream.write_all(&record.to_bytes())).await)?;
    }
    deadline(timeout(step_limit, stream.write_all(&[0u8; RECORD_LEN])).await)?;
    deadline(timeout(step_limit, stream.write_all(&[result.byte()])).await)?;
    deadline(timeout(step_limit, stream.flush()).await)
}

/// Reads records after the 0xFD marker until the terminator, each record
/// bounded by `step_limit`. The trailing result byte is not read (the stock
/// client does not read it either).
pub async fn read_host_list<S: AsyncRead + Unpin>(
    stream: &mut S,
    step_limit: Duration,
) -> Result<Vec<HostRecord>, HostListError> {
    let mut records = Vec::new();
    loop {
        let mut buf = [0u8; RECORD_LEN];
        match timeout(step_limit, stream.read_exact(&mut buf)).await {
            Err(_) => return Err(HostListError::Timeout),
            Ok(Err(_)) => return Err(HostListError::ShortRead),
            Ok(Ok(_)) => {}
        }
        match HostRecord::from_bytes(&buf) {
            Some(record) => records.push(record),
            None => return Ok(records),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HostRecord {
        HostRecord {
            name: "test".into(),
            uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
            state: DomainState::RUNNING,
        }
    }

    #[test]
    fn display_line_matches_the_stock_client() {
        assert_eq!(sample().display_line(), "test                             6695eb01-f6a4-8304-79aa-97f2502e193f on");
        let off = HostRecord { state: DomainState::SHUTOFF, ..sample() };
        assert!(off.display_line().ends_with(" off"));
        let paused = HostRecord { state: DomainState(3), ..sample() };
        assert!(paused.display_line().ends_with(" off"));
    }

    #[test]
    fn records_round_trip_with_zero_padding() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes[63], 0);
        assert_eq!(bytes[127], 0);
        assert_eq!(bytes[129], 0);
        assert_eq!(HostRecord::from_bytes(&bytes), Some(sample()));
        assert_eq!(HostRecord::from_bytes(&[0u8; RECORD_LEN]), None);
    }

    #[tokio::test]
    async fn stream_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let records = vec![sample(), HostRecord { name: "b".into(), ..sample() }];
        write_host_list(&mut a, &records, ResultCode::Success, Duration::from_secs(1)).await.unwrap();
        let mut marker = [0u8; 1];
        b.read_exact(&mut marker).await.unwrap();
        assert_eq!(marker[0], 0xFD);
        assert_eq!(read_host_list(&mut b, Duration::from_secs(1)).await.unwrap(), records);
        let mut result = [9u8; 1];
        b.read_exact(&mut result).await.unwrap();
        assert_eq!(result[0], 0);
    }

    #[tokio::test]
    async fn truncated_stream_is_a_bad_read() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        a.write_all(&sample().to_bytes()[..50]).await.unwrap();
        drop(a);
        assert!(matches!(read_host_list(&mut b, Duration::from_secs(1)).await, Err(HostListError::ShortRead)));
    }
}
