//! Hostile input against our fence_virtd: every malformed or unauthorised
//! packet is dropped and counted, never acted on; a peer that stalls its
//! callback costs only its own task.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use keys::HashAlgorithm;
use protocol::request::layout::{
    OFF_ADDRESS, OFF_ADDRLEN, OFF_DOMAIN, OFF_FAMILY, OFF_HASH, OFF_HASHTYPE, OFF_OP, OFF_PORT, OFF_RANDOM, OFF_SEQNO,
};
use protocol::{Operation, Request, REQUEST_LEN};
use tests::*;

const KEY: &[u8] = b"hardening-test-key-0123456789";

fn start(ns: &Netns, dir: &std::path::Path) -> (Guard, std::path::PathBuf) {
    let key = write_key(dir, "k", KEY);
    let conf = dir.join("fence_virt.conf");
    std::fs::write(&conf, daemon_config("multicast", &key, "sha256", "", "")).unwrap();
    (spawn_our_daemon(ns, &conf, dir), key)
}

/// Re-signs a raw request in place with sha256 (after mutating a field).
fn resign(raw: &mut [u8; REQUEST_LEN]) {
    raw[1] = 2;
    raw[112..].fill(0);
    let digest = HashAlgorithm::Sha256.keyed_digest(KEY, raw);
    raw[112..].copy_from_slice(&digest);
}

fn off_request(callback_port: u16) -> [u8; REQUEST_LEN] {
    request(Operation::Off, callback_port)
}

fn request(operation: Operation, callback_port: u16) -> [u8; REQUEST_LEN] {
    let mut r = Request::new(operation, "test", HashAlgorithm::Sha256);
    r.callback = Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), callback_port));
    r.seqno = rand_seqno();
    r.random = [9; 6];
    r.to_signed_bytes(KEY)
}

fn rand_seqno() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

#[test]
fn hostile_packets_are_dropped_and_the_daemon_keeps_serving() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let (mut daemon, key) = start(&ns, dir.path());
    // A callback listener that would notice any callback at all.
    let (trap, trap_port) = ns.enter(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        (l, port)
    });
    let mut packets: Vec<(&str, Vec<u8>)> = Vec::new();
    let good = off_request(trap_port);
    packets.push(("truncated", good[..100].to_vec()));
    packets.push(("oversized", [&good[..], &[0u8; 40]].concat()));
    packets.push(("empty", Vec::new()));
    let mut m = good;
    m[OFF_OP] = 7;
    resign(&mut m);
    packets.push(("unknown request code", m.to_vec()));
    let mut m = good;
    m[OFF_HASHTYPE] = 9;
    packets.push(("unknown hash code", m.to_vec()));
    let mut m = good;
    m[OFF_ADDRLEN] = 200;
    m[OFF_FAMILY] = 77;
    resign(&mut m);
    packets.push(("unknown family, bogus address length", m.to_vec()));
    let mut m = good;
    m[OFF_DOMAIN..OFF_ADDRESS].fill(b'x');
    resign(&mut m);
    packets.push(("unterminated domain", m.to_vec()));
    let mut m = good;
    m[OFF_PORT..OFF_PORT + 2].fill(0);
    resign(&mut m);
    packets.push(("port 0", m.to_vec()));
    let mut m = good;
    m[OFF_HASHTYPE] = 0;
    m[OFF_RANDOM..OFF_SEQNO].fill(0);
    m[OFF_HASH..].fill(0);
    packets.push(("hash none (downgrade)", m.to_vec()));
    let mut m = good;
    m[OFF_ADDRESS..OFF_ADDRESS + 4].copy_from_slice(&[198, 18, 7, 7]);
    resign(&mut m);
    packets.push(("callback address not the sender's", m.to_vec()));
    let mut m = good;
    m[OFF_HASH + 8] ^= 0xff;
    packets.push(("bad signature", m.to_vec()));
    let mut garbage = [0u8; REQUEST_LEN];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    packets.push(("garbage", garbage.to_vec()));

    for _ in 0..3 {
        send_multicast(&ns, &packets.iter().map(|(_, p)| p.as_slice()).collect::<Vec<_>>());
    }
    // A valid request sent after them, to another port: once its callback
    // arrives, the daemon has judged every packet before it (one receive
    // loop, in order) and started any callback they caused.
    let (marker, marker_port) = ns.enter(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        (l, port)
    });
    send_multicast(&ns, &[&request(Operation::Status, marker_port)]);
    let mut marker_callback = None;
    assert!(
        wait_for(Duration::from_secs(5), || {
            marker_callback = marker.accept().ok();
            marker_callback.is_some()
        }),
        "no callback for a valid request sent after the hostile ones\n{}",
        daemon.log()
    );
    // Held open to the end: a callback dropped now would count as a failed
    // callback to 127.0.0.1, and the daemon would back off from it.
    assert!(trap.accept().is_err(), "a hostile packet caused a callback");

    // A valid request whose callback port is closed: counted, nothing done.
    drop(trap);
    let closed = off_request(trap_port);
    send_multicast(&ns, &[&closed]);
    assert!(wait_for(Duration::from_secs(5), || daemon.log().contains("failed to call back")), "{}", daemon.log());

    assert!(daemon.alive(), "daemon died: {}", daemon.log());
    let key = key.to_str().unwrap();
    let status = ns.run(our_bin("fence_xvm"), &["-k", key, "-t", "5", "-o", "status", "-H", "test"], None);
    assert_eq!(
        status.status.code(),
        Some(0),
        "guest must be untouched and the daemon serving: {status:?}\n{}",
        daemon.log()
    );
    assert!(daemon.log().contains("dropped request from 127.0.0.1"), "{}", daemon.log());
    assert!(!daemon.log().to_lowercase().contains("panick"), "{}", daemon.log());
    drop(marker_callback);
}

#[test]
fn stalled_callbacks_do_not_block_other_requests() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let (mut daemon, key) = start(&ns, dir.path());
    // Three requesters that accept the callback and then never answer.
    let stallers: Vec<(TcpListener, u16)> = (0..3)
        .map(|_| {
            ns.enter(|| {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = l.local_addr().unwrap().port();
                (l, port)
            })
        })
        .collect();
    let mut held = Vec::new();
    for (listener, port) in &stallers {
        let mut r = Request::new(Operation::Status, "test", HashAlgorithm::Sha256);
        r.callback = Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), *port));
        r.seqno = rand_seqno();
        r.random = [1; 6];
        let raw = r.to_signed_bytes(KEY);
        send_multicast(&ns, &[&raw]);
        let (conn, _) = listener.accept().expect("daemon calls back the staller");
        held.push(conn);
    }
    // The stock client is served while all three stall (each holds its task ≥ 10 s).
    let out = ns.run(STOCK_XVM, &["-k", key.to_str().unwrap(), "-t", "5", "-o", "status", "-H", "test"], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", daemon.log());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Status: ON\n");
    assert!(daemon.alive());
    drop(held);
}
