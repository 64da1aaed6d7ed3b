//! Attacks on our fence_virtd that its concurrency could open where the
//! stock daemon's one-session-at-a-time serving kept them shut, scripted as
//! an attacker would run them: challenge reflection across two sessions
//! (TCP and multicast callbacks), replay of an executed request to a host
//! where a fence_xvm happens to be running, one tenant starving the
//! others, a per-requester session cap, and case games with domain names.
//!
//! Every case runs in its own network namespace on loopback; requesters
//! are 127.0.0.x addresses of that namespace.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use keys::HashAlgorithm;
use protocol::{Operation, Request, REQUEST_LEN};
use tests::*;

const KEY: &[u8] = b"attack-test-key-0123456789abcdef";
/// Result codes on the wire.
const SUCCESS: u8 = 0;
const OFF: u8 = 2;
const DENIED: u8 = 3;

static SEQNO: AtomicU32 = AtomicU32::new(1);

/// A fresh sequence number and random bytes for every request.
fn fresh(r: &mut Request) {
    let n = SEQNO.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    r.seqno = n.wrapping_mul(7919) ^ nanos;
    r.random = [(nanos >> 24) as u8, (nanos >> 16) as u8, (nanos >> 8) as u8, nanos as u8, n as u8, (n >> 8) as u8];
}

/// A request for `domain`, signed with the key (or unsigned with `None`).
fn request(op: Operation, domain: &str, hash: HashAlgorithm, callback: Option<SocketAddr>) -> [u8; REQUEST_LEN] {
    let mut r = Request::new(op, domain, hash);
    r.callback = callback;
    fresh(&mut r);
    r.to_signed_bytes(if hash == HashAlgorithm::None { b"" } else { KEY })
}

fn read64(s: &mut TcpStream) -> std::io::Result<[u8; 64]> {
    let mut b = [0u8; 64];
    s.read_exact(&mut b)?;
    Ok(b)
}

/// The client's side of the exchange with the key, as fence_xvm runs it:
/// challenge the daemon, check its answer, answer its challenge, read the
/// result byte.
fn keyed_exchange(s: &mut TcpStream) -> std::io::Result<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let challenge = [0x5au8; 64];
    s.write_all(&challenge)?;
    let answer = read64(s)?;
    if answer != HashAlgorithm::Sha256.keyed_digest(KEY, &challenge) {
        return Err(std::io::Error::other("the daemon does not hold the key"));
    }
    let theirs = read64(s)?;
    s.write_all(&HashAlgorithm::Sha256.keyed_digest(KEY, &theirs))?;
    let mut result = [0u8; 1];
    s.read_exact(&mut result)?;
    Ok(result[0])
}

/// Whether the daemon closed `s` (EOF or reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// Whether `s` is still open (nothing to read, no EOF) right now.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!(s.peek(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

/// A host on the namespace's loopback: sends multicast requests from its
/// own address and waits for the daemon's callbacks on its own port.
struct Host<'a> {
    ns: &'a Netns,
    ip: Ipv4Addr,
    listener: TcpListener,
}

impl<'a> Host<'a> {
    fn new(ns: &'a Netns, ip: Ipv4Addr) -> Self {
        let listener = ns.enter(|| TcpListener::bind((ip, 0)).expect("callback listener"));
        listener.set_nonblocking(true).unwrap();
        Host { ns, ip, listener }
    }

    fn callback(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    fn send(&self, datagram: &[u8]) {
        self.ns.enter(|| {
            let socket = UdpSocket::bind((self.ip, 0)).expect("bind sender");
            socket.send_to(datagram, "225.0.0.12:1229").expect("send datagram");
        });
    }

    fn accept(&self, limit: Duration) -> Option<TcpStream> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    return Some(s);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("accept: {e}"),
            }
        }
        None
    }

    /// Fences as fence_xvm does: the signed request, repeated every second
    /// until a daemon calls back (at most `limit`), then the exchange.
    fn fence(&self, op: Operation, domain: &str, limit: Duration) -> Option<u8> {
        let datagram = request(op, domain, HashAlgorithm::Sha256, Some(self.callback()));
        let end = Instant::now() + limit;
        while Instant::now() < end {
            self.send(&datagram);
            if let Some(mut s) = self.accept(Duration::from_secs(1)) {
                return keyed_exchange(&mut s).ok();
            }
        }
        None
    }
}

fn start_daemon(ns: &Netns, dir: &Path, listener: &str, hash: &str, extra: &str, groups: &str, node: &str) -> Guard {
    let key = write_key(dir, "key", KEY);
    let mut text = daemon_config(listener, &key, hash, extra, groups);
    if !node.is_empty() {
        let path = dir.join("node.xml");
        std::fs::write(&path, node).unwrap();
        text = text.replace("test:///default", &format!("test://{}", path.display()));
    }
    let conf = dir.join("fence_virt.conf");
    std::fs::write(&conf, text).unwrap();
    spawn_our_daemon(ns, &conf, dir)
}

fn group(ip: &str, domains: &[&str]) -> String {
    let uuids: String = domains.iter().map(|d| format!("\t\tuuid = \"{d}\";\n")).collect();
    format!("\tgroup {{\n\t\tip = \"{ip}\";\n{uuids}\t}}\n")
}

fn tcp_connect(ns: &Netns, from: Ipv4Addr) -> TcpStream {
    ns.enter(|| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(from.into(), 0).into()).unwrap();
        socket.connect(&SocketAddr::from(([127, 0, 0, 1], 1229)).into()).expect("connect to the daemon");
        socket.into()
    })
}

/// A TCP session from `from` that has sent an unsigned status request.
fn tcp_request(ns: &Netns, from: Ipv4Addr) -> TcpStream {
    let mut s = tcp_connect(ns, from);
    s.write_all(&request(Operation::Status, "test", HashAlgorithm::None, None)).unwrap();
    s
}

/// A keyed status over TCP from `from`, retried for a few seconds (a
/// refused attempt closes the connection).
fn tcp_status(ns: &Netns, from: Ipv4Addr) -> Option<u8> {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Ok(code) = keyed_exchange(&mut tcp_request(ns, from)) {
            return Some(code);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

const TCP_AUTH_ONLY: &str = "\t\tauth = \"sha256\";\n";

/// The keyless attacker's first session, whose request was sent: offers a
/// challenge, reads the daemon's answer, and returns the daemon's own
/// challenge N1.
fn daemon_challenge(first: &mut TcpStream) -> [u8; 64] {
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    first.write_all(&[1u8; 64]).unwrap();
    read64(first).expect("the daemon answers the first challenge");
    read64(first).expect("the daemon's challenge")
}

/// Offers N1 as the challenge of a second session; true when the daemon answered it.
fn answers_reflected(second: &mut TcpStream, n1: &[u8; 64]) -> bool {
    second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    second.write_all(n1).unwrap();
    read64(second).is_ok()
}

/// Answers the daemon's challenge on the first session with bytes that
/// are wrong (the attacker lacks the key) and asserts no result comes back.
fn assert_wrong_answer_gets_no_result(first: &mut TcpStream, daemon: &Guard) {
    first.write_all(&[0u8; 64]).unwrap();
    let mut result = [0u8; 1];
    assert!(first.read_exact(&mut result).is_err(), "a result came back: {result:?}\n{}", daemon.log());
}

/// Unsigned requests, challenge/response on: session 1 asks for `off` and
/// reads the daemon's challenge N1; session 2 offers N1 as its own
/// challenge. The daemon must not answer it, so session 1 cannot be
/// completed and the guest keeps running.
#[test]
fn a_keyless_peer_cannot_reflect_the_challenge_across_tcp_sessions() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    let daemon = start_daemon(&ns, dir.path(), "tcp", "none", TCP_AUTH_ONLY, "", "");
    let attacker = Ipv4Addr::new(127, 0, 0, 9);

    let mut first = tcp_connect(&ns, attacker);
    first.write_all(&request(Operation::Off, "test", HashAlgorithm::None, None)).unwrap();
    let n1 = daemon_challenge(&mut first);

    let mut second = tcp_request(&ns, attacker);
    assert!(
        !answers_reflected(&mut second, &n1),
        "the daemon answered its own challenge in a second session\n{}",
        daemon.log()
    );

    // Whatever the attacker sends now is wrong; nothing is executed.
    assert_wrong_answer_gets_no_result(&mut first, &daemon);
    assert_eq!(tcp_status(&ns, Ipv4Addr::LOCALHOST), Some(SUCCESS), "the guest is not running\n{}", daemon.log());
    assert!(daemon.log().contains("reflection"), "the attempt is not logged:\n{}", daemon.log());
}

/// The same reflection through multicast callbacks: two unsigned requests
/// make the daemon call the attacker back twice.
#[test]
fn a_keyless_peer_cannot_reflect_the_challenge_across_multicast_callbacks() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let daemon = start_daemon(&ns, dir.path(), "multicast", "none", TCP_AUTH_ONLY, "", "");
    let attacker = Host::new(&ns, Ipv4Addr::new(127, 0, 0, 9));

    attacker.send(&request(Operation::Off, "test", HashAlgorithm::None, Some(attacker.callback())));
    let mut first = attacker.accept(Duration::from_secs(5)).expect("callback for the off request");
    let n1 = daemon_challenge(&mut first);

    attacker.send(&request(Operation::Status, "test", HashAlgorithm::None, Some(attacker.callback())));
    let mut second = attacker.accept(Duration::from_secs(5)).expect("callback for the second request");
    assert!(!answers_reflected(&mut second, &n1), "the daemon answered its own challenge\n{}", daemon.log());

    assert_wrong_answer_gets_no_result(&mut first, &daemon);
    let owner = Host::new(&ns, Ipv4Addr::LOCALHOST);
    let status = owner.fence(Operation::Status, "test", Duration::from_secs(20));
    assert_eq!(status, Some(SUCCESS), "the guest is not running\n{}", daemon.log());
}

/// A requester may hold only a few sessions at once: the fifth session
/// from one address is closed at once while the first four still wait,
/// and another address is served meanwhile.
#[test]
fn one_address_holds_only_a_few_sessions() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    let daemon = start_daemon(&ns, dir.path(), "tcp", "none", TCP_AUTH_ONLY, "", "");
    let greedy = Ipv4Addr::new(127, 0, 0, 9);
    let held: Vec<TcpStream> = (0..4).map(|_| tcp_request(&ns, greedy)).collect();
    // Let the daemon admit the four (they wait for a challenge).
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = tcp_request(&ns, greedy);
    assert!(closed_within(&mut fifth, Duration::from_secs(3)), "the fifth session was not refused\n{}", daemon.log());
    assert!(held.iter().all(still_open), "the held sessions were closed before the fifth was refused");
    assert_eq!(tcp_status(&ns, Ipv4Addr::LOCALHOST), Some(SUCCESS), "another address was not served");
    assert!(held.iter().all(still_open), "the held sessions were closed while another address was served");
}

/// A captured signed `off` that was executed once is replayed after the
/// 10 s duplicate window, while a fence_xvm is answering at its callback
/// address (as a Pacemaker monitor would be). It must not run again.
#[test]
fn an_executed_request_is_never_executed_again() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let daemon = start_daemon(&ns, dir.path(), "multicast", "sha256", TCP_AUTH_ONLY, "", "");
    let victim = Host::new(&ns, Ipv4Addr::LOCALHOST);

    let captured = request(Operation::Off, "test", HashAlgorithm::Sha256, Some(victim.callback()));
    victim.send(&captured);
    let mut s = victim.accept(Duration::from_secs(5)).expect("callback for the genuine off");
    assert_eq!(keyed_exchange(&mut s).unwrap(), SUCCESS);
    assert_eq!(victim.fence(Operation::On, "test", Duration::from_secs(10)), Some(SUCCESS));

    std::thread::sleep(Duration::from_millis(11_000));
    victim.send(&captured);
    // The victim's fence_xvm answers whichever daemon calls: a callback for
    // the replay would be accepted and authenticated here.
    let replay_callback = victim.accept(Duration::from_secs(3));
    if let Some(mut s) = replay_callback {
        let code = keyed_exchange(&mut s);
        panic!("the replayed off was called back and answered ({code:?})\n{}", daemon.log());
    }
    assert_eq!(victim.fence(Operation::Status, "test", Duration::from_secs(10)), Some(SUCCESS), "guest not running");
    assert!(daemon.log().contains("replay"), "the replay is not logged:\n{}", daemon.log());
}

/// One key holder whose group allows only its own guest fires 70 requests
/// and stalls every callback; another tenant must still fence at once.
#[test]
fn one_tenant_cannot_starve_another_tenants_fencing() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let tenant = Ipv4Addr::LOCALHOST;
    let greedy = Ipv4Addr::new(127, 0, 0, 2);
    let groups = format!("groups {{\n{}{}}}\n", group("127.0.0.1", &["test"]), group("127.0.0.2", &["own-guest"]));
    let daemon = start_daemon(&ns, dir.path(), "multicast", "sha256", TCP_AUTH_ONLY, &groups, "");
    let greedy_host = Host::new(&ns, greedy);
    for i in 0..70 {
        let domain = if i % 2 == 0 { "own-guest" } else { "test" };
        greedy_host.send(&request(Operation::Reboot, domain, HashAlgorithm::Sha256, Some(greedy_host.callback())));
    }
    // Accept and hold every callback without a word.
    let mut stalled = Vec::new();
    while let Some(s) = greedy_host.accept(Duration::from_millis(700)) {
        stalled.push(s);
    }
    let started = Instant::now();
    let result = Host::new(&ns, tenant).fence(Operation::Status, "test", Duration::from_secs(5));
    assert_eq!(
        result,
        Some(SUCCESS),
        "the other tenant was not served within 5 s while {} callbacks stalled\n{}",
        stalled.len(),
        daemon.log()
    );
    eprintln!(
        "MEASURED fair share: {} stalled callbacks held by one requester; the other tenant served in {:.0} ms",
        stalled.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(stalled.len() <= 4, "one requester held {} sessions at once", stalled.len());
}

/// Guests `web` and `WEB`; a group allows `web`. `off WEB` must be denied
/// (libvirt names are case-sensitive), and `WEB` keeps running. IP entries
/// are compared as addresses: `::ffff:127.0.0.3` is 127.0.0.3.
#[test]
fn a_group_allowing_web_cannot_fence_web_in_capitals() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let groups = format!(
        "groups {{\n{}{}}}\n",
        group("127.0.0.1", &["web"]),
        group("::ffff:127.0.0.3", &["WEB", "66666666-7777-8888-9999-aaaaaaaaaaaa"])
    );
    let daemon = start_daemon(
        &ns,
        dir.path(),
        "multicast",
        "sha256",
        TCP_AUTH_ONLY,
        &groups,
        &test_driver_node(&[
            ("web", "11111111-2222-3333-4444-555555555555"),
            ("WEB", "66666666-7777-8888-9999-aaaaaaaaaaaa"),
        ]),
    );
    let web_owner = Host::new(&ns, Ipv4Addr::LOCALHOST);
    let limit = Duration::from_secs(10);
    assert_eq!(web_owner.fence(Operation::Off, "WEB", limit), Some(DENIED), "{}", daemon.log());
    assert_eq!(web_owner.fence(Operation::Off, "66666666-7777-8888-9999-AAAAAAAAAAAA", limit), Some(DENIED));
    let capitals_owner = Host::new(&ns, Ipv4Addr::new(127, 0, 0, 3));
    assert_eq!(capitals_owner.fence(Operation::Status, "WEB", limit), Some(SUCCESS), "WEB was fenced");
    assert_eq!(web_owner.fence(Operation::Off, "web", limit), Some(SUCCESS));
    assert_eq!(web_owner.fence(Operation::Status, "web", limit), Some(OFF));
    assert_eq!(capitals_owner.fence(Operation::Status, "WEB", limit), Some(SUCCESS), "WEB went down with web");
}
