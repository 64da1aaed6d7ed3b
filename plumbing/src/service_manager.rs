//! Telling systemd how a daemon is doing (`Type=notify` units): ready once
//! it really serves, stopping, and watchdog keep-alives when the unit sets
//! `WatchdogSec=`. Every call is a no-op when the daemon was not started by
//! systemd (no `NOTIFY_SOCKET`), so the daemons run the same without it.

use std::time::Duration;

use sd_notify::NotifyState;

/// The daemon serves now; `status` is shown by `systemctl status`.
pub fn ready(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The daemon is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// How often to send [`keep_alive`]: half the unit's `WatchdogSec=`, or
/// `None` when the unit sets none (or another process is the watched one).
pub fn keep_alive_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

/// A watchdog keep-alive (`WATCHDOG=1`).
pub fn keep_alive() {
    let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
}
