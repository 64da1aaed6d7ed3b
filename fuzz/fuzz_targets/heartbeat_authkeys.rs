//! Any text parses to keys or a one-line positioned error, never a panic;
//! parsed keys sign and verify their own tokens.
#![no_main]

use std::path::Path;

use heartbeat::config::authkeys::AuthKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match AuthKeys::parse(Path::new("authkeys"), text) {
        Ok((keys, warnings)) => {
            assert!(warnings.iter().all(|w| !w.to_string().contains('\n')));
            let token = keys.token(b"fuzz");
            assert!(keys.verify_token(b"fuzz", &token) || !keys.verifies_with(keys.signing_key()));
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
