//! The libvirt backend, through the `virt` crate.
//!
//! Connections are opened once and used only by the backend's own worker
//! threads ([`Workers`]: started on demand up to a maximum, behind a bounded
//! queue); they are
//! reopened when a call finds a connection dead (e.g. libvirtd restarted),
//! and the call is then retried once so the request is not lost. Every call
//! has a deadline for its answer: a libvirtd that stops answering costs one
//! worker per hung call, and the caller gets [`BackendError::NoAnswer`] in
//! time.

use std::sync::{Arc, RwLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use protocol::{DomainState, HostRecord};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::ErrorNumber;
use virt::sys;

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
    hypervisors: Arc<Hypervisors>,
    workers: Workers,
    call_timeout: Duration,
}

/// The connections, used only on the worker threads.
struct Hypervisors {
    config: LibvirtConfig,
    connections: RwLock<Vec<Connect>>,
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

fn failed(operation: &'static str, domain: &str, e: virt::error::Error) -> BackendError {
    BackendError::Failed { operation, domain: domain.to_string(), message: e.message().to_string() }
}

/// Sleeps with exponential back-off (1 ms doubling to 50 ms) until `done`
/// returns true or the deadline passes.
fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    let mut pause = Duration::from_millis(1);
    loop {
        if done() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn raw_state(dom: &Domain) -> Option<u32> {
    dom.info().ok().map(|info| info.state.to_raw())
}

impl LibvirtBackend {
    /// Opens every configured URI. Fails only if none can be opened.
    pub fn connect(config: LibvirtConfig) -> Result<Self, BackendError> {
        let connections = Hypervisors::open_all(&config.uris)?;
        let workers = Workers::new("libvirt", WORKER_THREADS, QUEUE_LEN)
            .map_err(|e| BackendError::Unavailable(format!("cannot start the libvirt worker threads: {e}")))?;
        let call_timeout = config.call_timeout;
        Ok(LibvirtBackend {
            hypervisors: Arc::new(Hypervisors { config, connections: RwLock::new(connections) }),
            workers,
            call_timeout,
        })
    }

    /// Runs `f` on a worker, waiting for its answer until `deadline`.
    fn call<T: Send + 'static>(
        &self,
        operation: &'static str,
        target: &str,
        deadline: Instant,
        f: impl FnOnce(&Hypervisors) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let hypervisors = self.hypervisors.clone();
        let limit = deadline.saturating_duration_since(Instant::now());
        match self.workers.call(deadline, move || f(&hypervisors)) {
            Ok(result) => result,
            Err(CallError::NoAnswer) => Err(BackendError::NoAnswer {
                operation,
                target: target.to_string(),
                limit_secs: limit.as_secs_f64().round() as u64,
            }),
            Err(CallError::Busy) => Err(BackendError::Unavailable(format!(
                "{operation} of '{target}' refused: all {WORKER_THREADS} libvirt threads are busy and {QUEUE_LEN} calls wait"
            ))),
        }
    }

    /// A call with the configured `timeout`.
    fn quick<T: Send + 'static>(
        &self,
        operation: &'static str,
        target: &str,
        f: impl FnOnce(&Hypervisors) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        self.call(operation, target, Instant::now() + self.call_timeout, f)
    }
}

impl Hypervisors {
    fn open_all(uris: &[String]) -> Result<Vec<Connect>, BackendError> {
        let mut opened = Vec::new();
        let mut errors = Vec::new();
        for uri in uris {
            match Connect::open(Some(uri)) {
                Ok(c) => opened.push(c),
                Err(e) => errors.push(format!("{uri}: {}", e.message())),
            }
        }
        if opened.is_empty() {
            return Err(BackendError::Unavailable(if errors.is_empty() {
                "no libvirt uri configured".to_string()
            } else {
                format!("could not connect to any hypervisor ({})", errors.join("; "))
            }));
        }
        for e in errors {
            tracing::warn!("libvirt: {e}");
        }
        Ok(opened)
    }

    fn snapshot(&self) -> Vec<Connect> {
        self.connections.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reopens all connections if any is dead. Returns whether it did.
    fn heal(&self) -> Result<bool, BackendError> {
        let dead = self.snapshot().iter().any(|c| !c.is_alive().unwrap_or(false));
        if !dead {
            return Ok(false);
        }
        tracing::warn!("libvirt connection lost; reconnecting");
        let fresh = Self::open_all(&self.config.uris)?;
        *self.connections.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(true)
    }

    /// Runs `f`, and once more after reconnecting if a connection had died.
    fn with_retry<T>(&self, f: impl Fn(&[Connect]) -> Result<T, BackendError>) -> Result<T, BackendError> {
        match f(&self.snapshot()) {
            Err(e @ (BackendError::Failed { .. } | BackendError::NotFound(_) | BackendError::Unavailable(_))) => {
                if self.heal()? {
                    f(&self.snapshot())
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    fn find(connections: &[Connect], domain: &str) -> Result<(Connect, Domain), BackendError> {
        for conn in connections {
            let found = if is_uuid(domain) {
                conn.lookup_domain_by_uuid_string(domain)
            } else {
                conn.lookup_domain_by_name(domain)
            };
            match found {
                Ok(dom) => return Ok((conn.clone(), dom)),
                Err(e) if e.code().is(ErrorNumber::NoDomain) => continue,
                Err(e) => return Err(BackendError::Unavailable(e.message().to_string())),
            }
        }
        Err(BackendError::NotFound(domain.to_string()))
    }

    fn start(conn: &Connect, dom: &Domain, saved_xml: Option<&str>, domain: &str) -> Result<(), BackendError> {
        match saved_xml {
            Some(xml) => conn.create_domain_xml(xml, 0).map(drop).map_err(|e| failed("start", domain, e)),
            None => dom.create().map(drop).map_err(|e| failed("start", domain, e)),
        }
    }

    fn wait_running(
        conn: &Connect,
        domain: &str,
        deadline: Instant,
        operation: &'static str,
    ) -> Result<(), BackendError> {
        let running = wait_until(deadline, || {
            Self::find(std::slice::from_ref(conn), domain)
                .ok()
                .and_then(|(_, d)| raw_state(&d))
                .is_some_and(|s| s == DomainState::RUNNING.0 as u32)
        });
        if running {
            Ok(())
        } else {
            Err(BackendError::Timeout { operation, domain: domain.to_string() })
        }
    }

    fn cycle(&self, conn: &Connect, dom: &Domain, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        let persistent = dom.is_persistent().map_err(|e| failed("reboot", domain, e))?;
        let saved_xml = if persistent {
            None
        } else {
            Some(dom.xml_desc(sys::VIR_DOMAIN_XML_SECURE).map_err(|e| failed("reboot", domain, e))?)
        };
        dom.destroy().map_err(|e| failed("destroy", domain, e))?;
        let gone = wait_until(deadline, || !dom.is_active().unwrap_or(false));
        if !gone {
            return Err(BackendError::Timeout { operation: "destroy", domain: domain.to_string() });
        }
        Self::start(conn, dom, saved_xml.as_deref(), domain)?;
        Self::wait_running(conn, domain, deadline, "reboot")
    }
}

impl Backend for LibvirtBackend {
    fn name(&self) -> &'static str {
        "libvirt"
    }

    fn lookup(&self, domain: &str) -> Result<DomainId, BackendError> {
        let d = domain.to_string();
        self.quick("lookup", domain, move |h| h.lookup(&d))
    }

    fn off(&self, domain: &str) -> Result<(), BackendError> {
        let d = domain.to_string();
        self.quick("off", domain, move |h| h.off(&d))
    }

    fn on(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        let d = domain.to_string();
        self.call("on", domain, deadline, move |h| h.on(&d, deadline))
    }

    fn reboot(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        let d = domain.to_string();
        self.call("reboot", domain, deadline, move |h| h.reboot(&d, deadline))
    }

    fn status(&self, domain: &str) -> Result<Power, BackendError> {
        let d = domain.to_string();
        self.quick("status", domain, move |h| h.status(&d))
    }

    fn devstatus(&self) -> Result<(), BackendError> {
        self.quick("monitor", "libvirt", Hypervisors::devstatus)
    }

    fn host_list(&self) -> Result<Vec<HostRecord>, BackendError> {
        self.quick("list", "all domains", Hypervisors::host_list)
    }
}

impl Hypervisors {
    fn lookup(&self, domain: &str) -> Result<DomainId, BackendError> {
        self.with_retry(|conns| {
            let (_, dom) = Self::find(conns, domain)?;
            let name = dom.name().map_err(|e| failed("lookup", domain, e))?;
            let uuid = dom.uuid_string().map_err(|e| failed("lookup", domain, e))?.to_ascii_lowercase();
            Ok(DomainId { name, uuid })
        })
    }

    fn off(&self, domain: &str) -> Result<(), BackendError> {
        self.with_retry(|conns| {
            let (_, dom) = Self::find(conns, domain)?;
            if !dom.is_active().map_err(|e| failed("off", domain, e))? {
                return Ok(());
            }
            match dom.destroy() {
                Ok(()) => Ok(()),
                Err(e) if !dom.is_active().unwrap_or(true) => {
                    tracing::debug!("destroy of {domain} reported '{}' but the domain is off", e.message());
                    Ok(())
                }
                Err(e) => Err(failed("off", domain, e)),
            }
        })
    }

    fn on(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        self.with_retry(|conns| {
            let (conn, dom) = Self::find(conns, domain)?;
            if dom.is_active().map_err(|e| failed("on", domain, e))? {
                return Ok(());
            }
            Self::start(&conn, &dom, None, domain)?;
            Self::wait_running(&conn, domain, deadline, "on")
        })
    }

    fn reboot(&self, domain: &str, deadline: Instant) -> Result<(), BackendError> {
        self.with_retry(|conns| {
            let (conn, dom) = Self::find(conns, domain)?;
            if !dom.is_active().map_err(|e| failed("reboot", domain, e))? {
                return Ok(());
            }
            match self.config.reboot_method {
                RebootMethod::Cycle => self.cycle(&conn, &dom, domain, deadline),
                RebootMethod::Reset => {
                    dom.reset().map_err(|e| failed("reset", domain, e))?;
                    Self::wait_running(&conn, domain, deadline, "reset")
                }
            }
        })
    }

    fn status(&self, domain: &str) -> Result<Power, BackendError> {
        self.with_retry(|conns| {
            let (_, dom) = Self::find(conns, domain)?;
            let state = dom.info().map_err(|e| failed("status", domain, e))?.state.to_raw();
            Ok(if state == DomainState::SHUTOFF.0 as u32 { Power::Off } else { Power::On })
        })
    }

    fn devstatus(&self) -> Result<(), BackendError> {
        if self.snapshot().iter().any(|c| c.is_alive().unwrap_or(false)) {
            return Ok(());
        }
        self.heal().map(drop)
    }

    fn host_list(&self) -> Result<Vec<HostRecord>, BackendError> {
        self.with_retry(|conns| {
            let mut records = Vec::new();
            for conn in conns {
                let domains =
                    conn.list_all_domains(0).map_err(|e| BackendError::Unavailable(e.message().to_string()))?;
                for dom in domains {
                    let (Ok(name), Ok(uuid)) = (dom.name(), dom.uuid_string()) else { continue };
                    let state = raw_state(&dom).unwrap_or(0);
                    records.push(HostRecord { name, uuid, state: DomainState(u8::try_from(state).unwrap_or(0)) });
                }
            }
            records.sort_by_key(|r| r.name.to_ascii_lowercase());
            Ok(records)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        b.reboot("test", deadline()).unwrap();
        assert_eq!(b.status("test").unwrap(), Power::On);
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
