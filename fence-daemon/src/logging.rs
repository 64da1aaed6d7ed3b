//! fence_virtd's log verbosity; the sink is the shared `logging` crate.

/// Verbosity from the `-d` level: 0 info, 1 debug, ≥2 trace.
pub fn level_for(debug: u32) -> tracing::Level {
    match debug {
        0 => tracing::Level::INFO,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// Installs the global subscriber: stderr in the foreground, syslog otherwise.
pub fn init(debug: u32, to_stderr: bool) {
    logging::init("fence_virtd", level_for(debug), to_stderr);
}
