//! `fence_virt_key`'s command line (also read by the man page generator).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{DEFAULT_GENERATED_KEY_LEN, DEFAULT_KEY_FILE};

/// Manage the shared key used by fence_xvm, fence_virt and fence_virtd.
#[derive(Parser)]
#[command(name = "fence_virt_key", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a new random key (mode 0600). Copy the same file to every host and guest.
    Generate {
        /// Where to write the key.
        #[arg(default_value = DEFAULT_KEY_FILE)]
        path: PathBuf,
        /// Number of random bytes.
        #[arg(short, long, default_value_t = DEFAULT_GENERATED_KEY_LEN)]
        size: usize,
        /// Replace an existing file.
        #[arg(short, long)]
        force: bool,
    },
    /// Print a short fingerprint of the key, safe to compare between machines.
    Fingerprint {
        /// Key file to read.
        #[arg(default_value = DEFAULT_KEY_FILE)]
        path: PathBuf,
    },
    /// Check the key as fence_virtd does: a regular file (no symlink),
    /// owned by root or the current user, mode 0600, long enough.
    /// Exits 1 when anything is wrong.
    Check {
        /// Key file to check.
        #[arg(default_value = DEFAULT_KEY_FILE)]
        path: PathBuf,
    },
}
