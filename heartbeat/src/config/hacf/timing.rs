//! Timing directives (spec §1.2): defaults, derived values and cross-checks.

use std::path::Path;
use std::time::Duration;

use crate::config::{ConfigError, Warning};

/// Built-in keepalive of Heartbeat 3.0.6.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_millis(1000);
/// Built-in deadtime of Heartbeat 3.0.6.
pub const DEFAULT_DEADTIME: Duration = Duration::from_millis(30_000);
/// An initdead below this draws a warning (slow network start-up).
pub const INITDEAD_WARN_BELOW: Duration = Duration::from_secs(10);

/// The effective timings, all defaults and derivations applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval between status packets on every medium.
    pub keepalive: Duration,
    /// A node (or link) is dead after this much silence.
    pub deadtime: Duration,
    /// A packet later than this logs a late-heartbeat warning.
    pub warntime: Duration,
    /// The deadtime used until the node has first come active.
    pub initdead: Duration,
    /// Deadtime of ping nodes.
    pub deadping: Duration,
}

/// The timing directives as written: value and line, or absent.
#[derive(Debug, Default)]
pub(super) struct TimingInput {
    pub keepalive: Option<(Duration, usize)>,
    pub deadtime: Option<(Duration, usize)>,
    pub warntime: Option<(Duration, usize)>,
    pub initdead: Option<(Duration, usize)>,
    pub deadping: Option<(Duration, usize)>,
}

/// What a time directive is called in messages ("Warn time [x] is invalid.").
pub(super) fn label(directive: &str) -> &'static str {
    match directive {
        "keepalive" => "Keepalive time",
        "deadtime" => "Dead time",
        "warntime" => "Warn time",
        "initdead" => "Initial dead time",
        "deadping" => "Ping dead time",
        "stonith_timeout" => "STONITH timeout",
        "stonith_delay" => "STONITH delay",
        _ => "Time",
    }
}

impl TimingInput {
    /// Applies the defaults of §1.2 and checks the constraints between the
    /// values, independent of the order the directives were written in.
    pub fn resolve(&self, path: &Path, warnings: &mut Vec<Warning>) -> Result<Timing, ConfigError> {
        let keepalive = self.keepalive.map_or(DEFAULT_KEEPALIVE, |(d, _)| d);
        let deadtime = self.deadtime.map_or(DEFAULT_DEADTIME, |(d, _)| d);
        let ms = |d: Duration| d.as_millis();

        if let Some((d, line)) = self.keepalive {
            if d.is_zero() {
                return Err(ConfigError::at(path, line, "Keepalive time [0] must be greater than zero."));
            }
        }
        if deadtime <= keepalive * 2 {
            let line = self.deadtime.or(self.keepalive).map_or(0, |(_, l)| l);
            return Err(ConfigError::at(
                path,
                line,
                format!(
                    "Dead time [{}] is too small compared to keeplive [{}] (deadtime must exceed 2 x keepalive)",
                    ms(deadtime),
                    ms(keepalive)
                ),
            ));
        }

        let initdead = self.initdead(path, deadtime, warnings)?;

        let deadping = match self.deadping {
            Some((d, line)) if d <= keepalive * 2 => {
                return Err(ConfigError::at(
                    path,
                    line,
                    format!(
                        "Ping dead time [{}] is too small compared to keeplive [{}] (deadping must exceed 2 x keepalive)",
                        ms(d),
                        ms(keepalive)
                    ),
                ));
            }
            Some((d, _)) => d,
            None => deadtime,
        };

        let warntime = match self.warntime {
            Some((d, line)) => {
                if d >= deadtime {
                    warnings.push(Warning::at(
                        path,
                        line,
                        format!(
                            "warntime [{} ms] is not below deadtime [{} ms]: no late-heartbeat warning can come \
                             before a node is declared dead",
                            ms(d),
                            ms(deadtime)
                        ),
                    ));
                }
                d
            }
            None => deadtime / 2,
        };

        Ok(Timing { keepalive, deadtime, warntime, initdead, deadping })
    }

    /// `initdead`: at least deadtime (a warning below 10 s); by default
    /// deadtime past 10 s, twice deadtime from 6 s, else 12 s.
    fn initdead(&self, path: &Path, deadtime: Duration, warnings: &mut Vec<Warning>) -> Result<Duration, ConfigError> {
        Ok(match self.initdead {
            Some((d, line)) => {
                if d < deadtime {
                    return Err(ConfigError::at(
                        path,
                        line,
                        format!(
                            "Initial dead time [{}] is smaller than deadtime [{}]",
                            d.as_millis(),
                            deadtime.as_millis()
                        ),
                    ));
                }
                if d < INITDEAD_WARN_BELOW {
                    warnings.push(Warning::at(
                        path,
                        line,
                        format!(
                            "Initial dead time [{} ms] may be too small! Initial dead time accounts for slow \
                             network startup time. It should be >= deadtime and >= 10 seconds",
                            d.as_millis()
                        ),
                    ));
                }
                d
            }
            None if deadtime > Duration::from_secs(10) => deadtime,
            None if deadtime >= Duration::from_secs(6) => deadtime * 2,
            None => Duration::from_secs(12),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/etc/ha.d/ha.cf";

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    fn resolve(input: TimingInput) -> (Result<Timing, ConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let r = input.resolve(Path::new(P), &mut warnings);
        (r, warnings)
    }

    #[test]
    fn defaults_are_those_of_3_0_6() {
        let (t, w) = resolve(TimingInput::default());
        let t = t.unwrap();
        assert_eq!(
            t,
            Timing { keepalive: s(1.0), deadtime: s(30.0), warntime: s(15.0), initdead: s(30.0), deadping: s(30.0) }
        );
        assert!(w.is_empty());
    }

    #[test]
    fn initdead_is_derived_from_deadtime() {
        let with_dead = |d: f64| TimingInput { deadtime: Some((s(d), 2)), ..Default::default() };
        assert_eq!(resolve(with_dead(20.0)).0.unwrap().initdead, s(20.0));
        assert_eq!(resolve(with_dead(10.0)).0.unwrap().initdead, s(20.0));
        assert_eq!(resolve(with_dead(6.0)).0.unwrap().initdead, s(12.0));
        assert_eq!(resolve(with_dead(5.0)).0.unwrap().initdead, s(12.0));
        assert_eq!(resolve(with_dead(10.5)).0.unwrap().initdead, s(10.5));
    }

    #[test]
    fn warntime_and_deadping_follow_deadtime() {
        let (t, _) = resolve(TimingInput { deadtime: Some((s(6.0), 1)), ..Default::default() });
        let t = t.unwrap();
        assert_eq!(t.warntime, s(3.0));
        assert_eq!(t.deadping, s(6.0));
    }

    #[test]
    fn deadtime_must_exceed_twice_keepalive() {
        let input = TimingInput { keepalive: Some((s(2.0), 3)), deadtime: Some((s(4.0), 4)), ..Default::default() };
        assert_eq!(
            resolve(input).0.unwrap_err().to_string(),
            "/etc/ha.d/ha.cf:4: Dead time [4000] is too small compared to keeplive [2000] (deadtime must exceed 2 x keepalive)"
        );
    }

    #[test]
    fn a_large_keepalive_against_the_default_deadtime_points_at_keepalive() {
        let input = TimingInput { keepalive: Some((s(20.0), 9)), ..Default::default() };
        assert!(resolve(input).0.unwrap_err().to_string().starts_with("/etc/ha.d/ha.cf:9: Dead time [30000]"));
    }

    #[test]
    fn zero_keepalive_is_rejected() {
        let input = TimingInput { keepalive: Some((s(0.0), 5)), ..Default::default() };
        assert_eq!(
            resolve(input).0.unwrap_err().to_string(),
            "/etc/ha.d/ha.cf:5: Keepalive time [0] must be greater than zero."
        );
    }

    #[test]
    fn initdead_below_deadtime_is_fatal() {
        let input = TimingInput { deadtime: Some((s(10.0), 1)), initdead: Some((s(5.0), 2)), ..Default::default() };
        assert_eq!(
            resolve(input).0.unwrap_err().to_string(),
            "/etc/ha.d/ha.cf:2: Initial dead time [5000] is smaller than deadtime [10000]"
        );
    }

    #[test]
    fn small_initdead_warns() {
        let input = TimingInput { deadtime: Some((s(3.0), 1)), initdead: Some((s(4.0), 2)), ..Default::default() };
        let (t, w) = resolve(input);
        assert_eq!(t.unwrap().initdead, s(4.0));
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().starts_with("/etc/ha.d/ha.cf:2: Initial dead time [4000 ms] may be too small!"));
    }

    #[test]
    fn deadping_must_exceed_twice_keepalive() {
        let input = TimingInput { deadping: Some((s(2.0), 7)), ..Default::default() };
        assert_eq!(
            resolve(input).0.unwrap_err().to_string(),
            "/etc/ha.d/ha.cf:7: Ping dead time [2000] is too small compared to keeplive [1000] (deadping must exceed 2 x keepalive)"
        );
    }

    #[test]
    fn warntime_not_below_deadtime_warns() {
        let input = TimingInput { deadtime: Some((s(6.0), 1)), warntime: Some((s(6.0), 2)), ..Default::default() };
        let (t, w) = resolve(input);
        assert_eq!(t.unwrap().warntime, s(6.0));
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().starts_with("/etc/ha.d/ha.cf:2: warntime [6000 ms] is not below deadtime"));
    }
}
