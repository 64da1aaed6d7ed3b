//! One rate limiter for every warning that others can provoke (hostile
//! packets, failed callbacks, feeds from strangers): at most one line per
//! interval, and the next line says how many were held back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one event through per interval and counts the ones it holds back.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimiter {
    /// A limiter letting one event through per `interval` (the first at once).
    pub fn new(interval: Duration) -> Self {
        RateLimiter { interval, state: Mutex::new(LimiterState::default()) }
    }

    /// `Some(n)` when this event may be logged, `n` being how many were held
    /// back since the last one logged; `None` when it is to be suppressed.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    /// [`RateLimiter::admit`] at a given time (tests inject the clock).
    pub fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.last.is_none_or(|t| now.saturating_duration_since(t) >= self.interval) {
            state.last = Some(now);
            Some(std::mem::take(&mut state.suppressed))
        } else {
            state.suppressed += 1;
            None
        }
    }
}

/// `" (N similar suppressed)"` when `n > 0`, else nothing: the tail of a
/// rate-limited line.
pub fn suppressed_note(n: u64) -> String {
    if n > 0 {
        format!(" ({n} similar suppressed)")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_interval_and_the_rest_counted() {
        let limit = RateLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limit.admit_at(t0), Some(0));
        assert_eq!(limit.admit_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(limit.admit_at(t0 + Duration::from_secs(9)), None);
        assert_eq!(limit.admit_at(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(limit.admit_at(t0 + Duration::from_secs(10)), None);
        assert_eq!(suppressed_note(0), "");
        assert_eq!(suppressed_note(3), " (3 similar suppressed)");
    }
}
