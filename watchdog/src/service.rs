//! The `fence-watchdog` service: opens the device, pets it on its own
//! thread while every health check passes, and reacts to signals.
//!
//! - A check that fails beyond its grace is logged with its reason, the
//!   repair command (if any) runs once, then petting stops and the device
//!   stays open, so the hardware resets the node.
//! - SIGTERM/SIGINT close the device with the magic character (unless the
//!   driver has `nowayout` and the config says to keep petting).
//! - SIGUSR1 logs the petting figures; they are also logged every minute
//!   at debug level and on exit.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::checks;
use crate::config::{show_duration, Config, NowayoutPolicy};
use crate::device::{Options, Watchdog};
use crate::feed::{FeedBoard, FeedServer};
use crate::monitor::{Fatal, Monitor, Scheduled};
use crate::pet::{lock_memory, GapStats, Petter};

/// How often the petting figures are logged at debug level.
const STATS_EVERY: Duration = Duration::from_secs(60);

/// What the service loop reacts to.
#[derive(Debug)]
enum Event {
    Signal(Signal),
    Failed(Fatal),
}

fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGUSR1] {
        set.add(s);
    }
    set
}

/// Runs the service until SIGTERM/SIGINT (returns `Ok`), or forever once
/// a check has failed (the node resets).
pub fn run(config: &Config) -> anyhow::Result<()> {
    let feeders: Vec<(&str, u32)> = config
        .checks
        .iter()
        .filter_map(|c| match &c.kind {
            crate::config::CheckKind::Feeder { name, uid } => Some((name.as_str(), *uid)),
            _ => None,
        })
        .collect();
    let board = FeedBoard::new(feeders.iter().copied());
    let server = if feeders.is_empty() { None } else { Some(FeedServer::bind(&config.feed_socket, &board)?) };
    let bound = server.is_some();
    let result = start_and_serve(config, &board, server);
    if bound {
        // The feed thread owns the socket and never returns: tidy up here.
        let _ = std::fs::remove_file(&config.feed_socket);
    }
    result
}

fn start_and_serve(config: &Config, board: &Arc<FeedBoard>, server: Option<FeedServer>) -> anyhow::Result<()> {
    // Blocked here, the signals stay blocked in every thread started
    // below and are taken by the signal thread alone.
    let signals = handled_signals();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), None).context("block signals")?;
    if config.realtime {
        match lock_memory() {
            Ok(()) => tracing::debug!("memory locked"),
            Err(e) => tracing::warn!("cannot lock memory (mlockall: {e}); petting may stall under memory pressure"),
        }
    }
    let (events, inbox) = mpsc::channel();
    spawn_signal_thread(signals, events.clone())?;
    if let Some(server) = server {
        let board = board.clone();
        tracing::info!("clients feed through {}", server.path().display());
        std::thread::Builder::new()
            .name("feed".into())
            .stack_size(crate::monitor::THREAD_STACK)
            .spawn(move || {
                let e = server.serve(&board);
                tracing::error!("feed socket {}: {e}; feeders will time out", server.path().display());
            })
            .context("cannot start the feed thread")?;
    }

    let dog = Watchdog::open(&config.device)?;
    let nowayout = dog.nowayout();
    if let Err(e) = arm(&dog, config, nowayout) {
        // Not started: stop the timer that opening started.
        let _ = dog.magic_close();
        return Err(e);
    }
    let petter = Petter::start(dog, config.interval, config.realtime.then_some(config.priority))
        .context("cannot start the petting thread")?;
    let scheduled = config
        .checks
        .iter()
        .map(|spec| Scheduled {
            name: match &spec.origin {
                Some(origin) => format!("{} ({origin})", spec.kind),
                None => spec.kind.to_string(),
            },
            check: checks::build(spec, board),
            interval: spec.interval,
            grace: spec.grace,
        })
        .collect();
    let monitor = match Monitor::start(scheduled, move |fatal| {
        let _ = events.send(Event::Failed(fatal));
    }) {
        Ok(monitor) => monitor,
        Err(e) => {
            let (dog, _) = petter.stop();
            let _ = dog.magic_close();
            return Err(anyhow::Error::new(e).context("cannot start the check threads"));
        }
    };
    tracing::info!("{} health checks running", config.checks.len());
    plumbing::service_manager::ready(&format!(
        "petting {} every {}, {} health checks",
        config.device.display(),
        show_duration(config.interval),
        config.checks.len()
    ));
    serve(config, nowayout, petter, monitor, &inbox)
}

/// Sets the timeout and logs what the device is; refuses a timeout the
/// petting interval cannot keep.
fn arm(dog: &Watchdog, config: &Config, nowayout: Option<bool>) -> anyhow::Result<()> {
    let info = dog.info()?;
    let timeout = if info.options.contains(Options::SETTIMEOUT) {
        let chosen = dog.set_timeout(config.timeout)?;
        if chosen != config.timeout {
            tracing::warn!("{} chose a timeout of {chosen} s instead of {} s", dog.path().display(), config.timeout);
        }
        chosen
    } else {
        let fixed = dog.timeout().unwrap_or(0);
        tracing::warn!("{} cannot set its timeout; it stays at {fixed} s", dog.path().display());
        fixed
    };
    if timeout > 0 && config.interval >= Duration::from_secs(timeout.into()) {
        bail!(
            "{}: the timeout is {timeout} s, not longer than the petting interval ({}); refusing to start",
            dog.path().display(),
            show_duration(config.interval)
        );
    }
    tracing::info!(
        "watchdog {} (\"{}\", options: {}): timeout {timeout} s, petting every {}",
        dog.path().display(),
        info.identity,
        info.options,
        show_duration(config.interval)
    );
    if nowayout == Some(true) {
        let then = match config.nowayout_sigterm {
            NowayoutPolicy::KeepPetting => "SIGTERM will keep petting",
            NowayoutPolicy::Exit => "SIGTERM will stop petting and the node will reset",
        };
        tracing::warn!("the driver has nowayout set: the watchdog cannot be stopped; {then}");
    }
    Ok(())
}

fn spawn_signal_thread(signals: SigSet, events: mpsc::Sender<Event>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("signals".into())
        .stack_size(crate::monitor::THREAD_STACK)
        .spawn(move || loop {
            match signals.wait() {
                Ok(signal) => {
                    if events.send(Event::Signal(signal)).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::error!("sigwait: {e}"),
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// The service loop.
fn serve(
    config: &Config,
    nowayout: Option<bool>,
    petter: Petter,
    monitor: Monitor,
    inbox: &mpsc::Receiver<Event>,
) -> anyhow::Result<()> {
    let device = config.device.display().to_string();
    let mut petter = Some(petter);
    let mut monitor = Some(monitor);
    // Held open without petting once a check failed.
    let mut held: Option<(Watchdog, GapStats)> = None;
    // systemd's WatchdogSec= watches this loop, not the petting: a service
    // that stopped petting on purpose stays "alive", so systemd never
    // restarts it into petting again and hides the reset it must cause.
    let keep_alive_every = plumbing::service_manager::keep_alive_interval();
    let wake_every = keep_alive_every.map_or(STATS_EVERY, |k| k.min(STATS_EVERY));
    let mut next_stats = Instant::now() + STATS_EVERY;
    loop {
        if keep_alive_every.is_some() {
            plumbing::service_manager::keep_alive();
        }
        let event = match inbox.recv_timeout(wake_every) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                if Instant::now() >= next_stats {
                    next_stats = Instant::now() + STATS_EVERY;
                    if let Some(p) = &petter {
                        tracing::debug!("{}", p.stats());
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the signal and check threads are gone"),
        };
        match event {
            Event::Signal(Signal::SIGUSR1) => match (&petter, &held) {
                (Some(p), _) => tracing::info!("{}", p.stats()),
                (None, Some((_, stats))) => tracing::info!("{stats}; petting stopped"),
                (None, None) => {}
            },
            Event::Signal(Signal::SIGHUP) => {
                tracing::info!("SIGHUP ignored: restart the service to read its configuration")
            }
            Event::Signal(signal) => {
                let Some(p) = petter.take() else {
                    tracing::warn!("{signal} ignored: a health check failed and the node is about to reset");
                    continue;
                };
                if nowayout == Some(true) && config.nowayout_sigterm == NowayoutPolicy::KeepPetting {
                    tracing::warn!(
                        "{signal}: {device} has nowayout set, so stopping would reset the node; petting goes on \
                         (set nowayout-sigterm = \"exit\" in the configuration to stop anyway)"
                    );
                    petter = Some(p);
                    continue;
                }
                drop(monitor.take());
                let (dog, stats) = p.stop();
                tracing::info!("{signal}: stopping; {stats}");
                plumbing::service_manager::stopping();
                dog.magic_close()?;
                if nowayout == Some(true) {
                    tracing::warn!("closed {device}, but nowayout is set: the node resets within {} s", config.timeout);
                } else {
                    tracing::info!("closed {device} with the magic character: the watchdog is stopped");
                }
                return Ok(());
            }
            Event::Failed(fatal) => {
                tracing::error!("health check failed: {}: {}", fatal.check, fatal.failure.reason);
                if petter.is_none() {
                    continue;
                }
                drop(monitor.take());
                if let Some(repair) = &config.repair {
                    repair_once(repair, &fatal, config.repair_timeout);
                }
                if let Some(p) = petter.take() {
                    let (dog, stats) = p.stop();
                    tracing::error!(
                        "stopped petting {device}: the node resets within {} s; {stats}",
                        dog.timeout().unwrap_or(config.timeout)
                    );
                    held = Some((dog, stats));
                }
            }
        }
    }
}

/// Runs the repair command once: `REPAIR CODE`, with the check and the
/// reason in `FENCE_WATCHDOG_CHECK` and `FENCE_WATCHDOG_REASON`.
fn repair_once(repair: &crate::config::CommandLine, fatal: &Fatal, timeout: Duration) {
    tracing::info!("running the repair command `{repair}`");
    let env =
        [("FENCE_WATCHDOG_CHECK", fatal.check.as_str()), ("FENCE_WATCHDOG_REASON", fatal.failure.reason.as_str())];
    match crate::command::run(repair, &[fatal.failure.code.to_string()], &env, timeout) {
        Ok(()) => tracing::info!("the repair command finished; petting stops all the same"),
        Err(f) => tracing::warn!("the repair command failed: {}", f.reason),
    }
}
