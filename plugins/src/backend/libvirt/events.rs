//! Domain lifecycle events: libvirt's default event loop on a thread of its
//! own, and a board that counts the `STARTED` and `STOPPED` events of every
//! domain so a caller can wait for the next one instead of polling.
//!
//! Which path a driver takes: the test driver (`test:///…`) and every
//! driver reached through libvirtd (`qemu:///…`, `qemu+ssh://…`, a test
//! driver behind a libvirtd socket) accept lifecycle callbacks, so reboot
//! and `on` wait for events there. A driver that refuses the registration
//! (or a process whose event loop could not start) falls back to polling
//! the domain's state; see [`super::link::Link::has_events`].

use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::Instant;

use virt::connect::Connect;
use virt::sys;

/// What a caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// The domain runs (a `STARTED` event; polled: state `RUNNING`).
    Started,
    /// The domain is shut off (a `STOPPED` event; polled: inactive or gone).
    Stopped,
}

/// How many lifecycle events of each kind a domain has had so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    started: u64,
    stopped: u64,
}

impl Counts {
    fn of(&self, kind: Lifecycle) -> u64 {
        match kind {
            Lifecycle::Started => self.started,
            Lifecycle::Stopped => self.stopped,
        }
    }
}

/// The lifecycle events seen on every connection, by domain UUID.
///
/// A caller takes a [`Board::mark`] before acting on a domain and then
/// waits for an event newer than the mark. An event of an earlier action
/// that arrives late can satisfy the wait; that is harmless because every
/// action waited for (create, destroy) has already succeeded synchronously.
#[derive(Debug, Default)]
pub(super) struct Board {
    seen: Mutex<HashMap<String, Counts>>,
    changed: Condvar,
}

impl Board {
    /// The events of domain `uuid` so far.
    pub(super) fn mark(&self, uuid: &str) -> Counts {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).get(&uuid.to_ascii_lowercase()).copied().unwrap_or_default()
    }

    /// Waits until domain `uuid` has had a `kind` event after `since`, or
    /// until `until`. Returns whether the event came.
    pub(super) fn wait(&self, uuid: &str, kind: Lifecycle, since: Counts, until: Instant) -> bool {
        let uuid = uuid.to_ascii_lowercase();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if seen.get(&uuid).is_some_and(|c| c.of(kind) > since.of(kind)) {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            seen = self.changed.wait_timeout(seen, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn record(&self, uuid: String, event: c_int) {
        let kind = match u32::try_from(event) {
            Ok(sys::VIR_DOMAIN_EVENT_STARTED) => Lifecycle::Started,
            Ok(sys::VIR_DOMAIN_EVENT_STOPPED) => Lifecycle::Stopped,
            _ => return,
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let counts = seen.entry(uuid).or_default();
        match kind {
            Lifecycle::Started => counts.started += 1,
            Lifecycle::Stopped => counts.stopped += 1,
        }
        self.changed.notify_all();
    }
}

/// Registers libvirt's default event loop once per process and runs it on
/// the thread `libvirt-events`. Must happen before connections are opened
/// (the remote driver binds to the loop registered when it connects).
/// Returns whether the loop runs.
pub(super) fn start_event_loop() -> bool {
    static RUNNING: OnceLock<bool> = OnceLock::new();
    *RUNNING.get_or_init(|| {
        if let Err(e) = virt::event::event_register_default_impl() {
            tracing::warn!("libvirt: no event loop ({}); waiting by polling", e.message());
            return false;
        }
        let spawned = thread::Builder::new().name("libvirt-events".into()).spawn(|| loop {
            if let Err(e) = virt::event::event_run_default_impl() {
                tracing::warn!("libvirt event loop stopped: {}; waiting by polling", e.message());
                return;
            }
        });
        spawned.map_err(|e| tracing::warn!("libvirt: cannot start the event thread: {e}")).is_ok()
    })
}

/// Registers `board` for the lifecycle events of every domain on `conn`.
/// Returns the callback id, or `None` when the driver has no such events.
pub(super) fn register(conn: &Connect, board: &Arc<Board>) -> Option<c_int> {
    if !start_event_loop() {
        return None;
    }
    let opaque = Arc::into_raw(board.clone()) as *mut c_void;
    let callback: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void) -> c_int =
        on_lifecycle;
    // SAFETY: libvirt calls a lifecycle callback with the lifecycle
    // signature; the generic type is only what the C API declares (as
    // VIR_DOMAIN_EVENT_CALLBACK does in C). `opaque` stays valid until
    // libvirt calls `release_board`.
    let id = unsafe {
        let generic: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void) =
            std::mem::transmute(callback);
        sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
            Some(generic),
            opaque,
            Some(release_board),
        )
    };
    if id < 0 {
        // SAFETY: libvirt did not take `opaque`; this is the reference
        // `Arc::into_raw` made above.
        drop(unsafe { Arc::from_raw(opaque as *const Board) });
        return None;
    }
    Some(id)
}

/// Removes a registration made by [`register`].
pub(super) fn deregister(conn: &Connect, id: c_int) {
    // SAFETY: `conn` is open and `id` came from registering on it.
    if unsafe { sys::virConnectDomainEventDeregisterAny(conn.as_ptr(), id) } < 0 {
        tracing::debug!("libvirt: could not remove the lifecycle callback {id}");
    }
}

unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    let mut uuid = [0 as std::ffi::c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
    // SAFETY: libvirt passes a valid domain for the duration of the call;
    // the buffer has the size the API asks for.
    if unsafe { sys::virDomainGetUUIDString(dom, uuid.as_mut_ptr()) } < 0 {
        return 0;
    }
    // SAFETY: libvirt wrote a NUL-terminated string; `opaque` is the board
    // registered with this callback, alive until `release_board`.
    let (uuid, board) = unsafe { (CStr::from_ptr(uuid.as_ptr()), &*(opaque as *const Board)) };
    board.record(uuid.to_string_lossy().to_ascii_lowercase(), event);
    0
}

unsafe extern "C" fn release_board(opaque: *mut c_void) {
    // SAFETY: the reference `register` made with `Arc::into_raw`.
    drop(unsafe { Arc::from_raw(opaque as *const Board) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

    #[test]
    fn a_wait_ends_with_the_first_event_of_its_kind_after_the_mark() {
        let board = Arc::new(Board::default());
        let before = board.mark(UUID);
        let recorder = {
            let board = board.clone();
            thread::spawn(move || board.record(UUID.to_string(), sys::VIR_DOMAIN_EVENT_STOPPED as c_int))
        };
        let begun = Instant::now();
        assert!(board.wait(&UUID.to_ascii_uppercase(), Lifecycle::Stopped, before, begun + Duration::from_secs(30)));
        assert!(begun.elapsed() < Duration::from_secs(20), "woken by the event, not by the deadline");
        recorder.join().unwrap();
        // Other kinds and other domains do not count; events before the mark neither.
        assert!(!board.wait(UUID, Lifecycle::Started, before, Instant::now()));
        assert!(!board.wait("00000000-0000-0000-0000-000000000000", Lifecycle::Stopped, before, Instant::now()));
        assert!(!board.wait(UUID, Lifecycle::Stopped, board.mark(UUID), Instant::now()));
    }
}
