//! Any text parses to resource groups or a one-line positioned error,
//! never a panic.
#![no_main]

use std::path::Path;

use heartbeat::config::haresources::HaResources;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let nodes = ["alpha".to_string(), "bravo".to_string()];
    match HaResources::parse(Path::new("haresources"), text, &nodes) {
        Ok((_, warnings)) => assert!(warnings.iter().all(|w| !w.to_string().contains('\n'))),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
