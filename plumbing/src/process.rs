//! Running a helper program (resource script, OCF agent, fence agent) with
//! a deadline.
//!
//! The program runs in a process group of its own, with stdin from the
//! given bytes (or `/dev/null`) and stdout/stderr captured. When the
//! deadline passes the whole group is killed with SIGKILL, so a hung script
//! cannot block the cluster. After the program exits, output still arriving
//! is collected for a short grace period only: a daemon started by a start
//! script that keeps the inherited pipe open cannot stall us. A run can be
//! cancelled from another thread ([`Cancel`]): its process group is killed
//! at once, before [`Cancel::cancel`] returns.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

/// How much of each output stream is kept (the rest is read and dropped).
pub const MAX_CAPTURE: usize = 64 * 1024;
/// How long output is still collected after the program has exited.
const EXIT_GRACE: Duration = Duration::from_millis(100);
/// Longest single wait between checks of the child.
const TICK: Duration = Duration::from_millis(20);

/// A finished run.
#[derive(Debug, Clone)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Captured stdout (lossily decoded, at most [`MAX_CAPTURE`] bytes).
    pub stdout: String,
    /// Captured stderr (likewise).
    pub stderr: String,
}

impl Output {
    /// The exit code, or `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Why a run did not produce an [`Output`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn { program: PathBuf, source: io::Error },
    /// The deadline passed; the process group was killed.
    #[error("{program} did not finish within {} ms and was killed", timeout.as_millis())]
    Timeout { program: PathBuf, timeout: Duration },
    /// Waiting for the program failed.
    #[error("waiting for {program} failed: {source}")]
    Wait { program: PathBuf, source: io::Error },
    /// [`Cancel::cancel`] was called; the process group was killed.
    #[error("{program} was cancelled and killed")]
    Cancelled { program: PathBuf },
}

/// Lets another thread stop a run: [`Cancel::cancel`] kills the run's
/// process group (SIGKILL) before it returns, and a run started after it
/// is killed as soon as it is spawned. Clones share the run.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Mutex<CancelState>>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: bool,
    /// The running child's process group, while the child is not reaped
    /// (so the id cannot have been reused).
    group: Option<Pid>,
}

impl Cancel {
    /// A token for one run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Kills the run's process group now (or the run at its start).
    pub fn cancel(&self) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.cancelled = true;
        if let Some(group) = state.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).cancelled
    }

    /// Records the spawned child; kills it at once when already cancelled.
    fn attach(&self, child: &Child) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let group = Pid::from_raw(child.id() as i32);
        state.group = Some(group);
        if state.cancelled {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }

    /// `try_wait` under the lock: once the child is reaped its group id is
    /// forgotten, so `cancel` never signals a reused id.
    fn try_wait(&self, child: &mut Child) -> io::Result<Option<ExitStatus>> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let status = child.try_wait()?;
        if status.is_some() {
            state.group = None;
        }
        Ok(status)
    }
}

/// Makes `command`'s child start with no signal blocked and under the
/// normal scheduling policy, whatever the spawning thread has. A daemon
/// that takes its termination signals on one thread blocks them in every
/// thread, and a child inherits the spawning thread's mask (std does not
/// clear it): a service a script starts would ignore `kill`. A realtime
/// node (heartbeat's `realtime`) must not hand SCHED_FIFO to its scripts.
pub fn child_defaults(command: &mut Command) {
    // SAFETY: runs in the forked child before exec; pthread_sigmask and
    // sched_setscheduler are async-signal-safe system calls that touch no
    // memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(io::Error::from)?;
            let param = nix::libc::sched_param { sched_priority: 0 };
            if nix::libc::sched_setscheduler(0, nix::libc::SCHED_OTHER, &param) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `command` to completion or until `timeout`, feeding it `input` on
/// stdin (none: `/dev/null`).
pub fn run(command: Command, input: Option<&[u8]>, timeout: Duration) -> Result<Output, RunError> {
    run_cancellable(command, input, timeout, &Cancel::new())
}

/// [`run`], ended early (process group killed) when `cancel` is cancelled.
pub fn run_cancellable(
    mut command: Command,
    input: Option<&[u8]>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<Output, RunError> {
    let program = PathBuf::from(command.get_program());
    command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    child_defaults(&mut command);
    let deadline = Instant::now() + timeout;
    let mut child = spawn(&mut command).map_err(|source| RunError::Spawn { program: program.clone(), source })?;
    cancel.attach(&child);

    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        // A thread, so an agent that does not read its stdin cannot block us;
        // it ends when the data is written or the pipe closes.
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let mut pipes =
        Pipes { stdout: child.stdout.take(), stderr: child.stderr.take(), out: Vec::new(), err: Vec::new() };

    let status = loop {
        match cancel.try_wait(&mut child) {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => return Err(RunError::Wait { program, source }),
        }
        if cancel.is_cancelled() {
            // `cancel` killed the group; reap the child.
            let _ = child.wait();
            return Err(RunError::Cancelled { program });
        }
        let now = Instant::now();
        if now >= deadline {
            // The group id is the child's pid; the child is not yet reaped,
            // so the id cannot have been reused.
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            return Err(RunError::Timeout { program, timeout });
        }
        pipes.read_ready((deadline - now).min(TICK));
    };

    if cancel.is_cancelled() {
        return Err(RunError::Cancelled { program });
    }
    let grace_end = Instant::now() + EXIT_GRACE;
    while pipes.open() {
        let now = Instant::now();
        if now >= grace_end {
            break;
        }
        pipes.read_ready((grace_end - now).min(TICK));
    }
    Ok(Output {
        status,
        stdout: String::from_utf8_lossy(&pipes.out).into_owned(),
        stderr: String::from_utf8_lossy(&pipes.err).into_owned(),
    })
}

/// Spawns, retrying briefly on ETXTBSY: a script that was just written
/// (by an operator, or a test) can be reported busy while another thread's
/// freshly forked child still holds its write descriptor.
fn spawn(command: &mut Command) -> io::Result<std::process::Child> {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) && attempts < 5 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The child's output pipes and what was read from them.
struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Pipes {
    fn open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Waits up to `wait` for output and reads what is there; a pipe at
    /// end-of-file is closed. With no pipe open this just sleeps.
    fn read_ready(&mut self, wait: Duration) {
        let ms = PollTimeout::from(wait.as_millis().min(u128::from(u16::MAX)) as u16);
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(p) = &self.stdout {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if let Some(p) = &self.stderr {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if fds.is_empty() {
                std::thread::sleep(wait);
                return;
            }
            if poll(&mut fds, ms).is_err() {
                return; // EINTR: the caller loops
            }
            let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
            match (self.stdout.is_some(), self.stderr.is_some()) {
                (true, true) => (ready[0], ready[1]),
                (true, false) => (ready[0], false),
                _ => (false, ready[0]),
            }
        };
        if out_ready {
            read_once(&mut self.stdout, &mut self.out);
        }
        if err_ready {
            read_once(&mut self.stderr, &mut self.err);
        }
    }
}

/// One read from a pipe that poll reported ready (so it does not block);
/// closes the pipe at end-of-file or on error.
fn read_once<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) {
    let Some(reader) = pipe else { return };
    let mut chunk = [0u8; 8192];
    match reader.read(&mut chunk) {
        Ok(0) => *pipe = None,
        Ok(n) => {
            let room = MAX_CAPTURE.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..n.min(room)]);
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(_) => *pipe = None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn captures_exit_code_stdout_and_stderr() {
        let out = run(sh("echo hello; echo oops >&2; exit 3"), None, Duration::from_secs(10)).unwrap();
        assert_eq!(out.code(), Some(3));
        assert_eq!(out.stdout, "hello\n");
        assert_eq!(out.stderr, "oops\n");
    }

    #[test]
    fn feeds_stdin() {
        let out = run(sh("cat"), Some(b"action=reboot\nplug=vm1\n"), Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout, "action=reboot\nplug=vm1\n");
        assert_eq!(out.code(), Some(0));
    }

    #[test]
    fn stdin_is_empty_without_input() {
        let out = run(sh("wc -c"), None, Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout.trim(), "0");
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        // The grandchild would create the marker after 2 s unless killed.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let err = run(sh(&script), None, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert_eq!(err.to_string(), "/bin/sh did not finish within 300 ms and was killed");
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a process of the group survived the timeout");
    }

    #[test]
    fn a_background_process_holding_the_pipe_does_not_stall_the_run() {
        // Like a start script launching a daemon that keeps stdout open.
        let started = Instant::now();
        let out = run(sh("echo started; setsid sleep 5 & exit 0"), None, Duration::from_secs(10)).unwrap();
        assert_eq!(out.code(), Some(0));
        assert_eq!(out.stdout, "started\n");
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }

    #[test]
    fn children_start_with_no_signal_blocked() {
        // The node blocks its termination signals in every thread; a
        // resource script or agent must not inherit that (a `kill` of a
        // service it started would do nothing).
        let handle = std::thread::spawn(|| {
            let mut set = nix::sys::signal::SigSet::empty();
            set.add(nix::sys::signal::Signal::SIGTERM);
            set.add(nix::sys::signal::Signal::SIGHUP);
            nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&set), None).unwrap();
            // grep itself, not through a shell: dash clears the mask at start, hiding the bug.
            let mut grep = Command::new("grep");
            grep.args(["SigBlk", "/proc/self/status"]);
            run(grep, None, Duration::from_secs(5)).unwrap()
        });
        let out = handle.join().unwrap();
        let text = out.stdout.clone();
        assert_eq!(text.split_whitespace().nth(1), Some("0000000000000000"), "{text}");
    }

    #[test]
    fn cancel_kills_the_whole_group_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        let started_file = dir.path().join("started");
        let script = format!("(sleep 1; touch {}) & touch {}; sleep 30", marker.display(), started_file.display());
        let cancel = Cancel::new();
        let runner = {
            let cancel = cancel.clone();
            std::thread::spawn(move || run_cancellable(sh(&script), None, Duration::from_secs(60), &cancel))
        };
        while !started_file.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        cancel.cancel();
        // Killed by the time cancel() returned: the grandchild never touches the marker.
        let err = runner.join().unwrap().unwrap_err();
        assert!(matches!(err, RunError::Cancelled { .. }), "{err}");
        assert_eq!(err.to_string(), "/bin/sh was cancelled and killed");
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "a process of the group survived the cancel");
    }

    #[test]
    fn a_run_cancelled_before_it_starts_is_killed_at_once() {
        let cancel = Cancel::new();
        cancel.cancel();
        let err = run_cancellable(sh("sleep 30"), None, Duration::from_secs(60), &cancel).unwrap_err();
        assert!(matches!(err, RunError::Cancelled { .. }), "{err}");
    }

    #[test]
    fn children_of_a_realtime_thread_run_under_the_normal_policy() {
        if !nix::unistd::Uid::effective().is_root() {
            // CI runs as root: a skip there would hide a failure.
            assert!(std::env::var_os("CI").is_none(), "setting SCHED_FIFO needs root, and CI runs as root");
            eprintln!("SKIP: setting SCHED_FIFO needs root");
            return;
        }
        let policy_of_child = |reset: bool| {
            std::thread::spawn(move || {
                let param = nix::libc::sched_param { sched_priority: 10 };
                // SAFETY: as in `enter`.
                assert_eq!(unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_FIFO, &param) }, 0);
                let mut c = Command::new("sh");
                c.args(["-c", "cut -d' ' -f41 /proc/self/stat"]);
                if reset {
                    child_defaults(&mut c);
                }
                String::from_utf8(c.output().unwrap().stdout).unwrap().trim().to_string()
            })
            .join()
            .unwrap()
        };
        // Field 41 of /proc/PID/stat is the policy: 0 SCHED_OTHER, 1 SCHED_FIFO.
        assert_eq!(policy_of_child(false), "1", "without the reset the child inherits SCHED_FIFO");
        assert_eq!(policy_of_child(true), "0");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run(Command::new("/nonexistent/agent"), None, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, RunError::Spawn { .. }));
        assert!(err.to_string().starts_with("cannot run /nonexistent/agent: "), "{err}");
    }

    #[test]
    fn output_is_capped() {
        let out = run(sh("head -c 200000 /dev/zero"), None, Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout.len(), MAX_CAPTURE);
        assert_eq!(out.code(), Some(0));
    }

    #[test]
    fn killed_by_a_signal_has_no_code() {
        let out = run(sh("kill -9 $$"), None, Duration::from_secs(10)).unwrap();
        assert_eq!(out.code(), None);
    }
}
