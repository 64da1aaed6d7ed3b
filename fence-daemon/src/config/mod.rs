//! fence_virt.conf: the text format, the tree the original builds from it,
//! and the typed, validated daemon configuration (spec §11).
//!
//! * [`ConfigTree`]: a total parser for the exact grammar, last-wins lookups
//!   by path, setters and the original's dump format;
//! * [`DaemonConfig`]: what `fence_virtd` runs with, built from a tree with
//!   every error naming `file:line`;
//! * [`ConfigError`] / [`Warning`]: one-line diagnostics.

mod backend;
mod daemon;
mod error;
mod fields;
mod lexer;
mod listener;
mod parser;
pub mod reload;
mod tree;

pub use backend::{BackendConfig, CpgConfig, GroupConfig, LibvirtConfig, NameMode, RebootMethod};
pub use daemon::DaemonConfig;
pub use error::{ConfigError, ConfigErrorKind, Warning};
pub use listener::{AuthSettings, ListenerConfig, MulticastConfig, SerialConfig, SerialMode, TcpConfig, VsockConfig};
pub use parser::MAX_DEPTH;
pub use tree::{ConfigTree, Item, Section, TreeError, Value};

#[cfg(test)]
mod tests;
