//! Where time-dependent code asks for "now", so tests can move time
//! forward instead of sleeping.

use std::fmt::Debug;
use std::time::Instant;

/// A source of the current instant.
pub trait Clock: Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock ([`Instant::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to (tests only).
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct FakeClock {
    now: std::sync::Mutex<Instant>,
}

#[cfg(test)]
impl FakeClock {
    /// A fake clock starting at the real current instant.
    pub(crate) fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(FakeClock { now: std::sync::Mutex::new(Instant::now()) })
    }

    /// Moves the clock forward by `by`.
    pub(crate) fn advance(&self, by: std::time::Duration) {
        *self.now.lock().unwrap() += by;
    }
}

#[cfg(test)]
impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap()
    }
}
