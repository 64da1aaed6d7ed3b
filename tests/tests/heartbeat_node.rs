//! One `heartbeat` node in a namespace, probed from a second namespace on
//! the same link: hostile packets are dropped and counted, the control
//! commands answer, configuration errors name file and line, and the
//! watchdog link feeds and stops feeding when the core dies.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use tests::heartbeat_node::{
    control, counters, keys, link, peer_socket, start_node, status, write_config, KEYS, NODE_ADDR, PEER_ADDR,
};
use tests::{our_bin, skip_unless_capable, wait_for};

#[test]
fn hostile_packets_are_dropped_and_counted_never_acted_on() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, peer_ns) = link();
    let conf = write_config(dir.path(), KEYS, "");
    let run = dir.path().join("run");
    let node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));

    let right = keys(KEYS);
    let wrong = keys("auth 1\n1 sha1 wrong-secret\n");
    let send = |bytes: &[u8]| {
        peer_socket(&peer_ns).send_to(bytes, (NODE_ADDR, 694)).unwrap();
    };
    // A peer heard with a good packet, then captured and replayed.
    let good = status(100, 5, "bravo").encode(&right);
    send(&good);
    send(&good);
    send(&status(99, 50, "bravo").encode(&right)); // older generation
    send(&status(100, 6, "bravo").with("hold", "stolen").encode(&wrong)); // wrong key
    send(&status(100, 7, "mallory").encode(&right)); // not a cluster node
    send(b"HB1\nt=status\nsrc=bravo\n"); // no signature
    let expected = "dropped packets: bad-auth 1 replayed 2 unknown-node 1 malformed 1 future-generation 0 throttled 0 \
                    queue-full 0";
    let seen = wait_for(Duration::from_secs(5), || counters(&run) == expected);
    assert!(seen, "counters: {} (want {expected})\n{}", counters(&run), node.log());
    let (_, nodes) = control(&run, &["nodes"]);
    assert!(nodes.contains("bravo normal active"), "the good packet counts: {nodes}");
    let log = node.log();
    assert!(log.contains(&format!("dropped packet from {PEER_ADDR}:")), "{log}");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("message from unknown node [mallory]"), "{log}");
    assert!(!log.contains("stolen"), "{log}");
}

#[test]
fn control_commands_answer_and_stop_is_graceful() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, _peer) = link();
    let ha_log = dir.path().join("ha-log");
    let conf = write_config(dir.path(), KEYS, &format!("logfile {}\nlogfacility local0\n", ha_log.display()));
    let run = dir.path().join("run");
    let (code, text) = control(&run, &["status"]);
    assert_eq!((code, text.as_str()), (3, "heartbeat is stopped. No process\n"));

    let mut node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    let (code, text) = control(&run, &["status"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("heartbeat OK [pid "), "{text}");
    assert!(text.contains("is running on alpha [alpha]..."), "{text}");
    let (code, text) = control(&run, &["standby", "sideways"]);
    assert_ne!(code, 0);
    assert!(text.contains("all, local or foreign"), "{text}");

    // Alone after initdead: bravo is declared dead, and with no fencing it is not taken over.
    let declared = wait_for(Duration::from_secs(10), || node.log().contains("node bravo: is dead"));
    assert!(declared, "{}", node.log());
    let (_, nodes) = control(&run, &["nodes"]);
    assert!(nodes.contains("bravo normal dead (not fenced yet)"), "{nodes}");
    assert!(node.log().contains("Not taking over from bravo: no STONITH device configured"), "{}", node.log());

    let (code, text) = control(&run, &["stop"]);
    assert_eq!(code, 0, "{text}");
    assert!(node.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()), "{}", node.log());
    assert!(node.log().contains("alpha Heartbeat shutdown complete."), "{}", node.log());
    assert!(!run.join("heartbeat.sock").exists());
    // The logfile has Heartbeat's line format: "MON DD HH:MM:SS NODE heartbeat: [PID]: LEVEL: TEXT".
    let logged = std::fs::read_to_string(&ha_log).unwrap();
    let line = logged.lines().find(|l| l.ends_with("WARN: node bravo: is dead")).expect("dead line in logfile");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3..5], ["alpha", "heartbeat:"], "{line}");
    assert!(fields[5].starts_with('[') && fields[5].ends_with("]:"), "{line}");
    assert!(logged.contains("info: alpha Heartbeat shutdown complete."), "{logged}");
}

#[test]
fn configuration_errors_name_file_and_line_and_exit_6() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("deadtime 1\nkeepalive 2\n", "ha.cf:", "Dead time"),
        ("keepalive fast\n", "ha.cf:8:", "Keepalive time [fast] is invalid."),
        ("KEEPALIVE 1\n", "ha.cf:8:", "did you mean keepalive?"),
        ("stonith_timeout 0\n", "ha.cf:8:", "STONITH timeout [0] must be greater than zero."),
        ("unfenced_takeover maybe\n", "ha.cf:8:", "unfenced_takeover [maybe] is not a boolean"),
        ("watchdog_socket relative.sock\n", "ha.cf:8:", "is not an absolute path"),
        ("mcast eth0 10.0.0.1 694 1 0\n", "ha.cf:8:", "mcast"),
    ];
    for (extra, at, message) in cases {
        let conf = write_config(dir.path(), KEYS, extra);
        let out =
            Command::new(our_bin("heartbeat")).args(["check", "--node", "alpha", "-c"]).arg(&conf).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{extra}: {stderr}");
        assert!(stderr.contains(at) && stderr.contains(message), "{extra}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    // authkeys readable by others is refused, as Heartbeat does.
    use std::os::unix::fs::PermissionsExt;
    let conf = write_config(dir.path(), KEYS, "");
    std::fs::set_permissions(conf.join("authkeys"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(our_bin("heartbeat")).args(["run", "--node", "alpha", "-c"]).arg(&conf).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("Bad permissions on keyfile"), "{stderr}");
    // A node that is not listed.
    let conf = write_config(dir.path(), KEYS, "");
    let out =
        Command::new(our_bin("heartbeat")).args(["check", "--node", "charlie", "-c"]).arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Current node [charlie] not in configuration!"));
}

#[test]
fn the_core_feeds_the_watchdog_service_and_stops_when_killed() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, _peer) = link();
    let socket_path = dir.path().join("fence-watchdog.sock");
    let service = UnixDatagram::bind(&socket_path).unwrap();
    service.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let conf = write_config(
        dir.path(),
        KEYS,
        &format!("watchdog /dev/watchdog-not-used\nwatchdog_socket {}\n", socket_path.display()),
    );
    let run = dir.path().join("run");
    let mut node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    let mut buf = [0u8; 128];
    let mut feeds = 0;
    for _ in 0..5 {
        let mut n = service.recv(&mut buf).expect("a feed every keepalive");
        if buf[..n].starts_with(b"hello heartbeat") {
            n = service.recv(&mut buf).expect("a feed every keepalive"); // the start-up probe, once
        }
        assert_eq!(&buf[..n], b"feed heartbeat\n");
        feeds += 1;
    }
    assert_eq!(feeds, 5);
    assert!(node.log().contains("Feeding the fence-watchdog service through"), "{}", node.log());
    node.signal(nix::sys::signal::Signal::SIGKILL);
    node.wait_exit(Duration::from_secs(5)).expect("killed");
    while service.recv(&mut buf).is_ok() {} // drain what was sent before the kill
    assert!(service.recv(&mut buf).is_err(), "a killed core must not feed");
}
