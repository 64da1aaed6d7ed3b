//! fence_virtd: configuration, wizard, and the dispatcher between
//! listeners and the backend.

pub mod config;
pub mod dispatcher;
pub mod history;
pub mod permissions;
pub mod wizard;
