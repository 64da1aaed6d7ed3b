//! Runs each health check on its own thread, on its own interval, and
//! reports a check that kept failing for longer than its grace.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checks::{Check, Failure};
use crate::config::show_duration;

/// Stack size of check threads: memory may be locked, keep them small.
pub(crate) const THREAD_STACK: usize = 256 * 1024;

/// A check that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    /// The check, such as "pidfile /run/heartbeat.pid (/etc/fw.toml:12)".
    pub check: String,
    /// Its last failure.
    pub failure: Failure,
}

/// A stop signal the check threads sleep on.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Sleeps until `until` or a stop; true when stopped.
    fn sleep_until(&self, until: Instant) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if *stopped || left.is_zero() {
                return *stopped;
            }
            stopped = self.wake.wait_timeout(stopped, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// The running checks; dropping it stops them.
#[derive(Debug)]
pub struct Monitor {
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
}

/// One check with its name and schedule.
pub struct Scheduled {
    /// Name used in the log.
    pub name: String,
    /// The check.
    pub check: Box<dyn Check>,
    /// Time between runs.
    pub interval: Duration,
    /// Time it may keep failing.
    pub grace: Duration,
}

impl Monitor {
    /// Starts one thread per check; `report` is called (once per check
    /// at most) when a check fails for good.
    pub fn start(checks: Vec<Scheduled>, report: impl Fn(Fatal) + Send + Clone + 'static) -> std::io::Result<Monitor> {
        let stop = Arc::new(Stop::default());
        let mut threads = Vec::new();
        for scheduled in checks {
            let (stop, report) = (stop.clone(), report.clone());
            let thread = std::thread::Builder::new()
                .name(format!("check {}", scheduled.name))
                .stack_size(THREAD_STACK)
                .spawn(move || watch(scheduled, &stop, report))?;
            threads.push(thread);
        }
        Ok(Monitor { stop, threads })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        *self.stop.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.wake.notify_all();
        // Threads inside a long check finish it on their own.
        self.threads.clear();
    }
}

fn watch(mut s: Scheduled, stop: &Stop, report: impl Fn(Fatal)) {
    let mut failing_since: Option<Instant> = None;
    loop {
        let started = Instant::now();
        match s.check.run() {
            Ok(()) => {
                if failing_since.take().is_some() {
                    tracing::info!("check {} passes again", s.name);
                }
            }
            Err(failure) => {
                let since = *failing_since.get_or_insert(started);
                let failing_for = started - since;
                if s.check.self_timed() || failing_for >= s.grace {
                    report(Fatal { check: s.name.clone(), failure });
                    return;
                }
                let left = show_duration(s.grace - failing_for);
                if failing_for.is_zero() {
                    tracing::warn!("check {} failed: {} (fatal if it still fails in {left})", s.name, failure.reason);
                } else {
                    tracing::debug!("check {} still fails: {} ({left} of grace left)", s.name, failure.reason);
                }
            }
        }
        if stop.sleep_until(started + s.interval) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Fails from the `from`-th run on.
    struct FailsFrom {
        runs: u32,
        from: u32,
    }

    impl Check for FailsFrom {
        fn run(&mut self) -> Result<(), Failure> {
            self.runs += 1;
            if self.runs >= self.from {
                Err(Failure::new(format!("run {}", self.runs), nix::errno::Errno::EIO))
            } else {
                Ok(())
            }
        }
    }

    fn scheduled(from: u32, interval_ms: u64, grace_ms: u64) -> Scheduled {
        Scheduled {
            name: "flaky".into(),
            check: Box::new(FailsFrom { runs: 0, from }),
            interval: Duration::from_millis(interval_ms),
            grace: Duration::from_millis(grace_ms),
        }
    }

    #[test]
    fn a_failure_counts_only_after_its_grace() {
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        let _monitor = Monitor::start(vec![scheduled(3, 50, 200)], move |f| tx.send(f).unwrap()).unwrap();
        let fatal = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // Runs at 0, 50, 100 (first failure), …, 300 ms (200 ms of failing).
        assert!(started.elapsed() >= Duration::from_millis(280), "{:?}", started.elapsed());
        assert_eq!(fatal.check, "flaky");
        assert_eq!(fatal.failure.reason, "run 7");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "reported once");
    }

    #[test]
    fn zero_grace_is_fatal_at_once_and_a_stopped_monitor_reports_nothing() {
        let (tx, rx) = mpsc::channel();
        let _monitor = Monitor::start(vec![scheduled(1, 1000, 0)], move |f| tx.send(f).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap().failure.reason, "run 1");

        let (tx, rx) = mpsc::channel();
        let monitor = Monitor::start(vec![scheduled(3, 50, 0)], move |f| tx.send(f).unwrap()).unwrap();
        drop(monitor);
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }
}
