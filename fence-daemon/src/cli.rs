//! `fence_virtd`'s command line (also read by the man page generator).

use std::path::PathBuf;

use clap::Parser;

/// Fence libvirt guests on request of fence_xvm / fence_virt clients.
///
/// Reads /etc/fence_virt.conf (the same file the original fence_virtd
/// reads); refuses to start without a usable key unless hash and auth are
/// both "none".
#[derive(Parser, Debug)]
#[command(name = "fence_virtd", version)]
pub struct Cli {
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'F')]
    pub foreground: bool,
    /// Configuration file.
    #[arg(short = 'f', value_name = "FILE", default_value = protocol::defaults::CONFIG_FILE)]
    pub config: PathBuf,
    /// Whether -f was given (the original then prints "Using FILE").
    #[arg(skip)]
    pub config_given: bool,
    /// Debug level (overrides fence_virtd/debug): 1 debug, 2 trace.
    #[arg(short = 'd', value_name = "LEVEL")]
    pub debug: Option<u32>,
    /// Run the interactive configuration wizard on the -f file and exit.
    #[arg(short = 'c')]
    pub configure: bool,
    /// List the built-in listener and backend plugins and exit.
    #[arg(short = 'l')]
    pub list: bool,
    /// Check the configuration (-f FILE) and the listener's key as a start
    /// would, without starting; print what would be used (listener, key
    /// fingerprint, backend, groups) and exit 0, or the error and exit 1.
    #[arg(long)]
    pub check_config: bool,
    /// Wait for the backend and listener to become available instead of
    /// exiting when they cannot be initialized.
    #[arg(short = 'w')]
    pub wait: bool,
    /// Pid file.
    #[arg(short = 'p', value_name = "FILE", default_value = "/var/run/fence_virtd.pid")]
    pub pidfile: PathBuf,
    /// Start even when the key file is readable by group or others or owned
    /// by another user than root or ours, or the configuration file is
    /// writable by group or others or owned by another user (each is logged
    /// as a warning). Without it, fence_virtd refuses to start and names the
    /// chmod/chown that fixes the file. Symbolic links, FIFOs and other
    /// non-regular files are refused either way.
    #[arg(long)]
    pub allow_insecure_permissions: bool,
}
