//! `heartbeat`: run a cluster node, or talk to the running one.
//!
//! ```text
//! heartbeat run      [-c DIR] [--node NAME] [--run-dir DIR]   # foreground; SIGTERM = graceful stop
//! heartbeat status   …    # exit 0 running, 3 stopped
//! heartbeat nodes    …
//! heartbeat standby  [all|local|foreign] …
//! heartbeat takeover [all|local|foreign] …
//! heartbeat stop     …    # graceful stop, waits until it is complete
//! heartbeat check    …    # validate the configuration and exit
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use heartbeat::cli::{Cli, Command};
use heartbeat::node::control::{self, CommandError, ControlCommand};
use heartbeat::node::{self, Options};

/// Exit status of a configuration error (Heartbeat's).
const EXIT_CONFIG: u8 = 6;
/// Exit status of `status` when no node runs (LSB "not running").
const EXIT_STOPPED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let node = match cli.node.clone() {
        Some(n) => n,
        None => match nix::unistd::gethostname() {
            Ok(h) => h.to_string_lossy().into_owned(),
            Err(e) => {
                eprintln!("heartbeat: cannot read the host name ({e}); give --node NAME");
                return ExitCode::FAILURE;
            }
        },
    };
    let options = Options { config_dir: cli.config_dir.clone(), node, run_dir: cli.run_dir.clone() };
    match cli.command {
        Command::Run => run(&options),
        Command::Check => match node::load(&options) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("heartbeat: WARN: {w}");
                }
                println!("Configuration validated.");
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::Status => query(&options, Ok(ControlCommand::Status)),
        Command::Nodes => query(&options, Ok(ControlCommand::Nodes)),
        Command::Standby { set } => query(&options, ControlCommand::parse(&format!("standby {set}"))),
        Command::Takeover { set } => query(&options, ControlCommand::parse(&format!("takeover {set}"))),
        Command::Stop => stop(&options),
    }
}

fn config_error(e: &heartbeat::config::ConfigError) -> ExitCode {
    eprintln!("heartbeat: {e} (Configuration error, heartbeat not started.)");
    ExitCode::from(EXIT_CONFIG)
}

fn run(options: &Options) -> ExitCode {
    let loaded = match node::load(options) {
        Ok(l) => l,
        Err(e) => return config_error(&e),
    };
    if let Err(e) = node::log::init(&options.node, &loaded.ha.logging) {
        eprintln!("heartbeat: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    match node::run(options, loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(node::RunError::Config(e)) => config_error(&e),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("heartbeat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `command` and shows the answer. A command that does not parse
/// is answered here, as the node would (when a node is running).
fn query(options: &Options, command: Result<ControlCommand, CommandError>) -> ExitCode {
    let sent = match command {
        Ok(command) => control::send(&options.run_dir, command),
        Err(e) => control::send(&options.run_dir, ControlCommand::Pid).map(|running| running.map(|_| e.into())),
    };
    match sent {
        Ok(Some(reply)) => {
            print!("{reply}");
            if reply.is_error() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(None) => {
            println!("heartbeat is stopped. No process");
            ExitCode::from(EXIT_STOPPED)
        }
        Err(e) => {
            eprintln!("heartbeat: cannot reach the node: {e}");
            ExitCode::FAILURE
        }
    }
}

fn stop(options: &Options) -> ExitCode {
    match control::send(&options.run_dir, ControlCommand::Stop) {
        Ok(Some(_)) => {}
        Ok(None) => {
            println!("INFO: Heartbeat already stopped.");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("heartbeat: cannot reach the node: {e}");
            return ExitCode::FAILURE;
        }
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(600) {
        if matches!(control::send(&options.run_dir, ControlCommand::Pid), Ok(None)) {
            println!("Heartbeat shutdown complete.");
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("heartbeat: the node is still shutting down after 600 s");
    ExitCode::FAILURE
}
