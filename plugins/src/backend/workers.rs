//! A fixed set of threads that run blocking backend calls, each call with a
//! deadline for its answer.
//!
//! A hypervisor that stops answering (e.g. `libvirtd` stopped) hangs the
//! thread that called it. Calls therefore run on worker threads behind a
//! bounded queue: the caller waits for the answer only until its deadline,
//! a hung call occupies one worker and nothing more, and a queued call whose
//! caller has given up is skipped. Workers are started on demand — a call
//! that finds none idle starts one, up to a fixed maximum — so calls that
//! legitimately take seconds (destroying a real guest) run side by side,
//! while threads never pile up beyond the maximum.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    jobs: Arc<Mutex<Receiver<Job>>>,
    name: String,
    max_threads: usize,
    started: AtomicUsize,
    idle: Arc<AtomicUsize>,
    waiting: Arc<AtomicUsize>,
}

impl Workers {
    /// Workers named `name-N`, at most `max_threads` of them (one started
    /// now, more on demand), behind a queue of `queue_len` calls.
    pub fn new(name: &str, max_threads: usize, queue_len: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_len);
        let workers = Workers {
            queue,
            jobs: Arc::new(Mutex::new(jobs)),
            name: name.to_string(),
            max_threads: max_threads.max(1),
            started: AtomicUsize::new(0),
            idle: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
        };
        workers.start_one()?;
        Ok(workers)
    }

    /// Worker threads started so far.
    pub fn threads(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn start_one(&self) -> std::io::Result<()> {
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        let (jobs, idle, waiting) = (self.jobs.clone(), self.idle.clone(), self.waiting.clone());
        idle.fetch_add(1, Ordering::SeqCst);
        let spawned =
            thread::Builder::new().name(format!("{}-{n}", self.name)).spawn(move || work(&jobs, &idle, &waiting));
        if spawned.is_err() {
            self.started.fetch_sub(1, Ordering::SeqCst);
            self.idle.fetch_sub(1, Ordering::SeqCst);
        }
        spawned.map(drop)
    }

    /// Counts one more call waiting for a worker, and starts another worker
    /// when the calls waiting outnumber the idle workers and the maximum
    /// allows.
    fn grow_if_all_busy(&self) {
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        if waiting > self.idle.load(Ordering::SeqCst) && self.started.load(Ordering::SeqCst) < self.max_threads {
            if let Err(e) = self.start_one() {
                tracing::warn!("could not start another {} worker: {e}", self.name);
            }
        }
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
        self.grow_if_all_busy();
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(e) => {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(match e {
                    TrySendError::Full(_) => CallError::Busy,
                    TrySendError::Disconnected(_) => CallError::NoAnswer,
                });
            }
        }
        match result.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Err(CallError::NoAnswer),
        }
    }
}

/// A worker: counted idle while it waits for the next call.
fn work(jobs: &Mutex<Receiver<Job>>, idle: &AtomicUsize, waiting: &AtomicUsize) {
    loop {
        let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        idle.fetch_sub(1, Ordering::SeqCst);
        if next.is_ok() {
            waiting.fetch_sub(1, Ordering::SeqCst);
        }
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
        idle.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(workers.threads(), 2, "never more threads than the maximum");
    }

    #[test]
    fn long_calls_run_side_by_side_on_workers_started_on_demand() {
        // Six calls that can only finish together: each waits for all six
        // to have started. Run one after another, none would finish.
        let workers = Arc::new(Workers::new("t", 8, 8).unwrap());
        assert_eq!(workers.threads(), 1, "one worker until more are needed");
        let together = Arc::new(std::sync::Barrier::new(6));
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let (workers, together) = (workers.clone(), together.clone());
                thread::spawn(move || {
                    workers.call(Instant::now() + Duration::from_secs(20), move || {
                        together.wait();
                        i
                    })
                })
            })
            .collect();
        let answers: Vec<_> = calls.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(answers, (0..6).map(Ok).collect::<Vec<_>>());
        assert!((6..=8).contains(&workers.threads()), "{} workers", workers.threads());
    }
}
