//! What a peer on the network can cost our fence_virtd's listeners: idle
//! TCP connections (caps, a fast deadline, accept errors that neither spin
//! nor flood the log), datagrams that reach the multicast socket by another
//! way than the group on the configured interface, and warnings provoked in
//! bulk (rate-limited, but every event still counted).

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keys::HashAlgorithm;
use protocol::{Operation, Request};
use socket2::{Domain, SockAddr, Socket, Type};
use tests::*;

const KEY: &[u8] = b"listener-limits-test-key-0123456789";

fn write_conf(dir: &Path, listener: &str, extra: &str) -> (PathBuf, PathBuf) {
    let key = write_key(dir, "k", KEY);
    let conf = dir.join("fence_virt.conf");
    std::fs::write(&conf, daemon_config(listener, &key, "sha256", extra, "")).unwrap();
    (conf, key)
}

/// Starts our daemon in `ns` with its open-file limit lowered to `nofile`.
fn spawn_with_nofile(ns: &Netns, conf: &Path, dir: &Path, nofile: u32) -> Guard {
    let mut cmd = ns.command("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(our_bin("fence_virtd"))
        .arg("-F")
        .arg("-d1")
        .arg("-f")
        .arg(conf)
        .arg("-p")
        .arg(dir.join("fence_virtd.pid"));
    let mut daemon = Guard::spawn(cmd, &dir.join("daemon.log"));
    let ready = wait_for(Duration::from_secs(10), || daemon.log().contains("ready"));
    assert!(ready && daemon.alive(), "our fence_virtd did not start: {}", daemon.log());
    daemon
}

/// A signed request whose callback is `callback`, unique by seqno and random bytes.
fn signed(operation: Operation, callback: SocketAddr, seqno: u32) -> [u8; protocol::REQUEST_LEN] {
    let mut r = Request::new(operation, "test", HashAlgorithm::Sha256);
    r.callback = Some(callback);
    r.seqno = seqno;
    let nanos = Instant::now().elapsed().subsec_nanos() ^ std::process::id();
    r.random = [(seqno >> 8) as u8, seqno as u8, (nanos >> 24) as u8, (nanos >> 16) as u8, 0x5a, 0xa5];
    r.to_signed_bytes(KEY)
}

/// Stops the daemon with SIGTERM and returns its whole log (with the summary).
fn stop(mut daemon: Guard) -> String {
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(40)).expect("daemon stops on SIGTERM");
    assert!(status.success(), "{status:?}: {}", daemon.log());
    daemon.log()
}

fn raise_own_nofile(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).expect("raise RLIMIT_NOFILE of the test process");
    }
}

/// What the client side sees of one idle connection.
#[derive(Clone, Copy)]
struct Seen {
    /// When `connect` was issued (the test paces connects, so they are
    /// established at once).
    opened: Instant,
    closed: Option<Instant>,
}

/// Notes when the daemon has closed the connection (EOF or reset).
fn observe(socket: &Socket, seen: &mut Seen, now: Instant) {
    if seen.closed.is_some() {
        return;
    }
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket.recv(&mut buf) {
        Ok(_) => seen.closed = Some(now),
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::NotConnected => {}
        Err(_) => seen.closed = Some(now),
    }
}

/// Opens `count` connections to 127.0.0.1:1229 in `ns` from the addresses
/// `source(i)`, and sends nothing on them. They are opened 20 at a time,
/// 10 ms apart, so the kernel's accept queue (128) does not overflow while
/// the daemon keeps accepting: a connection the kernel drops on overflow
/// would sit in SYN retransmission, held by no one.
fn open_idle(ns: &Netns, count: u32, source: impl Fn(u32) -> Ipv4Addr) -> Vec<(Socket, Seen)> {
    let target = SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 1229)));
    ns.enter(|| {
        (0..count)
            .map(|i| {
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                s.bind(&SocketAddr::from((source(i), 0)).into()).unwrap();
                s.set_nonblocking(true).unwrap();
                match s.connect(&target) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
                    Err(e) => panic!("connect {i}: {e}"),
                }
                (s, Seen { opened: Instant::now(), closed: None })
            })
            .collect()
    })
}

/// Item 4: 1,200 idle connections from four addresses against a daemon
/// limited to 256 open files. A genuine request (stock fence_virt) is still
/// served while they are held; the idle ones are closed within ~1 s; the
/// log does not get a line per accept error.
#[test]
fn idle_tcp_connections_are_capped_and_closed_fast() {
    if skip_unless_capable(&[STOCK_VIRT]) {
        return;
    }
    raise_own_nofile(4096);
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    let (conf, key) = write_conf(dir.path(), "tcp", "");
    let daemon = spawn_with_nofile(&ns, &conf, dir.path(), 256);

    let opened = Instant::now();
    let idle = open_idle(&ns, 1200, |i| Ipv4Addr::new(127, 0, 0, 2 + (i % 4) as u8));

    // A genuine client from another address is served while they are held.
    let genuine = ns
        .command(STOCK_VIRT)
        .args(["-k", key.to_str().unwrap(), "-t", "5", "-T", "127.0.0.1", "-o", "status", "-n", "test"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Every idle connection is closed by the daemon about a second after it
    // was established (or at once when over a cap).
    let (idle, mut seen): (Vec<Socket>, Vec<Seen>) = idle.into_iter().unzip();
    let all_closed = poll_every(Duration::from_secs(15), Duration::from_millis(50), || {
        let now = Instant::now();
        for (socket, seen) in idle.iter().zip(seen.iter_mut()) {
            observe(socket, seen, now);
        }
        seen.iter().all(|s| s.closed.is_some())
    });
    let out = genuine.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "genuine request while 1,200 idle connections are open: {out:?}\n{}", {
        let log = daemon.log();
        log.lines().take(20).collect::<Vec<_>>().join("\n")
    });
    let open = seen.iter().filter(|s| s.closed.is_none()).count();
    assert!(all_closed, "{open} idle connection(s) still open {:?} after opening", opened.elapsed());
    let longest = seen.iter().map(|s| s.closed.unwrap() - s.opened).max().unwrap();
    assert!(longest <= Duration::from_millis(2000), "an idle connection stayed open {longest:?}");

    let log = stop(daemon);
    let accept_lines = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(accept_lines <= 5, "{accept_lines} accept lines in the log:\n{}", tail(&log, 30));
    let refused_lines = log.lines().filter(|l| l.contains(" refused: ")).count();
    assert!(refused_lines <= 3, "connection refusals are rate-limited:\n{}", tail(&log, 30));
}

/// Item 4, from many addresses: 1,200 idle connections from 300 addresses
/// (4 each, under the per-address cap) against a daemon limited to 256 open
/// files fill the connection cap, never the file table: no accept errors,
/// refusals logged a bounded number of times, and the daemon serves again
/// as soon as the idle ones time out.
#[test]
fn idle_tcp_connections_from_many_addresses_fill_the_cap_not_the_file_table() {
    if skip_unless_capable(&[STOCK_VIRT]) {
        return;
    }
    raise_own_nofile(4096);
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    let (conf, key) = write_conf(dir.path(), "tcp", "");
    let daemon = spawn_with_nofile(&ns, &conf, dir.path(), 256);
    let idle = open_idle(&ns, 1200, |i| Ipv4Addr::new(127, 1, (i % 300 / 200) as u8, (i % 300 % 200) as u8 + 1));
    let (idle, mut seen): (Vec<Socket>, Vec<Seen>) = idle.into_iter().unzip();
    let all_closed = poll_every(Duration::from_secs(15), Duration::from_millis(50), || {
        let now = Instant::now();
        for (socket, seen) in idle.iter().zip(seen.iter_mut()) {
            observe(socket, seen, now);
        }
        seen.iter().all(|s| s.closed.is_some())
    });
    assert!(all_closed, "idle connections still open: {}", seen.iter().filter(|s| s.closed.is_none()).count());
    let out = ns.run(
        STOCK_VIRT,
        &["-k", key.to_str().unwrap(), "-t", "5", "-T", "127.0.0.1", "-o", "status", "-n", "test"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "served again after the flood: {out:?}\n{}", tail(&daemon.log(), 20));
    let log = stop(daemon);
    let accept_lines = log.lines().filter(|l| l.contains("accept failed")).count();
    assert_eq!(accept_lines, 0, "the connection cap keeps file descriptors free:\n{}", tail(&log, 30));
    let refused_lines = log.lines().filter(|l| l.contains(" refused: ")).count();
    assert!((1..=3).contains(&refused_lines), "refusals logged, rate-limited:\n{}", tail(&log, 30));
}

fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A callback listener in `ns` on `address`.
fn callback_listener(ns: &Netns, address: &str) -> (TcpListener, SocketAddr) {
    ns.enter(|| {
        let l = TcpListener::bind((address, 0)).unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    })
}

/// Waits up to `limit` for a connection on `listener`.
fn accept_within(listener: &TcpListener, limit: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let end = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((s, _)) => return Some(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => return None,
        }
    }
}

/// Sends `datagram` to the default fence_xvm group (225.0.0.12:1229) from
/// `from` inside `ns`.
fn send_to_group(ns: &Netns, from: &str, datagram: &[u8]) {
    ns.enter(|| {
        let s = UdpSocket::bind((from, 0)).unwrap();
        s.send_to(datagram, "225.0.0.12:1229").unwrap();
    })
}

/// Asserts that the daemon called back `served` within 5 s and then did
/// not call back `ignored` within 300 ms (a request it ignores was sent
/// first, so its callback would have had the same chance to arrive);
/// `served_what` and `ignored_what` name the two requests.
fn assert_only_served(
    daemon: &Guard,
    served: &TcpListener,
    served_what: &str,
    ignored: &TcpListener,
    ignored_what: &str,
) {
    let called = accept_within(served, Duration::from_secs(5));
    assert!(called.is_some(), "{served_what} got no callback: {}", daemon.log());
    let acted_on = accept_within(ignored, Duration::from_millis(300));
    assert!(acted_on.is_none(), "{ignored_what} was acted on: {}", daemon.log());
}

/// Item 7: a signed, valid request sent as unicast to the daemon host's
/// address on port 1229 is not acted on; the same sent to the group is.
#[test]
fn unicast_datagrams_to_the_multicast_port_are_ignored() {
    if skip_unless_capable(&[]) {
        return;
    }
    let lan = Lan::new(2);
    let dir = tempfile::tempdir().unwrap();
    let (conf, _) = write_conf(dir.path(), "multicast", "");
    let daemon = spawn_our_daemon(&lan.hosts[0], &conf, dir.path());
    let client = &lan.hosts[1];
    let (unicast_trap, unicast_cb) = callback_listener(client, &Lan::address(1));
    let (group_trap, group_cb) = callback_listener(client, &Lan::address(1));
    client.enter(|| {
        let s = UdpSocket::bind((Lan::address(1).as_str(), 0)).unwrap();
        s.send_to(&signed(Operation::Status, unicast_cb, 1001), (Lan::address(0).as_str(), 1229)).unwrap();
        s.send_to(&signed(Operation::Status, group_cb, 1002), "225.0.0.12:1229").unwrap();
    });
    // The unicast datagram was processed first if at all.
    let unicast = format!("a unicast datagram to {}:1229", Lan::address(0));
    assert_only_served(&daemon, &group_trap, "the multicast request", &unicast_trap, &unicast);
}

/// Item 7, IPv6: a unicast datagram to the host's global address on port
/// 1229 is not acted on; the same sent to the group (ff05::3:1) is.
#[test]
fn ipv6_unicast_datagrams_to_the_multicast_port_are_ignored() {
    if skip_unless_capable(&[]) {
        return;
    }
    let ns = Netns::new();
    ns.with_ipv6("2001:2::1");
    let dir = tempfile::tempdir().unwrap();
    let (conf, _) = write_conf(dir.path(), "multicast", "\t\tfamily = \"ipv6\";\n\t\taddress = \"ff05::3:1\";\n");
    let daemon = spawn_our_daemon(&ns, &conf, dir.path());
    let (unicast_trap, unicast_cb) = callback_listener(&ns, "2001:2::1");
    let (group_trap, group_cb) = callback_listener(&ns, "2001:2::1");
    ns.enter(|| {
        let s = UdpSocket::bind("[2001:2::1]:0").unwrap();
        s.send_to(&signed(Operation::Status, unicast_cb, 4001), "[2001:2::1]:1229").unwrap();
        s.send_to(&signed(Operation::Status, group_cb, 4002), "[ff05::3:1]:1229").unwrap();
    });
    let unicast = "a unicast datagram to [2001:2::1]:1229";
    assert_only_served(&daemon, &group_trap, "the multicast request", &unicast_trap, unicast);
}

/// Item 7: with `interface = "eth0"`, a request reaching the daemon host on
/// eth1 is ignored, even when another program there joined the group on
/// eth1; the same request from eth0's side is served.
#[test]
fn multicast_requests_from_another_interface_are_ignored() {
    if skip_unless_capable(&[]) {
        return;
    }
    // host (daemon) eth0 198.18.0.1 <-> inside 198.18.0.2; eth1 198.18.1.1 <-> outside 198.18.1.2.
    let host = Netns::new();
    let inside = Netns::new();
    let outside = Netns::new();
    for (dev, peer, net) in [("eth0", &inside, "198.18.0"), ("eth1", &outside, "198.18.1")] {
        host.ip(&["link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", &peer.name]);
        host.ip(&["addr", "add", &format!("{net}.1/24"), "dev", dev]);
        host.ip(&["link", "set", dev, "up"]);
        peer.ip(&["addr", "add", &format!("{net}.2/24"), "dev", "eth0"]);
        peer.ip(&["link", "set", "eth0", "up"]);
        peer.ip(&["route", "add", "224.0.0.0/4", "dev", "eth0"]);
    }
    host.ip(&["route", "add", "224.0.0.0/4", "dev", "eth0"]);
    let dir = tempfile::tempdir().unwrap();
    let (conf, _) = write_conf(dir.path(), "multicast", "\t\tinterface = \"eth0\";\n");
    let daemon = spawn_our_daemon(&host, &conf, dir.path());
    // Another program on the daemon host listens to the group on eth1.
    let _other = host.enter(|| {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&SockAddr::from(SocketAddrV4::new(Ipv4Addr::new(225, 0, 0, 12), 1229))).unwrap();
        let eth1 = nix::net::if_::if_nametoindex("eth1").unwrap();
        s.join_multicast_v4_n(&Ipv4Addr::new(225, 0, 0, 12), &socket2::InterfaceIndexOrAddress::Index(eth1)).unwrap();
        s
    });
    let (outside_trap, outside_cb) = callback_listener(&outside, "198.18.1.2");
    let (inside_trap, inside_cb) = callback_listener(&inside, "198.18.0.2");
    send_to_group(&outside, "198.18.1.2", &signed(Operation::Status, outside_cb, 2001));
    send_to_group(&inside, "198.18.0.2", &signed(Operation::Status, inside_cb, 2002));
    let eth1 = "a request arriving on eth1";
    assert_only_served(&daemon, &inside_trap, "the request on eth0", &outside_trap, eth1);
}

/// Item 11: many failed callbacks and failed handshakes give a bounded
/// number of log lines, with the count of suppressed ones, and every one
/// is still counted in the summary at SIGTERM.
#[test]
fn network_provoked_warnings_are_rate_limited_and_counted() {
    if skip_unless_capable(&[]) {
        return;
    }
    const ROUNDS: u32 = 20;
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let (conf, _) = write_conf(dir.path(), "multicast", "");
    let daemon = spawn_our_daemon(&ns, &conf, dir.path());
    let mut seqno = 3000;
    let mut round = 0u8;
    // Every failure comes from its own address: the daemon backs off
    // from a callback address whose callbacks failed.
    let mut provoke = |rounds: u32| {
        for _ in 0..rounds {
            round += 1;
            // A callback port that refuses (a distinct one each time).
            let refusing = format!("127.0.1.{round}");
            let (closed, closed_cb) = callback_listener(&ns, &refusing);
            drop(closed);
            seqno += 1;
            send_to_group(&ns, &refusing, &signed(Operation::Status, closed_cb, seqno));
            // A callback that answers the challenge wrongly.
            let lying = format!("127.0.2.{round}");
            let (liar, liar_cb) = callback_listener(&ns, &lying);
            seqno += 1;
            send_to_group(&ns, &lying, &signed(Operation::Status, liar_cb, seqno));
            let mut conn = accept_within(&liar, Duration::from_secs(5)).expect("callback to the liar");
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            // Our challenge, the daemon's answer, its challenge, our wrong answer.
            conn.write_all(&[seqno as u8; 64]).unwrap();
            let mut buf = [0u8; 64];
            conn.read_exact(&mut buf).expect("daemon's answer");
            conn.read_exact(&mut buf).expect("daemon's challenge");
            conn.write_all(&[0u8; 64]).unwrap();
            // The daemon closes after the wrong answer.
            let _ = conn.read(&mut buf);
        }
    };
    provoke(ROUNDS);
    // Once the logging interval has passed, the next one is logged with
    // the number held back before it.
    std::thread::sleep(Duration::from_secs(11));
    provoke(1);
    let ok = wait_for(Duration::from_secs(5), || {
        let log = daemon.log();
        log.lines().any(|l| l.contains("failed to call back") && l.contains("suppressed"))
            && log.lines().any(|l| l.contains("authentication failed") && l.contains("suppressed"))
    });
    let log = stop(daemon);
    assert!(ok, "no line with a suppressed count:\n{}", tail(&log, 30));
    let callback_lines = log.lines().filter(|l| l.contains("failed to call back")).count();
    let auth_lines = log.lines().filter(|l| l.contains("authentication failed")).count();
    assert!(
        callback_lines <= 3 && auth_lines <= 3,
        "{callback_lines} callback and {auth_lines} handshake lines for {} of each:\n{}",
        ROUNDS + 1,
        tail(&log, 30)
    );
    let total = ROUNDS + 1;
    assert!(
        log.contains(&format!("{total} failed callbacks, {total} failed authentications")),
        "every failure counted in the summary:\n{}",
        tail(&log, 5)
    );
}
