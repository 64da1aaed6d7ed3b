//! `fence-watchdog`'s command line (also read by the man page generator).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Pet /dev/watchdog while health checks pass; stop petting (so the
/// hardware resets the node) when one fails.
///
/// Reads /etc/fence-watchdog.toml when it exists (built-in defaults
/// otherwise). A -c file whose name ends in .toml is read as TOML, any
/// other as Debian's watchdog.conf.
#[derive(Parser, Debug)]
#[command(name = "fence-watchdog", version)]
pub struct Cli {
    /// Configuration file (TOML if it ends in .toml, else Debian's watchdog.conf format).
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'F', long)]
    pub foreground: bool,
    /// Verbose: log at debug level.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Check the device safely: arm it with a short timeout, pet it a few
    /// times, close it with the magic character, report its identity.
    #[arg(long)]
    pub test: bool,
    /// Check the configuration (-c FILE, else the default file, else the
    /// built-in defaults) without starting: print the device, the schedule
    /// and every health check with the line that set it, and exit 0; or
    /// the error naming file and line, and exit 1.
    #[arg(long)]
    pub check: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Feed the running service once as client NAME (for scripts).
    Feed {
        /// The client name, as in a `[[feeder]]` check.
        name: String,
        /// The service's socket (default: from -c, else /run/fence-watchdog.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}
