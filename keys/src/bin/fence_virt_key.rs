//! `fence_virt_key`: generate, fingerprint and check fence_xvm key files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keys::{generate_key_file, CheckReport, Key, DEFAULT_GENERATED_KEY_LEN, DEFAULT_KEY_FILE};

/// Manage the shared key used by fence_xvm, fence_virt and fence_virtd.
#[derive(Parser)]
#[command(name = "fence_virt_key", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate { path, size, force } => generate_key_file(&path, size, force).map(|key| {
            println!("wrote {} bytes to {} ({})", key.len(), path.display(), key.fingerprint());
            ExitCode::SUCCESS
        }),
        Command::Fingerprint { path } => Key::read(&path).map(|key| {
            println!("{}  {}", key.fingerprint(), path.display());
            ExitCode::SUCCESS
        }),
        Command::Check { path } => CheckReport::for_file(&path).map(|(key, report)| {
            for problem in &report.problems {
                eprintln!("fence_virt_key: error: {problem} (fence_virtd refuses this key)");
            }
            for warning in &report.warnings {
                eprintln!("fence_virt_key: warning: {warning}");
            }
            println!("{}: {} bytes, mode {:04o}, {}", path.display(), report.len, report.mode, key.fingerprint());
            if report.warnings.is_empty() && report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("fence_virt_key: {e}");
        ExitCode::FAILURE
    })
}
