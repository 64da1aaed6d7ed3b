//! One open hypervisor connection, closed explicitly.
//!
//! `virt::connect::Connect` panics when it is dropped and closing fails, and
//! every clone is another reference to close. A [`Link`] is never cloned:
//! its owner thread ([`super::owner`]) holds it, lends it to the calls it
//! runs, and closes it once — logging, not panicking, when that fails.

use std::ffi::c_int;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use virt::connect::Connect;
use virt::sys;

use super::events::{self, Board};

/// An open connection and its lifecycle-event registration, if any.
pub(super) struct Link {
    uri: String,
    connect: ManuallyDrop<Connect>,
    lifecycle: Option<c_int>,
}

impl Link {
    /// Opens `uri` and registers `board` for its lifecycle events where the
    /// driver has them. The error is `uri: libvirt's message`.
    pub(super) fn open(uri: &str, board: &Arc<Board>) -> Result<Link, String> {
        let connect = Connect::open(Some(uri)).map_err(|e| format!("{uri}: {}", e.message()))?;
        let lifecycle = events::register(&connect, board);
        if lifecycle.is_none() {
            tracing::debug!("libvirt: {uri} has no lifecycle events; waiting by polling");
        }
        Ok(Link { uri: uri.to_string(), connect: ManuallyDrop::new(connect), lifecycle })
    }

    /// The connection, for one call.
    pub(super) fn connect(&self) -> &Connect {
        &self.connect
    }

    /// Whether libvirt still considers the connection usable.
    pub(super) fn is_alive(&self) -> bool {
        self.connect.is_alive().unwrap_or(false)
    }

    /// Whether lifecycle events of this connection reach the board.
    pub(super) fn has_events(&self) -> bool {
        self.lifecycle.is_some()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(id) = self.lifecycle.take() {
            events::deregister(&self.connect, id);
        }
        // SAFETY: `connect` holds the only reference this process took (a
        // Link is never cloned); it is closed here once and never used or
        // dropped again (ManuallyDrop).
        if unsafe { sys::virConnectClose(self.connect.as_ptr()) } < 0 {
            tracing::warn!("libvirt: closing the connection to {} failed", self.uri);
        }
    }
}
