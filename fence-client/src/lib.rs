//! fence_xvm / fence_virt: the fence agent.
//!
//! One program with two personalities picked from the name it is started
//! under: `fence_xvm` speaks multicast; `fence_virt` speaks TCP (`-T`).
//! vsock (`-S`) and serial (`-D`) options are parsed and answered "not
//! implemented yet". Options come from the command line, or — with no
//! arguments at all — from `key=value` lines on stdin as Pacemaker sends them.

pub mod metadata;
pub mod options;
pub mod params;
pub mod run;
pub mod transport;
pub mod values;

pub use run::main_from_env;
