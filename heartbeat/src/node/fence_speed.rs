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
//! call also waits for, does not matter to the race). Twice the median of
//! the last three calls is announced: the first check runs while the
//! node boots (and runs the agent for the first time) and is often
//! several times slower than the device is, so the runtime checks again
//! soon after ([`FenceSpeed::next_check_in`]), then every minute, and the
//! figure follows the device.

use std::collections::VecDeque;
use std::time::Duration;

/// How many recent calls the figure is the median of.
const REMEMBERED: usize = 3;

/// Waits before the second and third device checks.
const EARLY_RECHECKS: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(5)];
/// How often the device is checked after that.
const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Recent durations of successful agent queries.
#[derive(Debug, Default)]
pub struct FenceSpeed {
    queries: VecDeque<Duration>,
    /// Device checks finished (answered or not).
    checks: usize,
}

impl FenceSpeed {
    /// A successful `monitor` or `status` call took `took`.
    pub fn record_query(&mut self, took: Duration) {
        if self.queries.len() == REMEMBERED {
            self.queries.pop_front();
        }
        self.queries.push_back(took);
    }

    /// The fence time to announce: twice the median of the recent queries
    /// (the slower middle one of two), rounded up to whole milliseconds;
    /// zero while nothing was measured.
    pub fn estimate(&self) -> Duration {
        let mut sorted: Vec<Duration> = self.queries.iter().copied().collect();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        Duration::from_millis(u64::try_from((median * 2).as_micros().div_ceil(1000)).unwrap_or(u64::MAX))
    }

    /// How many queries the figure is made of.
    pub fn samples(&self) -> usize {
        self.queries.len()
    }

    /// A device check finished: how long until the next one.
    pub fn next_check_in(&mut self) -> Duration {
        self.checks += 1;
        EARLY_RECHECKS.get(self.checks - 1).copied().unwrap_or(RECHECK_EVERY)
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
    fn twice_the_median_of_the_recent_queries_rounded_up() {
        let mut speed = FenceSpeed::default();
        speed.record_query(ms(1250)); // the first check, while booting
        assert_eq!(speed.estimate(), ms(2500));
        speed.record_query(Duration::from_micros(170_400));
        assert_eq!(speed.estimate(), ms(2500), "of two, the slower");
        speed.record_query(ms(120));
        assert_eq!(speed.estimate(), ms(341), "one slow outlier of three is ignored");
        assert_eq!(speed.samples(), 3);
    }

    #[test]
    fn checks_come_quickly_at_first_then_every_minute() {
        let mut speed = FenceSpeed::default();
        let waits: Vec<Duration> = (0..4).map(|_| speed.next_check_in()).collect();
        assert_eq!(waits, [ms(2000), ms(5000), ms(60_000), ms(60_000)]);
    }

    #[test]
    fn old_queries_are_forgotten() {
        let mut speed = FenceSpeed::default();
        for _ in 0..REMEMBERED {
            speed.record_query(ms(100));
        }
        for _ in 0..REMEMBERED {
            speed.record_query(ms(900));
        }
        assert_eq!(speed.estimate(), ms(1800), "a device that became slow is announced as slow");
    }
}
