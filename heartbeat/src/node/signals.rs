//! Graceful stop on SIGTERM, SIGINT or SIGHUP: the signals are blocked in
//! every thread and one thread waits for them. Child processes (resource
//! scripts, fence agents) start with an empty signal mask again.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

fn termination_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set
}

/// Blocks the termination signals in the calling thread (and the threads
/// it starts afterwards). Call it before starting threads.
pub fn block_termination() {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&termination_signals()), None);
}

/// Calls `on_signal` for every termination signal received.
pub fn spawn_waiter(on_signal: impl Fn() + Send + 'static) {
    std::thread::spawn(move || {
        let set = termination_signals();
        loop {
            match set.wait() {
                Ok(Signal::SIGHUP) => {
                    tracing::warn!(
                        "SIGHUP: re-reading the configuration is not supported; restart the node to apply changes"
                    )
                }
                Ok(_) => on_signal(),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    });
}
