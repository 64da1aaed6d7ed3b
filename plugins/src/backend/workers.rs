//! A fixed set of threads that run blocking backend calls, each call with a
//! deadline for its answer.
//!
//! A hypervisor that stops answering (e.g. `libvirtd` stopped) hangs the
//! thread that called it. Calls therefore run on a fixed number of worker
//! threads behind a bounded queue: the caller waits for the answer only
//! until its deadline, a hung call occupies one worker and nothing more,
//! and a queued call whose caller has given up is skipped. Threads never
//! pile up, and callers always get an answer in time.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

type Job = Box<dyn FnOnce() + Send>;

/// Why a call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The deadline passed before the call finished (or started).
    NoAnswer,
    /// Every worker is busy and the queue is full.
    Busy,
}

/// The worker threads and their queue. Dropping it lets idle workers exit;
/// a worker stuck in a call exits once the call returns.
pub struct Workers {
    queue: SyncSender<Job>,
}

impl Workers {
    /// Starts `threads` workers (named `name-N`) behind a queue of `queue_len` calls.
    pub fn new(name: &str, threads: usize, queue_len: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_len);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            thread::Builder::new().name(format!("{name}-{i}")).spawn(move || work(&jobs))?;
        }
        Ok(Workers { queue })
    }

    /// Runs `f` on a worker and waits for its result until `deadline`.
    pub fn call<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CallError> {
        let (answer, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // Nobody waits any more: do not touch the hypervisor for nothing.
            if Instant::now() < deadline {
                let _ = answer.send(f());
            }
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(CallError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(CallError::NoAnswer),
        }
        match result.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Err(CallError::NoAnswer),
        }
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn hung_calls_cost_one_worker_each_and_callers_get_answers_in_time() {
        let workers = Workers::new("t", 2, 4).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let started = Arc::new(AtomicUsize::new(0));
        let hang = || {
            let gate = gate.clone();
            let started = started.clone();
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = gate.lock().unwrap().recv();
            }
        };
        let deadline = || Instant::now() + Duration::from_millis(100);
        // Both workers hang; the next calls queue, then time out.
        assert_eq!(workers.call(deadline(), hang()), Err(CallError::NoAnswer));
        assert_eq!(workers.call(deadline(), hang()), Err(CallError::NoAnswer));
        let begun = Instant::now();
        for _ in 0..4 {
            assert_eq!(workers.call(deadline(), hang()), Err(CallError::NoAnswer));
        }
        assert!(begun.elapsed() < Duration::from_secs(5));
        // The queue holds 4 abandoned calls: the next one is refused at once.
        assert_eq!(workers.call(deadline(), || 1), Err(CallError::Busy));
        // The hypervisor answers again: hung calls return, abandoned ones are skipped.
        release.send(()).unwrap();
        release.send(()).unwrap();
        // (The skipped calls leave the queue as the workers come free.)
        let answer = (0..500).find_map(|_| match workers.call(Instant::now() + Duration::from_secs(5), || 7) {
            Err(CallError::Busy) => {
                thread::sleep(Duration::from_millis(10));
                None
            }
            other => Some(other),
        });
        assert_eq!(answer, Some(Ok(7)));
        assert_eq!(started.load(Ordering::SeqCst), 2, "abandoned calls never ran");
    }
}
