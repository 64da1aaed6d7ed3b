//! fence-watchdog's log setup; the sink is the shared `logging` crate.

/// Installs the global subscriber: info, or debug with `verbose`; stderr in
/// the foreground, syslog when detached.
pub fn init(verbose: bool, to_stderr: bool) {
    let level = if verbose { tracing::Level::DEBUG } else { tracing::Level::INFO };
    logging::init("fence-watchdog", level, to_stderr);
}
