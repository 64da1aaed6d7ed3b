//! `fence_virt_key`: generate, fingerprint and check fence_xvm key files.

use std::process::ExitCode;

use clap::Parser;
use keys::cli::{Cli, Command};
use keys::{generate_key_file, CheckReport, Key};

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
