//! How fast this node's fence device acts, as announced to the peers
//! ([`super::cluster::Announcement::fence_time`]): the weaker side of a
//! partition waits that long (plus the deadtime skew) before fencing, so
//! this node's fence of it lands first.
//!
//! The figure comes from the agent calls this node makes anyway — the
//! device check at start (`monitor`) and power-state queries (`status`):
//! each is one agent start and one round trip to the device, the same path
//! a fence request takes before the device acts (a fenced domain stops
//! when the daemon destroys it, while the reboot's power-on, which a fence
//! call also waits for, does not matter to the race). Twice the slowest of
//! the recent calls is announced.

use std::collections::VecDeque;
use std::time::Duration;

/// How many recent calls are remembered.
const REMEMBERED: usize = 8;

/// Recent durations of successful agent queries.
#[derive(Debug, Default)]
pub struct FenceSpeed {
    queries: VecDeque<Duration>,
}

impl FenceSpeed {
    /// A successful `monitor` or `status` call took `took`.
    pub fn record_query(&mut self, took: Duration) {
        if self.queries.len() == REMEMBERED {
            self.queries.pop_front();
        }
        self.queries.push_back(took);
    }

    /// The fence time to announce: twice the slowest recent query, rounded
    /// up to whole milliseconds; zero while nothing was measured.
    pub fn estimate(&self) -> Duration {
        let slowest = self.queries.iter().max().copied().unwrap_or_default();
        Duration::from_millis(u64::try_from((slowest * 2).as_micros().div_ceil(1000)).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_measured_announces_nothing() {
        assert_eq!(FenceSpeed::default().estimate(), Duration::ZERO);
    }

    #[test]
    fn twice_the_slowest_recent_query_rounded_up() {
        let mut speed = FenceSpeed::default();
        speed.record_query(ms(150));
        speed.record_query(Duration::from_micros(170_400));
        speed.record_query(ms(120));
        assert_eq!(speed.estimate(), ms(341));
    }

    #[test]
    fn old_queries_are_forgotten() {
        let mut speed = FenceSpeed::default();
        speed.record_query(ms(900));
        for _ in 0..REMEMBERED {
            speed.record_query(ms(100));
        }
        assert_eq!(speed.estimate(), ms(200));
    }
}
