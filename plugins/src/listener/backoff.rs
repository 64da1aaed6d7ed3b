//! Exponential back-off for a failing loop (e.g. `accept` out of file
//! descriptors): the first retry comes soon, each further one waits twice as
//! long up to a ceiling; a success starts over.

use std::time::Duration;

/// First wait after a failure.
pub const FIRST: Duration = Duration::from_millis(50);
/// Longest wait.
pub const CEILING: Duration = Duration::from_millis(1600);

/// Back-off state.
#[derive(Debug, Default)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    /// How long to wait after one more failure.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next.unwrap_or(FIRST);
        self.next = Some((wait * 2).min(CEILING));
        wait
    }

    /// A success: the next failure waits [`FIRST`] again.
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
