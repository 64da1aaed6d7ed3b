//! The 176-byte fence_xvm request: layout, signing, verification, parsing.
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 1 | operation |
//! | 1 | 1 | hash type |
//! | 2 | 1 | address length (4, 16, or 0 without callback) |
//! | 3 | 1 | flags (bit 0: domain is a UUID) |
//! | 4 | 64 | domain, NUL-terminated |
//! | 68 | 28 | callback address (network order) |
//! | 96 | 2 | callback port, little-endian |
//! | 98 | 6 | random bytes |
//! | 104 | 4 | seqno, little-endian |
//! | 108 | 4 | family (2 IPv4, 10 IPv6, 0 none), little-endian |
//! | 112 | 64 | signature, zero-padded |

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use keys::{constant_time_eq, HashAlgorithm, PreparedKey, PADDED_DIGEST_LEN};

use crate::codes::{hash_code, hash_from_code, Operation};

/// Size of a request on the wire.
pub const REQUEST_LEN: usize = 176;
/// Size of the domain field; names are at most `DOMAIN_LEN - 1` bytes.
pub const DOMAIN_LEN: usize = 64;
/// Flag bit: the domain field holds a UUID.
pub const FLAG_UUID: u8 = 1;

/// Byte offsets of the fields (the table above), for tools and tests that
/// build or damage packets by hand.
pub mod layout {
    /// Operation code (1 byte).
    pub const OFF_OP: usize = 0;
    /// Hash type (1 byte).
    pub const OFF_HASHTYPE: usize = 1;
    /// Callback address length (1 byte).
    pub const OFF_ADDRLEN: usize = 2;
    /// Flags (1 byte).
    pub const OFF_FLAGS: usize = 3;
    /// Domain name or UUID, NUL-terminated (64 bytes).
    pub const OFF_DOMAIN: usize = 4;
    /// Callback address, network order.
    pub const OFF_ADDRESS: usize = 68;
    /// Size of the callback address field.
    pub const ADDRESS_LEN: usize = 28;
    /// Callback port, little-endian (2 bytes).
    pub const OFF_PORT: usize = 96;
    /// Random bytes (6).
    pub const OFF_RANDOM: usize = 98;
    /// Sequence number, little-endian (4 bytes).
    pub const OFF_SEQNO: usize = 104;
    /// Address family, little-endian (4 bytes).
    pub const OFF_FAMILY: usize = 108;
    /// Signature, zero-padded (64 bytes).
    pub const OFF_HASH: usize = 112;
}
use layout::*;

const FAMILY_NONE: u32 = 0;
const FAMILY_INET: u32 = 2;
const FAMILY_INET6: u32 = 10;

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What to do.
    pub operation: Operation,
    /// The algorithm the request is (to be) signed with.
    pub hash: HashAlgorithm,
    /// Flags byte (bit 0: the domain is a UUID; informational only).
    pub flags: u8,
    /// Domain name or UUID text (empty for list and monitor).
    pub domain: String,
    /// Where the daemon must connect back (multicast); `None` for
    /// connection-based transports.
    pub callback: Option<SocketAddr>,
    /// Random bytes that make every signed copy unique.
    pub random: [u8; 6],
    /// Sequence number (the client uses the microseconds of its start time).
    pub seqno: u32,
}

/// Why a received request was not accepted. Messages never contain digests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The datagram or stream did not carry exactly 176 bytes.
    #[error("wrong request length {0} (expected {REQUEST_LEN})")]
    WrongLength(usize),
    /// Hash code 4 or above.
    #[error("unknown hash type code {0}")]
    UnknownHash(u8),
    /// The request is signed more weakly than the configured minimum.
    #[error("hash type not strong enough ({got} < {min})")]
    HashTooWeak {
        /// Algorithm of the packet.
        got: HashAlgorithm,
        /// Configured minimum.
        min: HashAlgorithm,
    },
    /// A signed request arrived but no key is configured.
    #[error("signed request but no key is loaded")]
    NoKey,
    /// The signature does not match.
    #[error("signature mismatch (wrong key or tampered request)")]
    BadSignature,
    /// Request code outside 0–6.
    #[error("unknown request code {0}")]
    UnknownOperation(u8),
    /// No NUL inside the 64-byte domain field.
    #[error("domain name is not terminated within 64 bytes")]
    DomainNotTerminated,
    /// The domain name is not valid UTF-8.
    #[error("domain name is not valid UTF-8")]
    DomainNotUtf8,
    /// Family other than 0, 2 or 10.
    #[error("unknown address family {0}")]
    UnknownFamily(u32),
    /// A callback address with port 0.
    #[error("callback port is 0")]
    PortZero,
}

impl Request {
    /// A request for `operation` on `domain` with a callback address.
    pub fn new(operation: Operation, domain: &str, hash: HashAlgorithm) -> Self {
        Request { operation, hash, flags: 0, domain: domain.to_string(), callback: None, random: [0; 6], seqno: 0 }
    }

    /// Whether the sender flagged the domain as a UUID.
    pub fn uuid_flag(&self) -> bool {
        self.flags & FLAG_UUID != 0
    }

    /// Encodes the request and signs it with `key` using `self.hash`. With
    /// hash `none` the random bytes and the signature stay zero. Domain names
    /// longer than 63 bytes are cut (callers validate lengths first).
    pub fn to_signed_bytes(&self, key: &[u8]) -> [u8; REQUEST_LEN] {
        let mut buf = [0u8; REQUEST_LEN];
        buf[OFF_OP] = self.operation.code();
        buf[OFF_HASHTYPE] = hash_code(self.hash);
        buf[OFF_FLAGS] = self.flags;
        let name = self.domain.as_bytes();
        let n = name.len().min(DOMAIN_LEN - 1);
        buf[OFF_DOMAIN..OFF_DOMAIN + n].copy_from_slice(&name[..n]);
        let (addrlen, family) = match self.callback {
            Some(SocketAddr::V4(a)) => {
                buf[OFF_ADDRESS..OFF_ADDRESS + 4].copy_from_slice(&a.ip().octets());
                (4, FAMILY_INET)
            }
            Some(SocketAddr::V6(a)) => {
                buf[OFF_ADDRESS..OFF_ADDRESS + 16].copy_from_slice(&a.ip().octets());
                (16, FAMILY_INET6)
            }
            None => (0, FAMILY_NONE),
        };
        buf[OFF_ADDRLEN] = addrlen;
        let port = self.callback.map_or(0, |a| a.port());
        buf[OFF_PORT..OFF_PORT + 2].copy_from_slice(&port.to_le_bytes());
        buf[OFF_SEQNO..OFF_SEQNO + 4].copy_from_slice(&self.seqno.to_le_bytes());
        buf[OFF_FAMILY..OFF_FAMILY + 4].copy_from_slice(&family.to_le_bytes());
        if self.hash != HashAlgorithm::None {
            buf[OFF_RANDOM..OFF_RANDOM + 6].copy_from_slice(&self.random);
            let digest = self.hash.keyed_digest(key, &buf);
            buf[OFF_HASH..].copy_from_slice(&digest);
        }
        buf
    }

    /// Checks the signature of raw bytes against `key`, requiring at least
    /// `min` strength, then decodes them. The signature is checked first, on
    /// the fixed-size buffer, before anything is allocated; the comparison is
    /// constant-time and covers all 64 bytes (the padding must be zero).
    pub fn verify_and_decode(raw: &[u8], key: &[u8], min: HashAlgorithm) -> Result<Request, RejectReason> {
        let buf: &[u8; REQUEST_LEN] = raw.try_into().map_err(|_| RejectReason::WrongLength(raw.len()))?;
        verify_signature(buf, !key.is_empty(), min, |algorithm, data| algorithm.keyed_digest(key, data))?;
        decode(buf)
    }

    /// [`Request::verify_and_decode`] with the key already absorbed into the
    /// digest states (what a listener uses: a bogus packet then costs a hash
    /// of 176 bytes, not of the whole key). `has_key` is false when no key is
    /// configured, so signed requests are refused as with an empty key.
    pub fn verify_and_decode_prepared(
        raw: &[u8],
        key: &PreparedKey,
        has_key: bool,
        min: HashAlgorithm,
    ) -> Result<Request, RejectReason> {
        let buf: &[u8; REQUEST_LEN] = raw.try_into().map_err(|_| RejectReason::WrongLength(raw.len()))?;
        verify_signature(buf, has_key, min, |algorithm, data| key.digest(algorithm, data))?;
        decode(buf)
    }

    /// Decodes raw bytes without checking the signature (for tools and
    /// tests; the daemon always uses [`Request::verify_and_decode`]).
    pub fn decode_unverified(raw: &[u8]) -> Result<Request, RejectReason> {
        let buf: &[u8; REQUEST_LEN] = raw.try_into().map_err(|_| RejectReason::WrongLength(raw.len()))?;
        decode(buf)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seqno {}", self.operation.name(), self.seqno)?;
        if !self.domain.is_empty() {
            write!(f, " domain {}", self.domain)?;
        }
        Ok(())
    }
}

fn verify_signature(
    buf: &[u8; REQUEST_LEN],
    has_key: bool,
    min: HashAlgorithm,
    keyed_digest: impl FnOnce(HashAlgorithm, &[u8]) -> [u8; PADDED_DIGEST_LEN],
) -> Result<(), RejectReason> {
    let code = buf[OFF_HASHTYPE];
    let got = hash_from_code(code).ok_or(RejectReason::UnknownHash(code))?;
    if got < min {
        return Err(RejectReason::HashTooWeak { got, min });
    }
    if got == HashAlgorithm::None {
        return Ok(());
    }
    if !has_key {
        return Err(RejectReason::NoKey);
    }
    let mut unsigned = *buf;
    unsigned[OFF_HASH..].fill(0);
    let expected = keyed_digest(got, &unsigned);
    let received: &[u8; PADDED_DIGEST_LEN] = buf[OFF_HASH..].try_into().expect("64-byte tail");
    if constant_time_eq(&expected, received) {
        Ok(())
    } else {
        Err(RejectReason::BadSignature)
    }
}

fn decode(buf: &[u8; REQUEST_LEN]) -> Result<Request, RejectReason> {
    let op_code = buf[OFF_OP];
    let operation = Operation::from_code(op_code).ok_or(RejectReason::UnknownOperation(op_code))?;
    let hash_code = buf[OFF_HASHTYPE];
    let hash = hash_from_code(hash_code).ok_or(RejectReason::UnknownHash(hash_code))?;
    let field = &buf[OFF_DOMAIN..OFF_DOMAIN + DOMAIN_LEN];
    let end = field.iter().position(|&b| b == 0).ok_or(RejectReason::DomainNotTerminated)?;
    let domain = std::str::from_utf8(&field[..end]).map_err(|_| RejectReason::DomainNotUtf8)?.to_string();
    let port = u16::from_le_bytes([buf[OFF_PORT], buf[OFF_PORT + 1]]);
    let family = u32::from_le_bytes(buf[OFF_FAMILY..OFF_FAMILY + 4].try_into().expect("4 bytes"));
    let address = &buf[OFF_ADDRESS..OFF_ADDRESS + ADDRESS_LEN];
    let ip = match family {
        FAMILY_NONE => None,
        FAMILY_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&address[..4]).expect("4 bytes")))),
        FAMILY_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&address[..16]).expect("16 bytes")))),
        other => return Err(RejectReason::UnknownFamily(other)),
    };
    let callback = match ip {
        Some(_) if port == 0 => return Err(RejectReason::PortZero),
        Some(ip) => Some(SocketAddr::new(ip, port)),
        None => None,
    };
    Ok(Request {
        operation,
        hash,
        flags: buf[OFF_FLAGS],
        domain,
        callback,
        random: buf[OFF_RANDOM..OFF_RANDOM + 6].try_into().expect("6 bytes"),
        seqno: u32::from_le_bytes(buf[OFF_SEQNO..OFF_SEQNO + 4].try_into().expect("4 bytes")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the compatibility spec (§2.1), accepted by the
    /// Debian daemon.
    const SPEC_VECTOR: &str = concat!(
        "04020400766d31000000000000000000",
        "00000000000000000000000000000000",
        "00000000000000000000000000000000",
        "00000000000000000000000000000000",
        "00000000c000020a0000000000000000",
        "00000000000000000000000000000000",
        "cd04010203040506 40e2010002000000",
        "fd0aebb2eab756560f55a98ed15b4fa3",
        "d01963b3b6677664b7747049d9fdef95",
        "00000000000000000000000000000000",
        "00000000000000000000000000000000",
    );

    fn spec_bytes() -> Vec<u8> {
        hex::decode(SPEC_VECTOR.replace(' ', "")).unwrap()
    }

    fn spec_request() -> Request {
        Request {
            operation: Operation::Status,
            hash: HashAlgorithm::Sha256,
            flags: 0,
            domain: "vm1".into(),
            callback: Some("192.0.2.10:1229".parse().unwrap()),
            random: [1, 2, 3, 4, 5, 6],
            seqno: 123456,
        }
    }

    #[test]
    fn encodes_the_spec_vector_exactly() {
        assert_eq!(spec_request().to_signed_bytes(b"example-key").to_vec(), spec_bytes());
    }

    #[test]
    fn verifies_and_decodes_the_spec_vector() {
        let req = Request::verify_and_decode(&spec_bytes(), b"example-key", HashAlgorithm::Sha256).unwrap();
        assert_eq!(req, spec_request());
        assert_eq!(req.to_string(), "status seqno 123456 domain vm1");
    }

    #[test]
    fn prepared_key_verifies_the_spec_vector_and_rejects_the_rest() {
        let bytes = spec_bytes();
        let prepared = PreparedKey::new(b"example-key");
        let r = Request::verify_and_decode_prepared(&bytes, &prepared, true, HashAlgorithm::Sha256).unwrap();
        assert_eq!(r, spec_request());
        let wrong = PreparedKey::new(b"other-key");
        assert_eq!(
            Request::verify_and_decode_prepared(&bytes, &wrong, true, HashAlgorithm::Sha256),
            Err(RejectReason::BadSignature)
        );
        assert_eq!(
            Request::verify_and_decode_prepared(&bytes, &PreparedKey::new(b""), false, HashAlgorithm::None),
            Err(RejectReason::NoKey)
        );
    }

    #[test]
    fn every_hash_type_round_trips() {
        for hash in HashAlgorithm::ALL {
            let mut req = spec_request();
            req.hash = hash;
            req.callback = Some("[fd00::2]:4000".parse().unwrap());
            let bytes = req.to_signed_bytes(b"k3y");
            let back = Request::verify_and_decode(&bytes, b"k3y", HashAlgorithm::None).unwrap();
            if hash == HashAlgorithm::None {
                assert_eq!(back.random, [0; 6], "unsigned requests carry no random bytes");
                assert!(bytes[OFF_HASH..].iter().all(|&b| b == 0));
            } else {
                assert_eq!(back, req);
            }
            assert_eq!(bytes[OFF_ADDRLEN], 16);
            assert_eq!(&bytes[OFF_FAMILY..OFF_FAMILY + 4], &[10, 0, 0, 0]);
        }
    }

    #[test]
    fn rejects_wrong_key_weak_hash_and_tampering() {
        let bytes = spec_bytes();
        assert_eq!(
            Request::verify_and_decode(&bytes, b"other-key", HashAlgorithm::Sha1),
            Err(RejectReason::BadSignature)
        );
        assert_eq!(
            Request::verify_and_decode(&bytes, b"example-key", HashAlgorithm::Sha512),
            Err(RejectReason::HashTooWeak { got: HashAlgorithm::Sha256, min: HashAlgorithm::Sha512 })
        );
        assert_eq!(Request::verify_and_decode(&bytes, b"", HashAlgorithm::Sha1), Err(RejectReason::NoKey));
        let mut padded = bytes.clone();
        padded[175] = 1;
        assert_eq!(
            Request::verify_and_decode(&padded, b"example-key", HashAlgorithm::Sha256),
            Err(RejectReason::BadSignature),
            "a non-zero padding byte must fail"
        );
        let mut downgraded = bytes.clone();
        downgraded[OFF_HASHTYPE] = 0;
        assert!(matches!(
            Request::verify_and_decode(&downgraded, b"example-key", HashAlgorithm::Sha256),
            Err(RejectReason::HashTooWeak { .. })
        ));
    }

    #[test]
    fn rejects_malformed_fields() {
        let sign = |mutate: &dyn Fn(&mut [u8; REQUEST_LEN])| {
            let mut raw = spec_request().to_signed_bytes(b"k");
            mutate(&mut raw);
            raw[OFF_HASH..].fill(0);
            let digest = HashAlgorithm::Sha256.keyed_digest(b"k", &raw);
            raw[OFF_HASH..].copy_from_slice(&digest);
            Request::verify_and_decode(&raw, b"k", HashAlgorithm::Sha256)
        };
        assert_eq!(sign(&|r| r[OFF_OP] = 7), Err(RejectReason::UnknownOperation(7)));
        assert_eq!(sign(&|r| r[OFF_DOMAIN..OFF_DOMAIN + 64].fill(b'a')), Err(RejectReason::DomainNotTerminated));
        assert_eq!(sign(&|r| r[OFF_DOMAIN] = 0xff), Err(RejectReason::DomainNotUtf8));
        assert_eq!(sign(&|r| r[OFF_FAMILY] = 3), Err(RejectReason::UnknownFamily(3)));
        assert_eq!(sign(&|r| r[OFF_PORT..OFF_PORT + 2].fill(0)), Err(RejectReason::PortZero));
        assert_eq!(
            Request::verify_and_decode(&[0u8; 175], b"k", HashAlgorithm::None),
            Err(RejectReason::WrongLength(175))
        );
        assert_eq!(
            Request::verify_and_decode(&[0u8; 177], b"k", HashAlgorithm::None),
            Err(RejectReason::WrongLength(177))
        );
        let mut unknown_hash = [0u8; REQUEST_LEN];
        unknown_hash[OFF_HASHTYPE] = 9;
        assert_eq!(
            Request::verify_and_decode(&unknown_hash, b"k", HashAlgorithm::None),
            Err(RejectReason::UnknownHash(9))
        );
    }

    #[test]
    fn connection_mode_requests_have_no_callback() {
        let mut req = Request::new(Operation::HostList, "", HashAlgorithm::Sha512);
        req.seqno = 7;
        let raw = req.to_signed_bytes(b"k");
        assert!(raw[OFF_ADDRLEN..OFF_ADDRLEN + 1].iter().all(|&b| b == 0));
        assert!(raw[OFF_ADDRESS..OFF_RANDOM].iter().all(|&b| b == 0));
        let back = Request::verify_and_decode(&raw, b"k", HashAlgorithm::Sha256).unwrap();
        assert_eq!(back.callback, None);
        assert_eq!(back.domain, "");
    }

    #[test]
    fn long_domain_names_are_cut_to_63_bytes_and_stay_terminated() {
        let req = Request::new(Operation::Off, &"x".repeat(80), HashAlgorithm::None);
        let back = Request::decode_unverified(&req.to_signed_bytes(b"")).unwrap();
        assert_eq!(back.domain.len(), 63);
    }
}

#[cfg(test)]
mod smoke {
    use super::*;

    /// A short, deterministic version of the fuzz target (fuzz/): random
    /// and mutated buffers never panic and round-trip when they parse.
    #[test]
    fn random_buffers_never_panic_and_round_trip() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = Request::new(Operation::Reboot, "vm1", HashAlgorithm::None).to_signed_bytes(b"");
        let mut parsed = 0;
        for round in 0..50_000 {
            let len = if round % 2 == 0 { REQUEST_LEN } else { (next() % 400) as usize };
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 4 == 0 && len == REQUEST_LEN {
                buf.copy_from_slice(&valid);
                for _ in 0..(next() % 4) {
                    let i = (next() % REQUEST_LEN as u64) as usize;
                    buf[i] = next() as u8;
                }
            }
            for min in HashAlgorithm::ALL {
                if let Ok(r) = Request::verify_and_decode(&buf, b"key", min) {
                    assert_eq!(r.hash, HashAlgorithm::None, "a signed request was forged without the key");
                }
            }
            if let Ok(mut r) = Request::decode_unverified(&buf) {
                parsed += 1;
                let again = Request::decode_unverified(&r.to_signed_bytes(b"key")).unwrap();
                if r.hash == HashAlgorithm::None {
                    r.random = [0; 6];
                }
                assert_eq!(again, r);
            }
        }
        assert!(parsed > 100, "the mutations must reach the decoder ({parsed} parsed)");
    }
}
