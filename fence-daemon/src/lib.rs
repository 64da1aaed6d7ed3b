//! fence_virtd: configuration, wizard, and the dispatcher between
//! listeners and the backend.

pub mod check;
pub mod cli;
pub mod config;
pub mod dispatcher;
pub mod history;
pub mod logging;
pub mod permissions;
pub mod pidfile;
pub mod registry;
pub mod server;
pub mod wizard;

/// Polls `done` every 20 ms until it is true or `limit` passes.
pub async fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    true
}
