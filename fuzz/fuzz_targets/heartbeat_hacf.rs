//! Any text parses to a configuration or a one-line positioned error,
//! never a panic.
#![no_main]

use std::path::Path;

use heartbeat::config::hacf::HaConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match HaConfig::parse(Path::new("ha.cf"), text, "alpha") {
        Ok((_, warnings)) => assert!(warnings.iter().all(|w| !w.to_string().contains('\n'))),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
