//! `fence_virtd`: the host daemon that fences libvirt guests for fence_xvm
//! and fence_virt clients.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use fence_daemon::config::DaemonConfig;
use fence_daemon::pidfile::PidFile;
use fence_daemon::{logging, registry, server, wizard};

/// Fence libvirt guests on request of fence_xvm / fence_virt clients.
///
/// Reads /etc/fence_virt.conf (the same file the original fence_virtd
/// reads); refuses to start without a usable key unless hash and auth are
/// both "none".
#[derive(Parser, Debug)]
#[command(name = "fence_virtd", version)]
struct Cli {
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'F')]
    foreground: bool,
    /// Configuration file.
    #[arg(short = 'f', value_name = "FILE", default_value = protocol::defaults::CONFIG_FILE)]
    config: PathBuf,
    /// Whether -f was given (the original then prints "Using FILE").
    #[arg(skip)]
    config_given: bool,
    /// Debug level (overrides fence_virtd/debug): 1 debug, 2 trace.
    #[arg(short = 'd', value_name = "LEVEL")]
    debug: Option<u32>,
    /// Run the interactive configuration wizard on the -f file and exit.
    #[arg(short = 'c')]
    configure: bool,
    /// List the built-in listener and backend plugins and exit.
    #[arg(short = 'l')]
    list: bool,
    /// Check the configuration (-f FILE) and the listener's key as a start
    /// would, without starting; print what would be used (listener, key
    /// fingerprint, backend, groups) and exit 0, or the error and exit 1.
    #[arg(long)]
    check_config: bool,
    /// Wait for the backend and listener to become available instead of
    /// exiting when they cannot be initialized.
    #[arg(short = 'w')]
    wait: bool,
    /// Pid file.
    #[arg(short = 'p', value_name = "FILE", default_value = "/var/run/fence_virtd.pid")]
    pidfile: PathBuf,
    /// Start even when the key file is readable by group or others or owned
    /// by another user than root or ours, or the configuration file is
    /// writable by group or others or owned by another user (each is logged
    /// as a warning). Without it, fence_virtd refuses to start and names the
    /// chmod/chown that fixes the file. Symbolic links, FIFOs and other
    /// non-regular files are refused either way.
    #[arg(long)]
    allow_insecure_permissions: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("fence_virtd: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.config_given = matches.value_source("config") == Some(clap::parser::ValueSource::CommandLine);
    if cli.list {
        print!("{}", registry::listing());
        return ExitCode::SUCCESS;
    }
    if cli.check_config {
        return match fence_daemon::check::check(&cli.config, cli.allow_insecure_permissions) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        };
    }
    if cli.configure {
        if cli.config_given {
            println!("Using {}", cli.config.display());
        }
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut output = std::io::stdout();
        return match wizard::run(&cli.config, &mut input, &mut output) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => fail(e),
        };
    }
    // Files and sockets we create are private unless given a mode.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let (config, warnings) = match DaemonConfig::load_trusted(&cli.config, cli.allow_insecure_permissions) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    for w in &warnings {
        eprintln!("fence_virtd: warning: {w}");
    }
    if let Err(e) = config.check_host() {
        return fail(e);
    }
    let debug = cli.debug.unwrap_or(config.debug);
    let foreground = cli.foreground || config.foreground;
    let wait = cli.wait || config.wait_for_init;
    // Logging starts before detaching (the syslog socket survives the fork)
    // so warnings about the key are seen; key problems are start-up errors
    // the admin must see on the terminal.
    logging::init(debug, foreground);
    let initial_auth = match config.listener.auth() {
        Some(settings) => match server::load_auth(settings, &cli.config, cli.allow_insecure_permissions) {
            Ok(auth) => auth,
            Err(e) => return fail(format!("{e:#}")),
        },
        None => return fail(registry::not_built_in(config.listener.plugin())),
    };
    let pidfile = match PidFile::create(&cli.pidfile, "fence_virtd") {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let _pidfile = if foreground {
        pidfile
    } else {
        drop(pidfile);
        if let Err(e) = nix::unistd::daemon(false, false) {
            return fail(format!("cannot detach: {e}"));
        }
        match PidFile::create(&cli.pidfile, "fence_virtd") {
            Ok(p) => p,
            Err(_) => return ExitCode::FAILURE,
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let served =
        runtime.block_on(server::serve(config, cli.config.clone(), wait, cli.allow_insecure_permissions, initial_auth));
    // Do not wait for a backend call that hangs (e.g. libvirtd stopped).
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
