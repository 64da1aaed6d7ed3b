//! Rate limit for warnings that others can trigger (feeds from strangers,
//! malformed datagrams): at most one line per period, saying how many were
//! held back in between.

use std::time::{Duration, Instant};

/// Time between two warnings of one limiter.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Lets a warning through at most once per period.
#[derive(Debug, Default)]
pub struct WarnLimit {
    last: Option<Instant>,
    held_back: u64,
}

impl WarnLimit {
    /// `Some(n)` when a warning may be logged now, `n` being how many were
    /// held back since the previous one; `None` (counted) otherwise.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < WARN_EVERY => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_period_and_the_rest_counted() {
        let mut limit = WarnLimit::default();
        let t0 = Instant::now();
        assert_eq!(limit.allow(t0), Some(0));
        assert_eq!(limit.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(limit.allow(t0 + Duration::from_secs(9)), None);
        assert_eq!(limit.allow(t0 + WARN_EVERY), Some(2));
        assert_eq!(limit.allow(t0 + WARN_EVERY), None);
    }
}
