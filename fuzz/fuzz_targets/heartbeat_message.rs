//! Any datagram is dropped with a reason or decodes to a message, never a
//! panic; a decoded message re-encodes to one that decodes the same; the
//! receive-thread intake never panics either. Besides the raw input, the
//! input is tried after a valid header, unsigned and correctly signed, so
//! the fuzzer reaches the field parser without having to forge a MAC.
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use heartbeat::config::authkeys::AuthKeys;
use heartbeat::membership::intake::{Intake, Warnings};
use heartbeat::membership::message::Message;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [AuthKeys; 2] {
    static KEYS: OnceLock<[AuthKeys; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let parse = |text: &str| AuthKeys::parse(Path::new("authkeys"), text).expect("valid authkeys").0;
        [parse("auth 1\n1 sha1 fuzz-secret\n2 crc\n"), parse("auth 3\n3 crc\n")]
    })
}

const HEADER: &[u8] = b"HB1\nt=status\nsrc=bravo\nhg=1800000000\nseq=1\n";

fn check(data: &[u8]) {
    for k in keys() {
        if let Ok(msg) = Message::decode(data, k) {
            let again = Message::decode(&msg.encode(k), k).expect("a re-encoded message decodes");
            assert_eq!(again, msg);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let body = [HEADER, data].concat();
    check(&body);
    if let Ok(text) = std::str::from_utf8(&body) {
        let signed = format!("{text}auth={}\n", keys()[0].token(text.as_bytes()));
        check(signed.as_bytes());
    }
    let nodes = vec!["alpha".to_string(), "bravo".to_string()];
    let mut intake =
        Intake::new(keys()[1].clone(), "alpha", &nodes, &[], Default::default(), Warnings::default());
    let from: SocketAddr = "198.18.0.2:694".parse().unwrap();
    let _ = intake.admit(data, from, "eth0", Instant::now(), 1_800_000_000);
});
