//! `fence-watchdog`: pets the watchdog device while the node is healthy.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use watchdog::cli::{Cli, Command};
use watchdog::config::{self, Config};
use watchdog::{feed, logging, selftest, service};

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("fence-watchdog: {message}");
    ExitCode::FAILURE
}

/// The configuration: `-c FILE`, else the default file if present, else
/// the built-in defaults.
fn load(path: Option<&Path>) -> Result<(Config, Vec<String>), config::ConfigError> {
    match path {
        Some(path) => config::load(path),
        None if Path::new(config::DEFAULT_CONFIG).exists() => config::load(Path::new(config::DEFAULT_CONFIG)),
        None => Ok((Config::default(), Vec::new())),
    }
}

/// How long `feed` waits for the service to say whether the feed counts.
const FEED_HELLO_WAIT: Duration = Duration::from_millis(500);

/// `fence-watchdog feed NAME`: feeds once, then asks the service whether
/// the feed counts; a feed that does not is an error (exit 1).
fn feed_once(socket: &Path, name: &str) -> ExitCode {
    let feeder = match feed::Feeder::new(socket, name).and_then(|f| f.feed().map(|()| f)) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let counted =
        |why: String| fail(format!("the feed of `{name}` through {} does not count: {why}", socket.display()));
    match feeder.hello(FEED_HELLO_WAIT) {
        Ok(Some(feed::Verdict::Unknown)) => counted(format!("the service has no [[feeder]] check named `{name}`")),
        Ok(Some(feed::Verdict::Denied)) => counted(format!(
            "the [[feeder]] check `{name}` is fed by another user (this is uid {})",
            nix::unistd::getuid()
        )),
        Ok(Some(feed::Verdict::Accepted) | None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fence-watchdog: warning: fed, but cannot ask whether the feed counts: {e}");
            ExitCode::SUCCESS
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, warnings) = match load(cli.config.as_deref()) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    for w in &warnings {
        eprintln!("fence-watchdog: warning: {w}");
    }
    if cli.check {
        print!("{}", config::summary::summary(&config));
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Feed { name, socket }) = &cli.command {
        let socket = socket.clone().unwrap_or_else(|| config.feed_socket.clone());
        return feed_once(&socket, name);
    }
    if cli.test {
        let mut out = std::io::stdout();
        return match selftest::run(&config.device, Duration::from_secs(1), &mut out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{e:#}")),
        };
    }
    if !cli.foreground {
        if let Err(e) = nix::unistd::daemon(false, false) {
            return fail(format!("cannot detach: {e}"));
        }
    }
    logging::init(cli.verbose, cli.foreground);
    if let Some(file) = &config.source {
        tracing::info!("configuration {}", file.display());
    }
    match service::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            if !cli.foreground {
                eprintln!("fence-watchdog: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
