//! `heartbeat`'s command line (also read by the man page generator).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `heartbeat`'s command line.
#[derive(Parser)]
#[command(
    name = "heartbeat",
    version,
    about = "Heartbeat 3.0.x compatible cluster core: membership, resource groups, failover with fencing",
    after_help = "Files: DIR/ha.cf, DIR/authkeys (mode 600), DIR/haresources, DIR/resource.d/. \
                  Control socket and state: RUN_DIR/heartbeat.sock, heartbeat.pid, hb_generation."
)]
pub struct Cli {
    /// Configuration directory.
    #[arg(short = 'c', long = "config-dir", global = true, default_value = "/etc/ha.d", value_name = "DIR")]
    pub config_dir: PathBuf,
    /// This node's name (default: `uname -n`).
    #[arg(long, global = true, value_name = "NAME")]
    pub node: Option<String>,
    /// Directory of the control socket, pid file and generation counter.
    #[arg(long = "run-dir", global = true, default_value = "/run/heartbeat", value_name = "DIR")]
    pub run_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the node in the foreground (logs to stderr and ha.cf's logfile).
    Run,
    /// Show the running node's state, its groups and dropped-packet counters.
    Status,
    /// List the nodes and ping nodes with their states and links.
    Nodes,
    /// Give this node's groups of SET to the peer and keep them away.
    Standby {
        /// all (default), local (groups homed here) or foreign.
        #[arg(default_value = "all")]
        set: String,
    },
    /// Ask the peer for the groups of SET (as seen from this node).
    Takeover {
        /// all (default), local (groups homed here) or foreign.
        #[arg(default_value = "all")]
        set: String,
    },
    /// Stop the running node gracefully (releases its groups; peers take over at once).
    Stop,
    /// Check the configuration files and exit.
    Check,
}
