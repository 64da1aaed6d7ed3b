//! `fence-watchdog --test`: a safe check that a device works. Arms it with
//! a short timeout, pets it a few times, and closes it with the magic
//! character, reporting what the driver is.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::device::{self, Options, Watchdog};

/// Timeout the test arms the device with.
pub const TEST_TIMEOUT: u32 = 10;
/// Keepalives the test sends.
pub const TEST_KEEPALIVES: u32 = 3;

/// Runs the test on `path`, writing a report to `out`; `pause` is the
/// time between keepalives.
pub fn run(path: &Path, pause: Duration, out: &mut dyn Write) -> anyhow::Result<()> {
    if device::nowayout(path) == Some(true) {
        bail!(
            "{}: refusing to test: the driver has nowayout set, so the watchdog cannot be stopped again and the node \
             would reset",
            path.display()
        );
    }
    let dog = Watchdog::open(path)?;
    let result = exercise(&dog, pause, out);
    // Close cleanly whatever happened, or the node resets.
    let supports_magic = dog.info().map(|i| i.options.contains(Options::MAGICCLOSE)).unwrap_or(true);
    let closed = dog.magic_close();
    result?;
    closed?;
    if supports_magic {
        writeln!(out, "closed with the magic character: the watchdog is stopped")?;
    } else {
        writeln!(out, "closed with the magic character, but the driver does not announce support for it")?;
    }
    writeln!(out, "OK: {} works", path.display())?;
    Ok(())
}

fn exercise(dog: &Watchdog, pause: Duration, out: &mut dyn Write) -> anyhow::Result<()> {
    let info = dog.info()?;
    writeln!(out, "device: {}", dog.path().display())?;
    writeln!(out, "identity: \"{}\"", info.identity)?;
    writeln!(out, "firmware version: {}", info.firmware_version)?;
    writeln!(out, "options: {}", info.options)?;
    if let Ok(boot) = dog.boot_status() {
        let by_watchdog = if boot.contains(Options::CARDRESET) { "yes" } else { "no" };
        writeln!(out, "last boot caused by this watchdog: {by_watchdog}")?;
    }
    let timeout = if info.options.contains(Options::SETTIMEOUT) {
        let chosen = dog.set_timeout(TEST_TIMEOUT)?;
        writeln!(out, "armed with a {chosen} s timeout")?;
        chosen
    } else {
        let fixed = dog.timeout().context("the driver cannot set its timeout and does not tell it")?;
        writeln!(out, "armed with its fixed {fixed} s timeout")?;
        fixed
    };
    if Duration::from_secs(timeout.into()) <= pause {
        bail!("{}: the timeout ({timeout} s) is too short to test safely", dog.path().display());
    }
    for n in 1..=TEST_KEEPALIVES {
        std::thread::sleep(pause);
        dog.keepalive()?;
        match dog.time_left()? {
            Some(left) => writeln!(out, "keepalive {n}/{TEST_KEEPALIVES}: ok, {left} s left")?,
            None => writeln!(out, "keepalive {n}/{TEST_KEEPALIVES}: ok")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_that_is_not_a_watchdog_fails_and_is_still_closed_with_the_magic_character() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-watchdog");
        std::fs::write(&path, b"").unwrap();
        let mut out = Vec::new();
        let err = run(&path, Duration::ZERO, &mut out).unwrap_err().to_string();
        assert!(err.contains("not-a-watchdog: WDIOC_GETSUPPORT failed: ENOTTY"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"V");
    }

    #[test]
    fn a_missing_device_says_what_to_load() {
        let err = run(Path::new("/nonexistent/watchdog"), Duration::ZERO, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("modprobe softdog"), "{err}");
    }
}
