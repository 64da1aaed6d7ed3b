//! Any byte string is a typed request or a typed rejection, never a panic;
//! an accepted request re-encodes to bytes that decode to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{HashAlgorithm, Request};

fuzz_target!(|data: &[u8]| {
    let _ = Request::decode_unverified(data);
    for min in HashAlgorithm::ALL {
        if let Ok(request) = Request::verify_and_decode(data, b"fuzz-key", min) {
            // Only unsigned packets can be forged without the key.
            assert_eq!(request.hash, HashAlgorithm::None);
        }
    }
    if let Ok(mut request) = Request::decode_unverified(data) {
        let again = Request::decode_unverified(&request.to_signed_bytes(b"fuzz-key")).expect("re-encoded request parses");
        if request.hash == HashAlgorithm::None {
            request.random = [0; 6];
        }
        assert_eq!(again, request, "decode/encode round trip");
    }
});
