//! What a bogus signed packet costs the daemon to reject, with the key
//! hashed per packet (`verify_and_decode`) and with the key absorbed once
//! (`verify_and_decode_prepared`, what the listeners use). Prints figures;
//! asserts nothing. Run: `cargo run --release -p protocol --example verify_cost`.

use std::hint::black_box;
use std::time::Instant;

use keys::{HashAlgorithm, PreparedKey};
use protocol::{Operation, Request};

fn main() {
    const PACKETS: u32 = 20_000;
    for key_len in [32usize, 4096] {
        let key: Vec<u8> = (0..key_len).map(|i| (i * 7 % 251) as u8).collect();
        let prepared = PreparedKey::new(&key);
        for algorithm in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let mut request = Request::new(Operation::Off, "victim", algorithm);
            request.callback = Some("198.18.0.2:1229".parse().unwrap());
            // Signed with another key: every packet fails verification.
            let bogus = request.to_signed_bytes(b"not-the-key");
            let start = Instant::now();
            for _ in 0..PACKETS {
                assert!(black_box(Request::verify_and_decode(black_box(&bogus), &key, algorithm)).is_err());
            }
            let per_packet = start.elapsed() / PACKETS;
            let start = Instant::now();
            for _ in 0..PACKETS {
                let r = Request::verify_and_decode_prepared(black_box(&bogus), &prepared, true, algorithm);
                assert!(black_box(r).is_err());
            }
            let prepared_per_packet = start.elapsed() / PACKETS;
            println!(
                "key {key_len:>4} B, {algorithm}: key hashed per packet {per_packet:>9.2?}, absorbed once {prepared_per_packet:>9.2?} ({:.1}x)",
                per_packet.as_secs_f64() / prepared_per_packet.as_secs_f64()
            );
        }
    }
}
