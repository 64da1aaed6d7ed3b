//! The load averages stay below limits (Debian's `max-load-*`).

use std::path::PathBuf;

use nix::errno::Errno;

use super::{Check, Failure};

const NAMES: [&str; 3] = ["max-1", "max-5", "max-15"];

/// Compares `/proc/loadavg` with the 1-, 5- and 15-minute limits.
#[derive(Debug)]
pub struct LoadCheck {
    limits: [Option<f64>; 3],
    source: PathBuf,
}

impl LoadCheck {
    /// A check with these 1-, 5- and 15-minute limits.
    pub fn new(limits: [Option<f64>; 3]) -> Self {
        Self::reading(limits, "/proc/loadavg")
    }

    /// The same, reading the averages from `source`.
    pub fn reading(limits: [Option<f64>; 3], source: impl Into<PathBuf>) -> Self {
        LoadCheck { limits, source: source.into() }
    }
}

/// The three averages in the text of `/proc/loadavg`.
pub fn averages(text: &str) -> Option<[f64; 3]> {
    let mut words = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([words.next()??, words.next()??, words.next()??])
}

impl Check for LoadCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let text = super::read_source(&self.source)?;
        let loads = averages(&text).ok_or_else(|| {
            Failure::new(format!("cannot parse {}: `{}`", self.source.display(), text.trim()), Errno::EINVAL)
        })?;
        for ((load, limit), name) in loads.iter().zip(self.limits).zip(NAMES) {
            if let Some(limit) = limit.filter(|l| load > l) {
                return Err(Failure::new(format!("load average {load} is above {name} = {limit}"), Errno::EBUSY));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_above_a_limit_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("loadavg");
        std::fs::write(&source, "2.50 1.00 0.50 3/120 4567\n").unwrap();
        assert_eq!(LoadCheck::reading([Some(3.0), None, None], &source).run(), Ok(()));
        let err = LoadCheck::reading([Some(2.0), None, None], &source).run().unwrap_err();
        assert_eq!(err.reason, "load average 2.5 is above max-1 = 2");
        let err = LoadCheck::reading([None, None, Some(0.25)], &source).run().unwrap_err();
        assert_eq!(err.reason, "load average 0.5 is above max-15 = 0.25");
        std::fs::write(&source, "busy\n").unwrap();
        assert!(LoadCheck::reading([Some(1.0), None, None], &source)
            .run()
            .unwrap_err()
            .reason
            .contains("cannot parse"));
        assert!(LoadCheck::new([Some(1e9), None, None]).run().is_ok(), "reads the real /proc/loadavg");
    }
}
