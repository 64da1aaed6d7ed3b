//! The watchdog link (ha.cf `watchdog DEVICE`, spec §6): each keepalive the
//! core proves it is alive, either to the `fence-watchdog` service (feeding
//! it as client `heartbeat` through its socket) or, when no service runs,
//! by petting the device itself with a timeout of ⌈deadtime + 10 ms⌉ s. A
//! hung or killed core stops feeding, and its node resets.

use std::path::Path;
use std::time::Duration;

use tracing::{error, info, warn};
use watchdog::device::Watchdog;
use watchdog::feed::Feeder;

/// Name under which the core feeds fence-watchdog (its `[[feeder]]` check).
pub const FEEDER_NAME: &str = "heartbeat";

/// How the core keeps its node's watchdog fed.
pub enum WatchdogLink {
    /// Through the fence-watchdog service.
    Service(Feeder),
    /// The device, opened by the core.
    Device(Watchdog),
}

impl WatchdogLink {
    /// Feeds the service at `socket` if it accepts a feed, else opens
    /// `device`. `None` (logged) when neither works: the core runs without.
    pub fn open(device: &Path, socket: &Path, deadtime: Duration) -> Option<(WatchdogLink, Duration)> {
        if let Ok(feeder) = Feeder::new(socket, FEEDER_NAME) {
            if feeder.feed().is_ok() {
                info!("Feeding the fence-watchdog service through {} as {FEEDER_NAME}", socket.display());
                return Some((WatchdogLink::Service(feeder), Duration::ZERO));
            }
        }
        let dev = match Watchdog::open(device) {
            Ok(d) => d,
            Err(e) => {
                error!("Cannot open watchdog device: {} ({e}); running without a watchdog", device.display());
                return None;
            }
        };
        info!("Using watchdog device: {}", device.display());
        let wanted = u32::try_from((deadtime.as_millis() + 10).div_ceil(1000)).unwrap_or(u32::MAX);
        let seconds = match dev.set_timeout(wanted) {
            Ok(s) => s,
            Err(e) => {
                warn!("WDIOC_SETTIMEOUT: Failed to set watchdog timer to {wanted} seconds: {e}");
                dev.timeout().unwrap_or(60)
            }
        };
        info!("Set watchdog timer to {seconds} seconds.");
        Some((WatchdogLink::Device(dev), Duration::from_secs(u64::from(seconds))))
    }

    /// One proof of life. A device write error closes the device (as
    /// Heartbeat does) and returns false.
    pub fn feed(&mut self) -> bool {
        match self {
            WatchdogLink::Service(feeder) => {
                if let Err(e) = feeder.feed() {
                    warn!("{e}");
                }
                true
            }
            WatchdogLink::Device(dev) => match dev.keepalive() {
                Ok(()) => true,
                Err(e) => {
                    error!("Watchdog write failure: closing {}! ({e})", dev.path().display());
                    false
                }
            },
        }
    }

    /// Orderly exit: disarms the device with the magic close.
    pub fn close(self) {
        if let WatchdogLink::Device(dev) = self {
            let path = dev.path().display().to_string();
            if let Err(e) = dev.magic_close() {
                warn!("watchdog {path}: magic close failed: {e}");
            }
        }
    }
}
