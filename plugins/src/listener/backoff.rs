//! Exponential back-off for something that keeps failing (`accept` out of
//! file descriptors; the dispatcher's callbacks to one address): the first
//! retry comes soon, each further one waits twice as long up to a ceiling;
//! a success starts over.

use std::time::Duration;

/// First wait after a failure.
pub const FIRST: Duration = Duration::from_millis(50);
/// Longest wait.
pub const CEILING: Duration = Duration::from_millis(1600);

/// Back-off state.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    first: Duration,
    ceiling: Duration,
    next: Option<Duration>,
}

impl Default for Backoff {
    /// [`FIRST`] doubling to [`CEILING`] (the accept loop's).
    fn default() -> Self {
        Backoff::new(FIRST, CEILING)
    }
}

impl Backoff {
    /// Waits of `first`, doubling up to `ceiling`.
    pub fn new(first: Duration, ceiling: Duration) -> Self {
        Backoff { first, ceiling, next: None }
    }

    /// How long to wait after one more failure.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next.unwrap_or(self.first);
        self.next = Some((wait * 2).min(self.ceiling));
        wait
    }

    /// A success: the next failure waits the first wait again.
    pub fn succeeded(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..8).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 1600, 1600]);
        b.succeeded();
        assert_eq!(b.failed(), FIRST);
    }
}
