//! Shared-key handling for the fence_xvm protocol family.
//!
//! This crate owns everything about the secret shared between hosts and
//! guests: reading, generating and checking key files, the digest
//! algorithms used to sign requests and answer challenges, and
//! constant-time comparison of digests. It knows nothing about sockets or
//! packet layouts.

mod algorithm;
pub mod cli;
mod keyfile;

pub use algorithm::{constant_time_eq, HashAlgorithm, ParseAlgorithmError, PreparedKey, PADDED_DIGEST_LEN};
pub use keyfile::{
    file_problems, generate_key_file, open_regular, CheckReport, FileProblem, FileRule, Key, KeyError,
    DEFAULT_GENERATED_KEY_LEN, DEFAULT_KEY_FILE, MAX_KEY_LEN, MIN_RECOMMENDED_KEY_LEN,
};
