//! Any byte string parses to a tree or a positioned error, never a panic;
//! a parsed tree survives dump and re-parse.
#![no_main]

use std::path::Path;

use fence_daemon::config::{ConfigTree, DaemonConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.conf");
    if let Ok(tree) = ConfigTree::parse(data, path) {
        let dumped = tree.dump();
        ConfigTree::parse(dumped.as_bytes(), path).expect("a dumped tree parses again");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DaemonConfig::from_str(text, path);
    }
});
