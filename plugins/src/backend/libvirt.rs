//! The libvirt backend, through the `virt` crate.
//!
//! Each configured URI has one owner (module `owner`), the only holder of
//! its connection: calls borrow it, and when a call finds it dead (e.g.
//! libvirtd restarted) the owner reopens it once and the call is retried
//! once so the request is not lost. Calls run on the backend's own worker
//! threads ([`Workers`]: started on demand up to a maximum, behind a bounded
//! queue), so reboots of different guests run side by side; every call has
//! a deadline for its answer: a libvirtd that stops answering costs one
//! worker per hung call, and the caller gets [`BackendError::NoAnswer`] in
//! time.
//!
//! Calls are single steps (module `domains`); waiting for a domain to stop
//! or run again (`on`, `reboot`) happens between them, on the caller's
//! side: woken by the domain's lifecycle events where the driver has them
//! (module `events` says which do), by polling its state otherwise.

mod domains;
mod events;
mod link;
mod owner;

use std::sync::Arc;
use std::time::{Duration, Instant};

use plumbing::poll::{try_poll_until, Backoff};
use protocol::HostRecord;
use virt::connect::Connect;
use virt::domain::Domain;

use self::domains::Changed;
use self::events::{Board, Lifecycle};
use self::owner::{Owner, Session};
use super::workers::{CallError, Workers};
use super::{Backend, BackendError, DomainId, Power, RebootMethod};

/// Default of `backends/libvirt/timeout`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Threads that talk to libvirt, at most (started on demand): as many as
/// requests may be in flight, so reboots of real guests (seconds each) run
/// side by side, and a hung libvirtd costs no more than this many threads.
const WORKER_THREADS: usize = 64;
/// Calls waiting for a worker, at most; more are refused at once.
const QUEUE_LEN: usize = 64;
/// While waiting for a lifecycle event, the domain's state is also checked
/// this often, in case the event was lost (e.g. the connection was reopened).
const EVENT_SAFETY_CHECK: Duration = Duration::from_secs(1);

/// Backend settings from `backends/libvirt`.
#[derive(Debug, Clone)]
pub struct LibvirtConfig {
    /// `uri`, `uri1`, `uri2`, … in order.
    pub uris: Vec<String>,
    /// `reboot_method` (our extension).
    pub reboot_method: RebootMethod,
    /// `timeout` (our extension): how long lookup, off, status, monitor and
    /// list may wait for libvirt. `on` and `reboot` wait until the deadline
    /// the caller gives.
    pub call_timeout: Duration,
}

/// libvirt domains on one or more hypervisor connections.
pub struct LibvirtBackend {
    /// One per URI that could be opened at start, in configuration order.
    owners: Vec<Arc<Owner>>,
    board: Arc<Board>,
    workers: Workers,
    reboot_method: RebootMethod,
    call_timeout: Duration,
}

/// One backend call as its caller sees it: what, on what, until when.
struct Call {
    operation: &'static str,
    target: String,
    deadline: Instant,
    /// How long the caller waits in all, in whole seconds.
    limit_secs: u64,
}

impl Call {
    fn new(operation: &'static str, target: &str, deadline: Instant) -> Call {
        let limit = deadline.saturating_duration_since(Instant::now());
        Call { operation, target: target.to_string(), deadline, limit_secs: limit.as_secs_f64().round() as u64 }
    }

    fn refused(&self, why: CallError) -> BackendError {
        let (operation, target) = (self.operation, self.target.clone());
        match why {
            CallError::NoAnswer => BackendError::NoAnswer { operation, target, limit_secs: self.limit_secs },
            CallError::Busy => BackendError::Unavailable(format!(
                "{operation} of '{target}' refused: all {WORKER_THREADS} libvirt threads are busy and {QUEUE_LEN} calls wait"
            )),
        }
    }

    fn timed_out(&self, operation: &'static str) -> BackendError {
        BackendError::Timeout { operation, domain: self.target.clone() }
    }
}

impl LibvirtBackend {
    /// Opens every configured URI. Fails only if none can be opened.
    pub fn connect(config: LibvirtConfig) -> Result<Self, BackendError> {
        // Before any connection: the remote driver binds to the event loop
        // registered when it connects.
        events::start_event_loop();
        let board = Arc::new(Board::default());
        let mut owners = Vec::new();
        let mut errors = Vec::new();
        for uri in &config.uris {
            match Owner::open(uri, board.clone()) {
                Ok(owner) => owners.push(Arc::new(owner)),
                Err(e) => errors.push(e),
            }
        }
        if owners.is_empty() {
            return Err(owner::unreachable(&errors));
        }
        for e in errors {
            tracing::warn!("libvirt: {e}");
        }
        let workers = Workers::new("libvirt", WORKER_THREADS, QUEUE_LEN)
            .map_err(|e| BackendError::Unavailable(format!("cannot start the libvirt worker threads: {e}")))?;
        Ok(LibvirtBackend {
            owners,
            board,
            workers,
            reboot_method: config.reboot_method,
            call_timeout: config.call_timeout,
        })
    }

    /// A call with the configured `timeout`.
    fn quick(&self, operation: &'static str, target: &str) -> Call {
        Call::new(operation, target, Instant::now() + self.call_timeout)
    }

    /// Runs `f` with `owner` on a worker, waiting for its answer within
    /// `call`'s deadline.
    fn ask<T: Send + 'static>(
        &self,
        owner: &Arc<Owner>,
        call: &Call,
        f: impl FnOnce(&Owner) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let owner = owner.clone();
        self.workers.call(call.deadline, move || f(&owner)).map_err(|why| call.refused(why))?
    }

    /// Runs `f` on the domain `call.target` on the first connection (in URI
    /// order) that has it. Returns that connection's owner and `f`'s result.
    fn on_domain<T, F>(&self, call: &Call, f: F) -> Result<(&Arc<Owner>, T), BackendError>
    where
        T: Send + 'static,
        F: Fn(&Session, &Connect, &Domain, &str) -> Result<T, BackendError> + Clone + Send + 'static,
    {
        for owner in &self.owners {
            let (f, domain) = (f.clone(), call.target.clone());
            let found = self.ask(owner, call, move |owner| {
                owner.run(|session, conn| match domains::find(conn, &domain)? {
                    Some(dom) => f(session, conn, &dom, &domain).map(Some),
                    None => Ok(None),
                })
            })?;
            if let Some(result) = found {
                return Ok((owner, result));
            }
        }
        Err(BackendError::NotFound(call.target.clone()))
    }

    /// Waits until the changed domain reaches `goal`; `operation` names the
    /// step in the error when the deadline passes first.
    fn wait_for(
        &self,
        owner: &Arc<Owner>,
        call: &Call,
        changed: &Changed,
        goal: Lifecycle,
        operation: &'static str,
    ) -> Result<(), BackendError> {
        let reached = match changed.since {
            Some(since) => self.await_event(owner, call, changed, goal, since)?,
            None => self.poll(owner, call, &changed.uuid, goal)?,
        };
        if reached {
            Ok(())
        } else {
            Err(call.timed_out(operation))
        }
    }

    /// Event path: woken by the lifecycle event, with a state check every
    /// [`EVENT_SAFETY_CHECK`] in case the event was lost.
    fn await_event(
        &self,
        owner: &Arc<Owner>,
        call: &Call,
        changed: &Changed,
        goal: Lifecycle,
        since: events::Counts,
    ) -> Result<bool, BackendError> {
        loop {
            let until = (Instant::now() + EVENT_SAFETY_CHECK).min(call.deadline);
            if self.board.wait(&changed.uuid, goal, since, until) {
                return Ok(true);
            }
            if Instant::now() >= call.deadline {
                return Ok(false);
            }
            if self.check(owner, call, &changed.uuid, goal)? {
                return Ok(true);
            }
        }
    }

    /// Polling path: checks the state with back-off (1 ms doubling to
    /// 50 ms) until it is reached or the deadline passes.
    fn poll(&self, owner: &Arc<Owner>, call: &Call, uuid: &str, goal: Lifecycle) -> Result<bool, BackendError> {
        let backoff = Backoff { first: Duration::from_millis(1), ceiling: Duration::from_millis(50) };
        try_poll_until(call.deadline, backoff, || self.check(owner, call, uuid, goal))
    }

    /// One state check on the owner; only "no answer" is an error.
    fn check(&self, owner: &Arc<Owner>, call: &Call, uuid: &str, goal: Lifecycle) -> Result<bool, BackendError> {
        let uuid = uuid.to_string();
        self.ask(owner, call, move |owner| {
            Ok(owner.run(|_, conn| Ok(domains::reached(conn, &uuid, goal))).unwrap_or(false))
        })
    }

    /// Destroy, wait until off, start again, wait until it runs.
    fn cycle(&self, call: &Call) -> Result<(), BackendError> {
        let (owner, destroyed) =
            self.on_domain(call, |session, _, dom, domain| domains::destroy(session, dom, domain))?;
        let Some(destroyed) = destroyed else { return Ok(()) };
        self.wait_for(owner, call, &destroyed.stopped, Lifecycle::Stopped, "destroy")?;
        let domain = call.target.clone();
        let started = self.ask(owner, call, move |owner| {
            owner.run(|session, conn| domains::restart(session, conn, &destroyed, &domain))
        })?;
        self.wait_for(owner, call, &started, Lifecycle::Started, "reboot")
    }

    /// Hard reset, then wait until it runs. A reset is no lifecycle event
    /// (the domain never stops): this wait always polls.
    fn reset(&self, call: &Call) -> Result<(), BackendError> {
        let (owner, uuid) = self.on_domain(call, |_, _, dom, domain| domains::reset(dom, domain))?;
        let Some(uuid) = uuid else { return Ok(()) };
        self.wait_for(owner, call, &Changed { uuid, since: None }, Lifecycle::Started, "reset")
    }
}

impl Backend for LibvirtBackend {
    fn name(&self) -> &'static str {
        "libvirt"
    }

    fn lookup(&self, domain: &str) -> Result<DomainId, BackendError> {
        let call = self.quick("lookup", domain);
        self.on_domain(&call, |_, _, dom, domain| domains::identify(dom, domain)).map(|(_, id)| id)
    }

    fn off(&self, domain: &str) -> Result<(), BackendError> {
        let call = self.quick("off", domain);
        self.on_domain(&call, |_, _, dom, domain| domains::off(dom, domain)).map(drop)
    }

    fn on(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        let call = Call::new("on", domain, deadline);
        let (owner, started) = self.on_domain(&call, |session, _, dom, domain| domains::start(session, dom, domain))?;
        match started {
            Some(changed) => self.wait_for(owner, &call, &changed, Lifecycle::Started, "on"),
            None => Ok(()),
        }
    }

    fn reboot(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        let call = Call::new("reboot", domain, deadline);
        match self.reboot_method {
            RebootMethod::Cycle => self.cycle(&call),
            RebootMethod::Reset => self.reset(&call),
        }
    }

    fn status(&self, domain: &str) -> Result<Power, BackendError> {
        let call = self.quick("status", domain);
        self.on_domain(&call, |_, _, dom, domain| domains::power(dom, domain)).map(|(_, power)| power)
    }

    /// Healthy while any connection is alive; otherwise every dead one is
    /// reopened, and it is healthy again if any reopens.
    fn devstatus(&self) -> Result<(), BackendError> {
        let call = self.quick("monitor", "libvirt");
        for owner in &self.owners {
            if self.ask(owner, &call, |owner| Ok(owner.is_alive()))? {
                return Ok(());
            }
        }
        let mut errors = Vec::new();
        for owner in &self.owners {
            match self.ask(owner, &call, |owner| Ok(owner.reopen_if_dead()))? {
                Ok(_) => return Ok(()),
                Err(e) => errors.push(e),
            }
        }
        Err(owner::unreachable(&errors))
    }

    fn host_list(&self) -> Result<Vec<HostRecord>, BackendError> {
        let call = self.quick("list", "all domains");
        let mut records = Vec::new();
        for owner in &self.owners {
            records.extend(self.ask(owner, &call, |owner| owner.run(|_, conn| domains::list(conn)))?);
        }
        records.sort_by_key(|r| r.name.to_ascii_lowercase());
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::domains::is_uuid;
    use super::*;
    use protocol::DomainState;

    fn backend() -> LibvirtBackend {
        LibvirtBackend::connect(LibvirtConfig {
            uris: vec!["test:///default".into()],
            reboot_method: RebootMethod::Cycle,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        })
        .expect("the libvirt test driver is built into libvirt")
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn test_driver_power_cycle() {
        let b = backend();
        let list = b.host_list().unwrap();
        assert!(list.iter().any(|r| r.name == "test" && r.state == DomainState::RUNNING), "{list:?}");
        assert_eq!(b.status("test").unwrap(), Power::On);
        b.off("test").unwrap();
        assert_eq!(b.status("test").unwrap(), Power::Off);
        b.off("test").unwrap();
        b.reboot("test", deadline()).unwrap();
        assert_eq!(b.status("test").unwrap(), Power::Off, "reboot leaves an off domain off");
        b.on("test", deadline()).unwrap();
        assert_eq!(b.status("test").unwrap(), Power::On);
        let uuid = b.lookup("test").unwrap().uuid;
        let before = b.board.mark(&uuid);
        b.reboot("test", deadline()).unwrap();
        assert_eq!(b.status("test").unwrap(), Power::On);
        // The test driver has lifecycle events: the reboot waited for them.
        for goal in [Lifecycle::Stopped, Lifecycle::Started] {
            assert!(b.board.wait(&uuid, goal, before, Instant::now()), "no {goal:?} event seen");
        }
        // The test driver's default state is shared by every connection of
        // the process, so the reset method is checked in the same test.
        let reset = LibvirtBackend::connect(LibvirtConfig {
            uris: vec!["test:///default".into()],
            reboot_method: RebootMethod::Reset,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        })
        .unwrap();
        reset.reboot("test", deadline()).unwrap();
        assert_eq!(reset.status("test").unwrap(), Power::On);
    }

    #[test]
    fn lookup_by_uuid_and_unknown_domains() {
        let b = backend();
        let id = b.lookup("test").unwrap();
        assert_eq!(b.lookup(&id.uuid.to_ascii_uppercase()).unwrap().name, "test");
        assert_eq!(b.status("nosuch"), Err(BackendError::NotFound("nosuch".into())));
        assert_eq!(b.lookup("TEST"), Err(BackendError::NotFound("TEST".into())), "names are case-sensitive in libvirt");
    }

    #[test]
    fn no_reachable_uri_is_an_error() {
        let err = LibvirtBackend::connect(LibvirtConfig {
            uris: vec!["test:///nonexistent/file.xml".into()],
            reboot_method: RebootMethod::Cycle,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        })
        .err()
        .expect("must fail");
        assert!(err.to_string().contains("could not connect to any hypervisor"), "{err}");
    }

    #[test]
    fn uuid_detection() {
        assert!(is_uuid("6695eb01-f6a4-8304-79aa-97f2502e193f"));
        assert!(!is_uuid("6695eb01f6a4830479aa97f2502e193f"));
        assert!(!is_uuid("test"));
    }
}
