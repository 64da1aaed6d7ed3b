//! The watchdog: the fence that always works. If a node's cluster
//! software dies or hangs, the node resets itself before its peers take
//! over its resources.
//!
//! - [`device`]: the Linux watchdog device API (`/dev/watchdog`) through
//!   ioctls: identity and options, timeouts, keepalive, time left, magic
//!   close, disable.
//! - [`config`]: the `fence-watchdog` configuration, from its own TOML
//!   format or from Debian's `watchdog.conf`.
//! - [`checks`] and [`monitor`]: health checks (pid file, feeding client,
//!   ping, interface traffic, load, free memory, test command, file age),
//!   each on its own interval with its own grace.
//! - [`pet`]: the petting thread (real-time priority, locked memory,
//!   worst-gap figures).
//! - [`feed`]: the feeding protocol, client and server.
//! - [`service`] and [`selftest`]: the `fence-watchdog` service and its
//!   `--test`.
//!
//! # The feeding protocol
//!
//! A client — the heartbeat core, or a script — proves it is alive by
//! *feeding* the service. The service listens on a Unix **datagram**
//! socket, by default `/run/fence-watchdog.sock` (`feed-socket` in the
//! `[watchdog]` table), created under umask 0177 with mode 0600 when every
//! client is root's, else 0666. It exists only when at least one
//! `[[feeder]]` check is configured.
//!
//! - Each datagram holds one or more lines; each line is `feed NAME`
//!   (trailing newline optional). NAME is 1–64 characters of
//!   `A-Z a-z 0-9 . _ -` and must match the `name` of a `[[feeder]]` check.
//! - A feed counts only when the kernel's credentials of the datagram
//!   (`SCM_CREDENTIALS`, which an unprivileged sender cannot forge) carry
//!   the uid of that check's `user` (default root).
//! - There is no answer to a feed. Sending fails (ENOENT, ECONNREFUSED)
//!   when the service is not running or no feeder is configured.
//! - `hello NAME` asks whether the sender's feeds of NAME count; the
//!   service answers `ok NAME`, `unknown NAME` (no such check) or
//!   `denied NAME` (another user's) to the sender's socket address, which
//!   must therefore be bound. A service without `hello` (before issue 10)
//!   does not answer. [`feed::Feeder::hello`] does this.
//! - Feeds from names that no check expects or from other users, and
//!   malformed lines, are dropped, counted and warned about at most once
//!   every 10 s.
//! - The service start counts as a feed. When a configured client has
//!   not fed for longer than its `grace`, its check fails: the repair
//!   command runs, petting stops and the node resets. Feed at least a few
//!   times per grace period.
//!
//! From Rust, keep a [`feed::Feeder`] and call [`feed::Feeder::feed`]:
//!
//! ```no_run
//! let feeder = watchdog::feed::Feeder::new(watchdog::config::DEFAULT_FEED_SOCKET, "heartbeat")?;
//! feeder.feed()?;
//! # Ok::<(), watchdog::feed::FeedError>(())
//! ```
//!
//! From a shell: `fence-watchdog feed heartbeat [--socket PATH]`; it exits 1,
//! saying why, when the service answers that the feed does not count.

pub mod checks;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod device;
pub mod feed;
mod ioctl;
pub mod logging;
pub mod monitor;
pub mod pet;
pub mod selftest;
pub mod service;

/// Polls `check` every 5 ms until true or `limit` passes (tests only).
#[cfg(test)]
pub(crate) fn wait_until(limit: std::time::Duration, check: impl FnMut() -> bool) -> bool {
    let every = plumbing::poll::Backoff::constant(std::time::Duration::from_millis(5));
    plumbing::poll::poll_until(std::time::Instant::now() + limit, every, check)
}
