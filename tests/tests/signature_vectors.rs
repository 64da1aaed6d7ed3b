//! Requests signed by the stock fence_xvm verified by our code, for every
//! hash type; and requests signed by our code accepted by the stock daemon.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use keys::HashAlgorithm;
use protocol::{Operation, Request, REQUEST_LEN};
use tests::*;

#[test]
fn stock_client_packets_verify_with_our_code() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_bytes = b"vector-key\n";
    let key = write_key(dir.path(), "k", key_bytes);
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let socket = ns.enter(|| {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 1229)).unwrap();
        s.join_multicast_v4(&Ipv4Addr::new(225, 0, 0, 12), &Ipv4Addr::LOCALHOST).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    });
    for (hash, op, action, domain) in [
        ("none", Operation::Status, "status", "vm1"),
        ("sha1", Operation::Off, "off", "vm-two"),
        ("sha256", Operation::Reboot, "reboot", "vm3"),
        ("sha512", Operation::HostList, "list", ""),
    ] {
        let mut args = vec!["-k", key.to_str().unwrap(), "-c", hash, "-o", action, "-t", "1", "-r", "10"];
        if !domain.is_empty() {
            args.extend(["-H", domain]);
        }
        let mut cmd = ns.command(STOCK_XVM);
        cmd.args(&args);
        let _client = Guard::spawn(cmd, &dir.path().join("client.log"));
        let mut buf = [0u8; 512];
        let (len, from) = socket.recv_from(&mut buf).expect("stock fence_xvm sent nothing");
        assert_eq!(len, REQUEST_LEN);
        let algorithm: HashAlgorithm = hash.parse().unwrap();
        let request = Request::verify_and_decode(&buf[..len], key_bytes, algorithm).expect("stock signature verifies");
        assert_eq!(request.hash, algorithm);
        assert_eq!(request.operation, op);
        assert_eq!(request.domain, domain);
        assert_eq!(request.callback, Some(std::net::SocketAddr::new(from.ip(), 1229)));
        let mut tampered = buf;
        tampered[10] ^= 1;
        if algorithm != HashAlgorithm::None {
            assert!(Request::verify_and_decode(&tampered[..len], key_bytes, algorithm).is_err());
            assert!(
                Request::verify_and_decode(&buf[..len], b"vector-key", algorithm).is_err(),
                "newline is part of the key"
            );
        }
        // Drain the retransmissions of this run before the next one.
        std::thread::sleep(Duration::from_millis(1100));
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        while socket.recv_from(&mut buf).is_ok() {}
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
}

#[test]
fn our_signatures_are_accepted_by_the_stock_daemon() {
    if skip_unless_capable(&[STOCK_DAEMON]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", &[0x5au8; 4096]);
    let conf = dir.path().join("fence_virt.conf");
    std::fs::write(&conf, daemon_config("multicast", &key, "sha1", "", "")).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut cmd = ns.command(STOCK_DAEMON);
    cmd.arg("-F").arg("-f").arg(&conf).arg("-p").arg(dir.path().join("pid"));
    let mut daemon = Guard::spawn(cmd, &dir.path().join("daemon.log"));
    assert!(wait_for(Duration::from_secs(10), || udp_port_bound(&ns, 1229)), "{}", daemon.log());
    for hash in ["sha1", "sha256", "sha512"] {
        let out = ns.run(
            our_bin("fence_xvm"),
            &["-k", key.to_str().unwrap(), "-c", hash, "-o", "status", "-H", "test", "-t", "5"],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "hash {hash}: {out:?}");
    }
    for auth in ["sha1", "sha512"] {
        let out = ns.run(
            our_bin("fence_xvm"),
            &["-k", key.to_str().unwrap(), "-C", auth, "-o", "status", "-H", "test", "-t", "3"],
            None,
        );
        assert_eq!(out.status.code(), Some(1), "auth {auth} differs from the daemon's sha256: {out:?}");
    }
    assert!(daemon.alive());
}
