//! Digest algorithms shared by packet signing and challenge/response.

use std::fmt;
use std::str::FromStr;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Every digest on the wire is zero-padded to this many bytes (SHA-512's size).
pub const PADDED_DIGEST_LEN: usize = 64;

/// A digest algorithm as named in `fence_virt.conf` and on the command line
/// (`none`, `sha1`, `sha256`, `sha512`), ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum HashAlgorithm {
    /// No signature / no challenge-response at all.
    None,
    /// SHA-1 (20-byte digest).
    Sha1,
    /// SHA-256 (32-byte digest); the default everywhere.
    #[default]
    Sha256,
    /// SHA-512 (64-byte digest).
    Sha512,
}

/// A name that is not one of `none`, `sha1`, `sha256`, `sha512`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash type '{0}' (expected none, sha1, sha256 or sha512)")]
pub struct ParseAlgorithmError(pub String);

impl HashAlgorithm {
    /// All algorithms, weakest first.
    pub const ALL: [HashAlgorithm; 4] = [Self::None, Self::Sha1, Self::Sha256, Self::Sha512];

    /// The lowercase name used in configuration files and options.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the raw digest in bytes (0 for `none`).
    pub fn digest_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// `H(key ‖ data)` zero-padded to 64 bytes, as both the request signature
    /// and the challenge response are computed. `none` gives 64 zero bytes.
    pub fn keyed_digest(self, key: &[u8], data: &[u8]) -> [u8; PADDED_DIGEST_LEN] {
        let mut out = [0u8; PADDED_DIGEST_LEN];
        match self {
            Self::None => {}
            Self::Sha1 => out[..20].copy_from_slice(&Sha1::new().chain_update(key).chain_update(data).finalize()),
            Self::Sha256 => out[..32].copy_from_slice(&Sha256::new().chain_update(key).chain_update(data).finalize()),
            Self::Sha512 => out.copy_from_slice(&Sha512::new().chain_update(key).chain_update(data).finalize()),
        }
        out
    }
}

/// A key absorbed once into each digest's state, so that `H(key ‖ data)`
/// costs only the hashing of `data` (the key can be up to 4 KiB; a flood of
/// bogus packets would otherwise pay for it on every packet). Cloning a
/// hasher after `update(key)` gives exactly [`HashAlgorithm::keyed_digest`].
#[derive(Clone)]
pub struct PreparedKey {
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl PreparedKey {
    /// Absorbs `key` into a state per algorithm.
    pub fn new(key: &[u8]) -> Self {
        PreparedKey {
            sha1: Sha1::new().chain_update(key),
            sha256: Sha256::new().chain_update(key),
            sha512: Sha512::new().chain_update(key),
        }
    }

    /// `H(key ‖ data)` zero-padded to 64 bytes, as [`HashAlgorithm::keyed_digest`].
    pub fn digest(&self, algorithm: HashAlgorithm, data: &[u8]) -> [u8; PADDED_DIGEST_LEN] {
        let mut out = [0u8; PADDED_DIGEST_LEN];
        match algorithm {
            HashAlgorithm::None => {}
            HashAlgorithm::Sha1 => out[..20].copy_from_slice(&self.sha1.clone().chain_update(data).finalize()),
            HashAlgorithm::Sha256 => out[..32].copy_from_slice(&self.sha256.clone().chain_update(data).finalize()),
            HashAlgorithm::Sha512 => out.copy_from_slice(&self.sha512.clone().chain_update(data).finalize()),
        }
        out
    }
}

impl fmt::Debug for PreparedKey {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedKey(..)")
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = ParseAlgorithmError;

    /// Names are accepted case-insensitively, as the original does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseAlgorithmError(s.to_string()))
    }
}

/// Compares two byte strings in time independent of where they differ.
/// Slices of different length compare unequal.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex64(d: &[u8; 64]) -> String {
        hex::encode(d)
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!("SHA512".parse::<HashAlgorithm>().unwrap(), HashAlgorithm::Sha512);
        assert_eq!("None".parse::<HashAlgorithm>().unwrap(), HashAlgorithm::None);
        let err = "md5".parse::<HashAlgorithm>().unwrap_err();
        assert!(err.to_string().contains("'md5'"), "{err}");
    }

    #[test]
    fn ordering_is_by_strength() {
        assert!(HashAlgorithm::None < HashAlgorithm::Sha1);
        assert!(HashAlgorithm::Sha1 < HashAlgorithm::Sha256);
        assert!(HashAlgorithm::Sha256 < HashAlgorithm::Sha512);
    }

    /// Challenge/response vector from the compatibility spec (§4), produced
    /// by the Debian daemon.
    #[test]
    fn challenge_vector_from_spec() {
        let challenge: Vec<u8> = (0u8..64).collect();
        let sha256 = HashAlgorithm::Sha256.keyed_digest(b"example-key", &challenge);
        assert_eq!(
            hex64(&sha256),
            format!("5efc999530eab8f50a4cac6f20706587b8606ab98cef1cb3a83f44cd7f8ad1b4{}", "00".repeat(32))
        );
        let sha1 = HashAlgorithm::Sha1.keyed_digest(b"example-key", &challenge);
        assert_eq!(hex64(&sha1), format!("de800083726328773f6bf76f050a8d2497b496eb{}", "00".repeat(44)));
        assert_eq!(HashAlgorithm::None.keyed_digest(b"k", &challenge), [0u8; 64]);
    }

    #[test]
    fn prepared_key_gives_the_same_digests() {
        let challenge: Vec<u8> = (0u8..64).collect();
        let prepared = PreparedKey::new(b"example-key");
        assert_eq!(
            hex64(&prepared.digest(HashAlgorithm::Sha256, &challenge)),
            format!("5efc999530eab8f50a4cac6f20706587b8606ab98cef1cb3a83f44cd7f8ad1b4{}", "00".repeat(32))
        );
        let long_key = vec![0x5au8; 4096];
        let prepared = PreparedKey::new(&long_key);
        for algorithm in HashAlgorithm::ALL {
            for _ in 0..2 {
                assert_eq!(prepared.digest(algorithm, &challenge), algorithm.keyed_digest(&long_key, &challenge));
            }
        }
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
