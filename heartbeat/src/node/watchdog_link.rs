//! The watchdog link (ha.cf `watchdog DEVICE`, spec §6): each keepalive the
//! core proves it is alive, either to the `fence-watchdog` service (feeding
//! it as client `heartbeat` through its socket) or, when no service runs,
//! by petting the device itself with a timeout of ⌈deadtime + 10 ms⌉ s. A
//! hung or killed core stops feeding, and its node resets.
//!
//! At start the core asks the service (`hello heartbeat`) whether its feeds
//! count. When the service has no `heartbeat` client, or another user is
//! configured for it, feeds do nothing and the node would not reset if the
//! core hung: the core logs an ERROR saying so and how to fix it, and keeps
//! feeding (so fixing and restarting the service is enough). It does not
//! refuse to start, as Heartbeat does not when its watchdog device cannot be
//! opened. A service too old to answer gets a warning and is fed as before.

use std::path::Path;
use std::time::Duration;

use tracing::{error, info, warn};
use watchdog::device::Watchdog;
use watchdog::feed::{Feeder, Verdict};

/// Name under which the core feeds fence-watchdog (its `[[feeder]]` check).
pub const FEEDER_NAME: &str = "heartbeat";

/// How long the core waits for the service's answer to `hello`.
pub const HELLO_WAIT: Duration = Duration::from_secs(1);

/// Tells whether the service counts this core's feeds, in the log.
fn report_hello(feeder: &Feeder, socket: &Path) {
    let socket = socket.display();
    match feeder.hello(HELLO_WAIT) {
        Ok(Some(Verdict::Accepted)) => info!("fence-watchdog at {socket} counts the feeds of {FEEDER_NAME}"),
        Ok(Some(Verdict::Unknown)) => error!(
            "The fence-watchdog service at {socket} has no `{FEEDER_NAME}` client: feeds from this core do not \
             count and the node will NOT reset if heartbeat hangs. Add [[feeder]] name = \"{FEEDER_NAME}\" to its \
             configuration and restart fence-watchdog (heartbeat keeps feeding)."
        ),
        Ok(Some(Verdict::Denied)) => error!(
            "The fence-watchdog service at {socket} has no `{FEEDER_NAME}` client for uid {}: feeds from this core \
             do not count and the node will NOT reset if heartbeat hangs. Set `user` of its [[feeder]] \
             `{FEEDER_NAME}` check to this user and restart fence-watchdog (heartbeat keeps feeding).",
            nix::unistd::getuid()
        ),
        Ok(None) => warn!(
            "fence-watchdog at {socket} did not answer `hello` (a version without it?): check that it has a \
             [[feeder]] `{FEEDER_NAME}` check"
        ),
        Err(e) => warn!("cannot ask fence-watchdog at {socket} whether it counts this core's feeds: {e}"),
    }
}

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
                // On its own thread: the answer (or its absence) must not
                // delay the core's start.
                let socket = socket.to_path_buf();
                let asked = std::thread::Builder::new().name("watchdog-hello".into()).spawn(move || {
                    if let Ok(prober) = Feeder::new(&socket, FEEDER_NAME) {
                        report_hello(&prober, &socket);
                    }
                });
                if let Err(e) = asked {
                    warn!("cannot ask fence-watchdog whether it counts this core's feeds: {e}");
                }
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
