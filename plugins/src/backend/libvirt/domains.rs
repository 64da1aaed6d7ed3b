//! Single steps on one connection's domains, run on its owner's thread.
//! Each is quick: waiting for a domain to change state happens on the
//! caller's side (see [`super::LibvirtBackend`]).

use protocol::{DomainState, HostRecord};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::ErrorNumber;
use virt::sys;

use super::events::{Counts, Lifecycle};
use super::owner::Session;
use crate::backend::{BackendError, DomainId, Power};

/// Whether `text` is a UUID in its canonical text form.
pub(super) fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// A libvirt error as the failure of `operation` on `domain`.
pub(super) fn failed(operation: &'static str, domain: &str, e: virt::error::Error) -> BackendError {
    BackendError::Failed { operation, domain: domain.to_string(), message: e.message().to_string() }
}

fn raw_state(dom: &Domain) -> Option<u32> {
    dom.info().ok().map(|info| info.state.to_raw())
}

/// The domain named `domain` (or with that UUID) on `conn`, if it has one.
pub(super) fn find(conn: &Connect, domain: &str) -> Result<Option<Domain>, BackendError> {
    let found =
        if is_uuid(domain) { conn.lookup_domain_by_uuid_string(domain) } else { conn.lookup_domain_by_name(domain) };
    match found {
        Ok(dom) => Ok(Some(dom)),
        Err(e) if e.code().is(ErrorNumber::NoDomain) => Ok(None),
        Err(e) => Err(BackendError::Unavailable(e.message().to_string())),
    }
}

/// Name and canonical UUID.
pub(super) fn identify(dom: &Domain, domain: &str) -> Result<DomainId, BackendError> {
    let name = dom.name().map_err(|e| failed("lookup", domain, e))?;
    let uuid = dom.uuid_string().map_err(|e| failed("lookup", domain, e))?.to_ascii_lowercase();
    Ok(DomainId { name, uuid })
}

/// Hard power-off; success if already off.
pub(super) fn off(dom: &Domain, domain: &str) -> Result<(), BackendError> {
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
}

/// Power state.
pub(super) fn power(dom: &Domain, domain: &str) -> Result<Power, BackendError> {
    let state = dom.info().map_err(|e| failed("status", domain, e))?.state.to_raw();
    Ok(if state == DomainState::SHUTOFF.0 as u32 { Power::Off } else { Power::On })
}

/// Whether the domain with `uuid` has reached `goal` (a domain that is gone
/// has stopped). Errors count as "not yet", as they did when polling.
pub(super) fn reached(conn: &Connect, uuid: &str, goal: Lifecycle) -> bool {
    match (find(conn, uuid), goal) {
        (Ok(Some(dom)), Lifecycle::Started) => raw_state(&dom) == Some(DomainState::RUNNING.0 as u32),
        (Ok(Some(dom)), Lifecycle::Stopped) => dom.is_active().is_ok_and(|active| !active),
        (Ok(None), Lifecycle::Stopped) => true,
        _ => false,
    }
}

/// A started domain and how to wait for it: its UUID and, where lifecycle
/// events arrive, the events it had before it was started.
#[derive(Debug, Clone)]
pub(super) struct Changed {
    /// The domain's UUID.
    pub uuid: String,
    /// Events before the change; `None`: wait by polling.
    pub since: Option<Counts>,
}

fn changing(session: &Session, dom: &Domain, operation: &'static str, domain: &str) -> Result<Changed, BackendError> {
    let uuid = dom.uuid_string().map_err(|e| failed(operation, domain, e))?.to_ascii_lowercase();
    let since = session.has_events().then(|| session.board().mark(&uuid));
    Ok(Changed { uuid, since })
}

/// Starts the domain unless it runs. `None`: it ran already.
pub(super) fn start(session: &Session, dom: &Domain, domain: &str) -> Result<Option<Changed>, BackendError> {
    if dom.is_active().map_err(|e| failed("on", domain, e))? {
        return Ok(None);
    }
    let changed = changing(session, dom, "start", domain)?;
    dom.create().map_err(|e| failed("start", domain, e))?;
    Ok(Some(changed))
}

/// A destroyed domain, to be started again.
#[derive(Debug, Clone)]
pub(super) struct Destroyed {
    /// How to wait until it is off.
    pub stopped: Changed,
    /// The definition of a transient domain (it disappears when destroyed);
    /// `None` for a persistent one.
    pub saved_xml: Option<String>,
}

/// The first half of a power cycle: destroy a running domain. `None`: it
/// was off, and stays off.
pub(super) fn destroy(session: &Session, dom: &Domain, domain: &str) -> Result<Option<Destroyed>, BackendError> {
    if !dom.is_active().map_err(|e| failed("reboot", domain, e))? {
        return Ok(None);
    }
    let persistent = dom.is_persistent().map_err(|e| failed("reboot", domain, e))?;
    let saved_xml = if persistent {
        None
    } else {
        Some(dom.xml_desc(sys::VIR_DOMAIN_XML_SECURE).map_err(|e| failed("reboot", domain, e))?)
    };
    let stopped = changing(session, dom, "reboot", domain)?;
    dom.destroy().map_err(|e| failed("destroy", domain, e))?;
    Ok(Some(Destroyed { stopped, saved_xml }))
}

/// The second half of a power cycle: start the destroyed domain again.
pub(super) fn restart(
    session: &Session,
    conn: &Connect,
    destroyed: &Destroyed,
    domain: &str,
) -> Result<Changed, BackendError> {
    let uuid = &destroyed.stopped.uuid;
    let since = session.has_events().then(|| session.board().mark(uuid));
    match &destroyed.saved_xml {
        Some(xml) => drop(conn.create_domain_xml(xml, 0).map_err(|e| failed("start", domain, e))?),
        None => {
            let dom = find(conn, uuid)?.ok_or_else(|| BackendError::NotFound(domain.to_string()))?;
            dom.create().map_err(|e| failed("start", domain, e))?;
        }
    }
    Ok(Changed { uuid: uuid.clone(), since })
}

/// libvirt's hard reset of a running domain. `None`: it was off.
pub(super) fn reset(dom: &Domain, domain: &str) -> Result<Option<String>, BackendError> {
    if !dom.is_active().map_err(|e| failed("reboot", domain, e))? {
        return Ok(None);
    }
    let uuid = dom.uuid_string().map_err(|e| failed("reset", domain, e))?.to_ascii_lowercase();
    dom.reset().map_err(|e| failed("reset", domain, e))?;
    Ok(Some(uuid))
}

/// Every domain on `conn`.
pub(super) fn list(conn: &Connect) -> Result<Vec<HostRecord>, BackendError> {
    let domains = conn.list_all_domains(0).map_err(|e| BackendError::Unavailable(e.message().to_string()))?;
    Ok(domains
        .into_iter()
        .filter_map(|dom| {
            let (Ok(name), Ok(uuid)) = (dom.name(), dom.uuid_string()) else { return None };
            let state = raw_state(&dom).unwrap_or(0);
            Some(HostRecord { name, uuid, state: DomainState(u8::try_from(state).unwrap_or(0)) })
        })
        .collect())
}
