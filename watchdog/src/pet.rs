//! The petting thread: keepalives on a fixed schedule, with real-time
//! priority where permitted, measuring the worst gap between keepalives.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::show_duration;
use crate::device::Watchdog;

/// How regularly the device was petted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GapStats {
    /// Successful keepalives.
    pub keepalives: u64,
    /// Failed keepalive calls.
    pub errors: u64,
    /// Longest time between two successful keepalives.
    pub worst_gap: Duration,
}

impl std::fmt::Display for GapStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst petting gap {:.1} ms over {} keepalives",
            self.worst_gap.as_secs_f64() * 1000.0,
            self.keepalives
        )?;
        if self.errors > 0 {
            write!(f, " ({} failed)", self.errors)?;
        }
        Ok(())
    }
}

/// The running petting thread. Dropping it without [`Petter::stop`]
/// stops petting too (the device then resets the node).
#[derive(Debug)]
pub struct Petter {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Watchdog>,
    stats: Arc<Mutex<GapStats>>,
}

/// Sets SCHED_FIFO with `priority` on the calling thread.
pub fn set_realtime(priority: u8) -> Result<(), nix::errno::Errno> {
    let param = nix::libc::sched_param { sched_priority: i32::from(priority) };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
    let rc = unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_FIFO, &param) };
    nix::errno::Errno::result(rc).map(drop)
}

/// Locks the process's memory now and in future (a petting thread that
/// waits for a page-in under memory pressure can miss its time).
pub fn lock_memory() -> Result<(), nix::errno::Errno> {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
}

impl Petter {
    /// Starts petting `dog` every `interval`, with SCHED_FIFO `priority`
    /// when given (a failure to get it is logged, not fatal).
    pub fn start(dog: Watchdog, interval: Duration, priority: Option<u8>) -> std::io::Result<Petter> {
        let (stop, stopped) = mpsc::channel();
        let stats = Arc::new(Mutex::new(GapStats::default()));
        let shared = stats.clone();
        let thread = std::thread::Builder::new().name("pet".into()).stack_size(crate::monitor::THREAD_STACK).spawn(
            move || {
                if let Some(priority) = priority {
                    match set_realtime(priority) {
                        Ok(()) => tracing::info!("petting thread runs with SCHED_FIFO priority {priority}"),
                        Err(e) => tracing::warn!("petting thread keeps normal priority: SCHED_FIFO refused: {e}"),
                    }
                }
                pet(&dog, interval, &stopped, &shared);
                dog
            },
        )?;
        Ok(Petter { stop, thread, stats })
    }

    /// The figures so far.
    pub fn stats(&self) -> GapStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops petting and hands the still-open device back: the caller
    /// closes it with the magic character, or keeps it and lets it reset.
    pub fn stop(self) -> (Watchdog, GapStats) {
        let _ = self.stop.send(());
        let dog = self.thread.join().expect("the petting thread does not panic");
        let stats = *self.stats.lock().unwrap_or_else(|p| p.into_inner());
        (dog, stats)
    }
}

fn pet(dog: &Watchdog, interval: Duration, stopped: &mpsc::Receiver<()>, stats: &Mutex<GapStats>) {
    let mut next = Instant::now();
    let mut last: Option<Instant> = None;
    loop {
        match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let result = dog.keepalive();
        let now = Instant::now();
        let gap = last.map(|l| now - l);
        {
            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
            match &result {
                Ok(()) => {
                    s.keepalives += 1;
                    s.worst_gap = s.worst_gap.max(gap.unwrap_or_default());
                }
                Err(_) => s.errors += 1,
            }
        }
        // Log outside the lock: a slow console must not hold up readers.
        match result {
            Ok(()) => {
                if let Some(gap) = gap.filter(|g| *g > interval * 2) {
                    tracing::warn!("petting was late: {} since the last keepalive", show_duration(gap));
                }
                last = Some(now);
            }
            Err(e) => tracing::error!("{e}"),
        }
        next += interval;
        if next < now {
            // Overslept (suspend, stall): restart the schedule from now.
            next = now + interval;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pets_on_schedule_and_hands_the_device_back() {
        // A plain file stands in for the device: keepalives fail with
        // ENOTTY, which counts as errors on the same schedule.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dog");
        std::fs::write(&path, b"").unwrap();
        let started = Instant::now();
        let petter = Petter::start(Watchdog::open(&path).unwrap(), Duration::from_millis(20), None).unwrap();
        std::thread::sleep(Duration::from_millis(210));
        let (dog, stats) = petter.stop();
        // It petted, and never faster than its schedule (however slow the machine).
        let due = (started.elapsed().as_millis() / 20) as u64 + 1;
        assert!(stats.errors >= 1 && stats.errors <= due, "{stats:?}, at most {due} due");
        assert_eq!(stats.keepalives, 0);
        assert_eq!(dog.path(), path);
        assert!(stats.to_string().ends_with(&format!("over 0 keepalives ({} failed)", stats.errors)), "{stats}");
    }

    #[test]
    fn stats_print_in_milliseconds() {
        let s = GapStats { keepalives: 20, errors: 0, worst_gap: Duration::from_micros(1_000_450) };
        assert_eq!(s.to_string(), "worst petting gap 1000.5 ms over 20 keepalives");
    }
}
