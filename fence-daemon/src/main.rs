//! `fence_virtd`: the host daemon that fences libvirt guests for fence_xvm
//! and fence_virt clients.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use fence_daemon::cli::Cli;
use fence_daemon::config::DaemonConfig;
use fence_daemon::pidfile::PidFile;
use fence_daemon::{logging, registry, server, wizard};

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
