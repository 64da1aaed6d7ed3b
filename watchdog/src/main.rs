//! `fence-watchdog`: pets the watchdog device while the node is healthy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use watchdog::config::{self, Config};
use watchdog::{feed, logging, selftest, service};

/// Pet /dev/watchdog while health checks pass; stop petting (so the
/// hardware resets the node) when one fails.
///
/// Reads /etc/fence-watchdog.toml when it exists (built-in defaults
/// otherwise). A -c file whose name ends in .toml is read as TOML, any
/// other as Debian's watchdog.conf.
#[derive(Parser, Debug)]
#[command(name = "fence-watchdog", version)]
struct Cli {
    /// Configuration file (TOML if it ends in .toml, else Debian's watchdog.conf format).
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'F', long)]
    foreground: bool,
    /// Verbose: log at debug level.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Check the device safely: arm it with a short timeout, pet it a few
    /// times, close it with the magic character, report its identity.
    #[arg(long)]
    test: bool,
    /// Check the configuration (-c FILE, else the default file, else the
    /// built-in defaults) without starting: print the device, the schedule
    /// and every health check with the line that set it, and exit 0; or
    /// the error naming file and line, and exit 1.
    #[arg(long)]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Feed the running service once as client NAME (for scripts).
    Feed {
        /// The client name, as in a `[[feeder]]` check.
        name: String,
        /// The service's socket (default: from -c, else /run/fence-watchdog.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

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
