//! The dispatcher: between listeners and the backend.
//!
//! listener → [`Dispatcher::admit`] (may the requester fence anything,
//! history, per-requester cap, then the shared capacity) → authentication
//! (listener) → [`Dispatcher::execute`] (permission map against the domain
//! found, per-domain queue, backend on the blocking pool) → reply.
//!
//! Capacity is shared fairly: a requester holds at most
//! [`DispatchLimits::per_requester`] requests at once, and requests from a
//! requester that no group allows anything are answered ("permission
//! denied") from a small pool of their own, so no key holder can take the
//! slots other tenants need to fence.
//!
//! Requests for different domains run in parallel; requests for the same
//! domain (by UUID, however it was named) are serialized so a destroy and a
//! start never interleave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use plugins::backend::{Backend, BackendError, Power};
use plugins::listener::conn_limit::ConnectionLimits;
use plugins::listener::stats::RateLimiter;
use plugins::listener::{Admission, BoxFuture, Declined, Dispatch, Reply, Source};
use protocol::{Operation, Request, ResultCode};
use tokio::sync::Semaphore;

use crate::history::{History, Verdict};
use crate::permissions::{FoundDomain, PermissionMap};

/// Limits of the dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct DispatchLimits {
    /// Requests admitted and not yet finished, at most.
    pub max_in_flight: usize,
    /// Of those, at most this many from one requester (address).
    pub per_requester: usize,
    /// Requests that will only be told "permission denied", at most.
    pub max_denials: usize,
    /// Deadline of one backend operation (reboot included).
    pub operation_timeout: Duration,
}

impl Default for DispatchLimits {
    fn default() -> Self {
        DispatchLimits {
            max_in_flight: 64,
            per_requester: 4,
            max_denials: 8,
            operation_timeout: Duration::from_secs(60),
        }
    }
}

struct Inner {
    backend: Arc<dyn Backend>,
    permissions: RwLock<Arc<PermissionMap>>,
    history: Mutex<History>,
    domain_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: Arc<Semaphore>,
    denials: Arc<Semaphore>,
    per_requester: Arc<ConnectionLimits<String>>,
    limits: DispatchLimits,
    refusal_log: RateLimiter,
}

/// How often a refused request is logged at most.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// The daemon's [`Dispatch`] implementation.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl Dispatcher {
    /// A dispatcher over `backend` with the given permission map.
    pub fn new(backend: Arc<dyn Backend>, permissions: PermissionMap, limits: DispatchLimits) -> Self {
        Dispatcher {
            inner: Arc::new(Inner {
                backend,
                permissions: RwLock::new(Arc::new(permissions)),
                history: Mutex::new(History::default()),
                domain_locks: Mutex::new(HashMap::new()),
                in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
                denials: Arc::new(Semaphore::new(limits.max_denials)),
                per_requester: ConnectionLimits::new(usize::MAX, limits.per_requester),
                limits,
                refusal_log: RateLimiter::new(REFUSAL_LOG_INTERVAL),
            }),
        }
    }

    /// Replaces the permission map (SIGHUP).
    pub fn set_permissions(&self, permissions: PermissionMap) {
        *self.inner.permissions.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(permissions);
    }

    /// Requests admitted and not finished.
    pub fn in_flight(&self) -> usize {
        self.inner.limits.max_in_flight - self.inner.in_flight.available_permits()
            + (self.inner.limits.max_denials - self.inner.denials.available_permits())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn permissions(&self) -> Arc<PermissionMap> {
        self.permissions.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn Backend, Instant) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let backend = self.backend.clone();
        let limit = self.limits.operation_timeout;
        let deadline = Instant::now() + limit;
        // Backends answer within their own deadlines; this one guards the
        // request against a backend that does not.
        match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || f(backend.as_ref(), deadline))).await {
            Ok(joined) => {
                joined.unwrap_or_else(|e| Err(BackendError::Unavailable(format!("backend task failed: {e}"))))
            }
            Err(_) => Err(BackendError::Unavailable(format!("backend did not answer within {} s", limit.as_secs()))),
        }
    }

    fn domain_lock(&self, uuid: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.domain_locks).entry(uuid.to_string()).or_default().clone()
    }

    fn release_domain_lock(&self, uuid: &str, held: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = lock(&self.domain_locks);
        // Ours and the map's: nobody else waits for it.
        if Arc::strong_count(&held) == 2 {
            locks.remove(uuid);
        }
    }

    async fn execute(self: Arc<Self>, request: Request, source: Source) -> Reply {
        let started = Instant::now();
        let (reply, detail) = self.perform(&request, &source).await;
        let outcome = match &reply {
            Reply::Code(code) => code.name(),
            Reply::HostList(records) => format!("{} domain(s)", records.len()),
        };
        let domain = if request.domain.is_empty() { "-" } else { request.domain.as_str() };
        let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        tracing::info!(
            "request from {}: {} {} seqno {} -> {}{} in {:.1} ms",
            source.identity,
            request.operation.name(),
            domain,
            request.seqno,
            outcome,
            detail,
            started.elapsed().as_secs_f64() * 1000.0
        );
        reply
    }

    async fn perform(self: &Arc<Self>, request: &Request, source: &Source) -> (Reply, Option<String>) {
        match request.operation {
            Operation::Null => (Reply::Code(ResultCode::Failure), Some("null operation always fails".into())),
            Operation::DevStatus => match self.blocking(|b, _| b.devstatus()).await {
                Ok(()) => (Reply::Code(ResultCode::Success), None),
                Err(e) => (Reply::Code(ResultCode::Failure), Some(e.to_string())),
            },
            Operation::HostList => match self.blocking(|b, _| b.host_list()).await {
                Ok(records) => {
                    let perms = self.permissions();
                    let visible = records
                        .into_iter()
                        .filter(|r| perms.allows(&source.identity, &FoundDomain { name: &r.name, uuid: &r.uuid }))
                        .collect();
                    (Reply::HostList(visible), None)
                }
                Err(e) => (Reply::Code(ResultCode::Failure), Some(e.to_string())),
            },
            Operation::Off | Operation::On | Operation::Reboot | Operation::Status => {
                self.perform_on_domain(request, source).await
            }
        }
    }

    async fn perform_on_domain(self: &Arc<Self>, request: &Request, source: &Source) -> (Reply, Option<String>) {
        let perms = self.permissions();
        let requested = request.domain.clone();
        let id = match self
            .blocking({
                let d = requested.clone();
                move |b, _| b.lookup(&d)
            })
            .await
        {
            Ok(id) => id,
            // Say "not found" only to a requester whose groups name the domain.
            Err(e) if !perms.names(&source.identity, &requested) => {
                return (Reply::Code(ResultCode::PermissionDenied), Some(format!("not in the sender's groups; {e}")))
            }
            Err(e) => return (Reply::Code(ResultCode::Failure), Some(e.to_string())),
        };
        // Authorize the domain libvirt found (exact name or UUID), not the
        // text of the request.
        if !perms.allows(&source.identity, &FoundDomain { name: &id.name, uuid: &id.uuid }) {
            return (
                Reply::Code(ResultCode::PermissionDenied),
                Some(format!("domain {} ({}) is not in the sender's groups", id.name, id.uuid)),
            );
        }
        let domain_lock = self.domain_lock(&id.uuid);
        let result = {
            let Ok(_serialized) = tokio::time::timeout(self.limits.operation_timeout, domain_lock.lock()).await else {
                self.release_domain_lock(&id.uuid, domain_lock);
                let waited = self.limits.operation_timeout.as_secs();
                return (
                    Reply::Code(ResultCode::Failure),
                    Some(format!("domain busy: waited {waited} s for an earlier request")),
                );
            };
            let operation = request.operation;
            let target = id.uuid.clone();
            self.blocking(move |b, deadline| match operation {
                Operation::Off => b.off(&target).map(|()| ResultCode::Success),
                Operation::On => b.on(&target, deadline).map(|()| ResultCode::Success),
                Operation::Reboot => b.reboot(&target, deadline).map(|()| ResultCode::Success),
                _ => b.status(&target).map(|p| if p == Power::On { ResultCode::Success } else { ResultCode::Off }),
            })
            .await
        };
        self.release_domain_lock(&id.uuid, domain_lock);
        match result {
            Ok(code) => (Reply::Code(code), None),
            Err(e) => (Reply::Code(ResultCode::Failure), Some(e.to_string())),
        }
    }
}

impl Inner {
    /// Logs a refused request, at most once per interval.
    fn log_refusal(&self, request: &Request, source: &Source, why: &str) {
        if let Some(suppressed) = self.refusal_log.admit() {
            let more = logging::suppressed_note(suppressed);
            tracing::warn!("{request} from {}: {why}; dropped{more}", source.identity);
        }
    }
}

impl Dispatch for Dispatcher {
    fn admit(&self, request: &Request, source: &Source) -> Result<Admission, Declined> {
        let inner = &self.inner;
        // Permissions first: a requester that no group allows anything is
        // only ever told "permission denied", from a pool of its own.
        let may_act = inner.permissions().may_request(&source.identity);
        let Ok(requester_slot) = inner.per_requester.take(source.identity.clone()) else {
            inner.log_refusal(
                request,
                source,
                &format!("the requester already has {} requests in progress", inner.limits.per_requester),
            );
            return Err(Declined::Busy);
        };
        let pool = if may_act { &inner.in_flight } else { &inner.denials };
        let Ok(permit) = pool.clone().try_acquire_owned() else {
            let what = if may_act { "requests in flight" } else { "permission-denied answers pending" };
            inner.log_refusal(
                request,
                source,
                &format!("the daemon's limit of {what} is reached; the client will retransmit"),
            );
            return Err(Declined::Busy);
        };
        let verdict = lock(&inner.history).begin(request, &source.identity, Instant::now());
        match verdict {
            Verdict::Admit => {}
            Verdict::Duplicate => {
                tracing::debug!("{request} from {}: already being served or just served; dropped", source.identity);
                return Err(Declined::Duplicate);
            }
            Verdict::Replay => {
                inner.log_refusal(request, source, "replay of a request that was already executed");
                return Err(Declined::Duplicate);
            }
            Verdict::Stale => {
                inner.log_refusal(request, source, "retry of a failed request past its retry window");
                return Err(Declined::Duplicate);
            }
            Verdict::BackingOff(left) => {
                inner.log_refusal(
                    request,
                    source,
                    &format!(
                        "calls back to this address failed recently; backing off {:.1} s more",
                        left.as_secs_f64()
                    ),
                );
                return Err(Declined::Busy);
            }
            Verdict::Full => {
                inner.log_refusal(request, source, "the request history is full");
                return Err(Declined::Busy);
            }
        }
        let inner = inner.clone();
        let remembered = request.clone();
        let requester = source.identity.clone();
        Ok(Admission::new(move |answered| {
            let mut history = lock(&inner.history);
            if answered {
                history.answered(&remembered, &requester, Instant::now());
            } else {
                history.abandoned(&remembered, &requester, Instant::now());
            }
            drop(permit);
            drop(requester_slot);
        }))
    }

    fn execute(&self, request: Request, source: Source) -> BoxFuture<Reply> {
        Box::pin(self.inner.clone().execute(request, source))
    }
}
