//! Attacks on one `heartbeat` node (issue 10, items 14–17), scripted from a
//! second namespace on the same link that plays the peer `bravo` (and the
//! attacker) with the heartbeat library: weak keys and far-future
//! generations, a replayed `shutdown` after a restart, planted symlinks and
//! an open run directory, and a flood of signed-looking packets.

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use heartbeat::membership::message::Message;
use tests::heartbeat_node::{
    control_text, counter, counters, keys, link, node_command, peer_socket, start_node, status, write_config, KEYS,
    NODE_ADDR, PEER_ADDR,
};
use tests::{skip_unless_capable, wait_for, Guard, Netns};

/// A fence agent that records `ACTION NODENAME` per call in `log`, and the
/// ha.cf line using it.
fn recording_fence_agent(dir: &Path) -> (String, PathBuf) {
    let log = dir.join("fence.log");
    let agent = dir.join("fence_record");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nwhile IFS= read -r l; do case \"$l\" in action=*) a=${{l#action=}};; \
             nodename=*) n=${{l#nodename=}};; esac; done\necho \"$a $n\" >> {}\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    (format!("stonith_host * {}\n", agent.display()), log)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// Plays bravo: a signed status every 100 ms until stopped, sent from port
/// 694 as a real node does.
struct BravoHeartbeats {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl BravoHeartbeats {
    /// Starts sending bravo's heartbeats of `generation` from the peer namespace.
    fn start(peer: &Netns, generation: u64) -> Self {
        let socket = peer.enter(|| UdpSocket::bind((PEER_ADDR, 694)).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let k = keys(KEYS);
            let mut seq = 0;
            while !stopped.load(Ordering::Relaxed) {
                seq += 1;
                socket.send_to(&status(generation, seq, "bravo").encode(&k), (NODE_ADDR, 694)).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
            seq
        });
        BravoHeartbeats { stop, thread }
    }

    /// Stops sending; returns how many heartbeats were sent.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn bravo_active(run: &Path) -> bool {
    control_text(run, &["nodes"]).contains("bravo normal active")
}

#[test]
fn crc_signed_packets_are_dropped_when_an_hmac_key_is_configured() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, peer_ns) = link();
    // A crc key is still listed (as old configurations do) next to the HMAC key.
    let conf = write_config(dir.path(), "auth 1\n1 sha1 right-secret\n2 crc\n", "");
    let run = dir.path().join("run");
    let node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    let socket = peer_socket(&peer_ns);
    // Anyone can compute a CRC: a forged "bravo holds everything".
    let forged = status(100, 1, "bravo").with("hold", "stolen").encode(&keys("auth 2\n2 crc\n"));
    socket.send_to(&forged, (NODE_ADDR, 694)).unwrap();
    let seen = wait_for(Duration::from_secs(5), || counter(&run, "bad-auth") == 1);
    assert!(seen, "the crc-signed packet must fail authentication: {}\n{}", counters(&run), node.log());
    assert!(!bravo_active(&run), "a forged packet made bravo alive: {}", control_text(&run, &["nodes"]));
    // The real key still works.
    socket.send_to(&status(100, 2, "bravo").encode(&keys(KEYS)), (NODE_ADDR, 694)).unwrap();
    assert!(wait_for(Duration::from_secs(5), || bravo_active(&run)), "{}", node.log());
    assert!(!node.log().contains("stolen"));
}

#[test]
fn far_future_generation_is_dropped_and_real_heartbeats_still_count() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, peer_ns) = link();
    let conf = write_config(dir.path(), KEYS, "");
    let run = dir.path().join("run");
    let node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    let socket = peer_socket(&peer_ns);
    // Validly signed (an insider, or a key leaked once), generation near the end of time.
    socket.send_to(&status(u64::MAX - 1, 1, "bravo").encode(&keys(KEYS)), (NODE_ADDR, 694)).unwrap();
    let dropped = wait_for(Duration::from_secs(5), || counter(&run, "future-generation") == 1);
    assert!(dropped, "not counted as a future generation: {}\n{}", counters(&run), node.log());
    // bravo's real heartbeats (its generation is the Unix time at its start) keep counting.
    let bravo = BravoHeartbeats::start(&peer_ns, unix_now());
    let up = wait_for(Duration::from_secs(5), || bravo_active(&run));
    let heard = wait_for(Duration::from_secs(5), || control_text(&run, &["status"]).contains("replayed 0"));
    // Two seconds of heartbeats later bravo is still alive and none was taken for a replay.
    std::thread::sleep(Duration::from_secs(2));
    let sent = bravo.stop();
    assert!(up && heard, "{}\n{}", counters(&run), node.log());
    assert!(sent >= 15, "bravo sent {sent} heartbeats");
    assert_eq!(counter(&run, "replayed"), 0, "{}", counters(&run));
    assert!(!node.log().contains("node bravo: is dead"), "{}", node.log());
    assert!(node.log().contains("future generation"), "the drop is logged:\n{}", node.log());
}

#[test]
fn replayed_shutdown_after_a_restart_does_not_spare_the_peer_from_fencing() {
    replayed_shutdown_after_a_restart(false);
}

#[test]
fn replayed_shutdown_after_a_restart_that_lost_the_peer_generations_is_ignored() {
    // Without the persisted generation the replay is fresh on the wire; the
    // shutdown still comes from a generation not heard alive in this run.
    replayed_shutdown_after_a_restart(true);
}

/// alpha hears bravo, restarts while bravo hangs, and is sent bravo's
/// captured `shutdown` from an earlier life: it must fence bravo, not take
/// the notice (`forget_state`: alpha's persisted peer generations are lost).
fn replayed_shutdown_after_a_restart(forget_state: bool) {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, peer_ns) = link();
    let (stonith, fence_log) = recording_fence_agent(dir.path());
    let conf = write_config(dir.path(), KEYS, &stonith);
    let run = dir.path().join("run");
    // bravo's previous life ended with a graceful shutdown that the attacker captured.
    let bravo_now = unix_now();
    let captured = Message::new("shutdown", "bravo", bravo_now - 600, 40).encode(&keys(KEYS));

    // alpha runs and hears bravo's current generation.
    let mut first = start_node(&node_ns, &conf, &run, &dir.path().join("alpha-1.log"));
    let bravo = BravoHeartbeats::start(&peer_ns, bravo_now);
    assert!(wait_for(Duration::from_secs(5), || bravo_active(&run)), "{}", first.log());
    // alpha restarts; meanwhile bravo hangs (it still holds whatever it ran).
    control_text(&run, &["stop"]);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()), "{}", first.log());
    bravo.stop();
    let persisted = run.join("hb_peer_generations");
    assert_eq!(std::fs::read_to_string(&persisted).unwrap(), format!("bravo {bravo_now}\n"));
    if forget_state {
        std::fs::remove_file(&persisted).unwrap();
    }
    let second = start_node(&node_ns, &conf, &run, &dir.path().join("alpha-2.log"));
    // The attacker replays the captured shutdown to the restarted alpha.
    let socket = peer_socket(&peer_ns);
    for _ in 0..3 {
        socket.send_to(&captured, (NODE_ADDR, 694)).unwrap();
    }
    let fenced = wait_for(Duration::from_secs(15), || {
        std::fs::read_to_string(&fence_log).is_ok_and(|t| t.lines().any(|l| l == "reboot bravo"))
    });
    assert!(fenced, "bravo was not fenced after the replayed shutdown:\n{}", second.log());
    assert!(!second.log().contains("Received shutdown notice from 'bravo'"), "{}", second.log());
    if forget_state {
        assert!(second.log().contains("Ignoring shutdown notice from bravo"), "{}", second.log());
    } else {
        assert!(control_text(&run, &["status"]).contains("replayed 3"), "{}", control_text(&run, &["status"]));
    }
}

/// Creates the run directory `run` with `mode`.
fn create_run_dir(run: &Path, mode: u32) {
    std::fs::create_dir(run).unwrap();
    std::fs::set_permissions(run, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Starts alpha with run directory `run` where it must refuse to start:
/// its exit status (`None` if it still ran after 10 s) and its output.
fn start_refused(node_ns: &Netns, conf: &Path, run: &Path, log: &Path) -> (Option<ExitStatus>, String) {
    let mut node = Guard::spawn(node_command(node_ns, conf, run), log);
    let status = node.wait_exit(Duration::from_secs(10));
    (status, node.log())
}

#[test]
fn run_directory_open_to_others_is_refused() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, _peer) = link();
    let conf = write_config(dir.path(), KEYS, "");
    let run = dir.path().join("run");
    create_run_dir(&run, 0o777);
    let (status, log) = start_refused(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    assert!(status.is_some_and(|s| !s.success()), "started in a world-writable run directory:\n{log}");
    assert!(log.contains(&format!("{}: ", run.display())) && log.contains("writable"), "{log}");
    assert!(!run.join("heartbeat.sock").exists() && !run.join("hb_generation").exists());

    // A fresh run directory is created 0700.
    let fresh = dir.path().join("fresh-run");
    let node = start_node(&node_ns, &conf, &fresh, &dir.path().join("alpha-2.log"));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", node.log());
}

/// A node's configuration and run directory (mode 0700) with a symbolic
/// link planted in it, pointing at a file of the operator's (`victim`,
/// holding "precious").
struct Planted {
    dir: tempfile::TempDir,
    node_ns: tests::Netns,
    _peer: tests::Netns,
    conf: std::path::PathBuf,
    run: std::path::PathBuf,
    victim: std::path::PathBuf,
}

/// Plants a link named `name` in a fresh run directory (see [`Planted`]).
fn plant_symlink(name: &str) -> Planted {
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, _peer) = link();
    let conf = write_config(dir.path(), KEYS, "");
    let run = dir.path().join("run");
    create_run_dir(&run, 0o700);
    let victim = dir.path().join("precious");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, run.join(name)).unwrap();
    Planted { dir, node_ns, _peer, conf, run, victim }
}

/// Starts the node with `planted` (in the run directory) a symlink to a
/// file of the operator's; the start must be refused naming the link and
/// the file must be untouched.
fn symlink_is_refused(planted: &str) {
    if skip_unless_capable(&[]) {
        return;
    }
    let Planted { dir, node_ns, _peer, conf, run, victim } = plant_symlink(planted);
    let started = Instant::now();
    let (status, log) = start_refused(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "the link was followed:\n{log}");
    assert!(status.is_some_and(|s| !s.success()), "started with a planted {planted}:\n{log}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(log.contains(&run.join(planted).display().to_string()) && log.contains("symbolic link"), "{log}");
}

#[test]
fn symlink_planted_as_the_generation_file_is_refused() {
    symlink_is_refused("hb_generation");
}

/// State files are written through temporaries of random names: a link
/// planted at the old fixed name `hb_generation.tmp` is neither followed
/// nor touched, and the node starts.
#[test]
fn symlink_planted_as_the_old_generation_temporary_is_left_alone() {
    if skip_unless_capable(&[]) {
        return;
    }
    let Planted { dir, node_ns, _peer, conf, run, victim } = plant_symlink("hb_generation.tmp");
    let planted = run.join("hb_generation.tmp");
    let node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "the link was followed:\n{}", node.log());
    assert_eq!(std::fs::read_link(&planted).unwrap(), victim, "the planted link was touched");
    let generation = std::fs::symlink_metadata(run.join("hb_generation")).unwrap();
    assert!(generation.file_type().is_file() && generation.permissions().mode() & 0o777 == 0o600);
}

#[test]
fn symlink_planted_as_the_pid_file_is_refused() {
    symlink_is_refused("heartbeat.pid");
}

#[test]
fn flood_of_signed_looking_packets_does_not_get_a_healthy_peer_declared_dead() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, peer_ns) = link();
    // The attacker sits on the same link at another address.
    peer_ns.ip(&["addr", "add", "198.18.6.66/24", "dev", "eth0"]);
    let (stonith, fence_log) = recording_fence_agent(dir.path());
    let conf = write_config(dir.path(), KEYS, &stonith);
    let run = dir.path().join("run");
    let node = start_node(&node_ns, &conf, &run, &dir.path().join("alpha.log"));
    let generation = unix_now();
    let bravo = BravoHeartbeats::start(&peer_ns, generation);
    assert!(wait_for(Duration::from_secs(5), || bravo_active(&run)), "{}", node.log());

    // Large packets claiming to come from bravo, fresh-looking, signed with a wrong key
    // (each costs a full HMAC to reject), plus replays of a real captured heartbeat.
    let wrong = keys("auth 1\n1 sha1 wrong-secret\n");
    let padding = "x".repeat(3800);
    let captured = status(generation, 1, "bravo").encode(&keys(KEYS));
    const PACKETS: u64 = 200_000;
    const LIMIT: Duration = Duration::from_secs(8);
    let senders: Vec<_> = (0..2u64)
        .map(|t| {
            let socket = peer_ns.enter(|| UdpSocket::bind(("198.18.6.66", 0)).unwrap());
            let wrong = wrong.clone();
            let padding = padding.clone();
            let captured = captured.clone();
            std::thread::spawn(move || {
                let forged: Vec<Vec<u8>> = (0..64)
                    .map(|i| status(generation, 1_000_000 + t * 100 + i, "bravo").with("pad", &padding).encode(&wrong))
                    .collect();
                let started = Instant::now();
                let mut sent = 0u64;
                while sent < PACKETS / 2 && started.elapsed() < LIMIT {
                    let bytes = if sent % 8 == 7 { &captured } else { &forged[(sent % 64) as usize] };
                    if socket.send_to(bytes, (NODE_ADDR, 694)).is_ok() {
                        sent += 1;
                    }
                }
                (sent, started.elapsed())
            })
        })
        .collect();
    let mut sent = 0;
    let mut took = Duration::ZERO;
    for s in senders {
        let (n, t) = s.join().unwrap();
        sent += n;
        took = took.max(t);
    }
    // Two more deadtimes of heartbeats after the flood: whatever was queued has been seen by now.
    std::thread::sleep(Duration::from_millis(1200));
    bravo.stop();
    let line = counters(&run);
    eprintln!("flood: {sent} packets in {} ms; {line}", took.as_millis());
    let log = node.log();
    assert!(!log.contains("node bravo: is dead"), "bravo was declared dead during the flood:\n{log}");
    assert!(std::fs::read_to_string(&fence_log).unwrap_or_default().lines().all(|l| l.starts_with("monitor")));
    assert!(bravo_active(&run), "{}", control_text(&run, &["nodes"]));
    assert!(counter(&run, "bad-auth") + counter(&run, "throttled") > 0, "the drops are counted: {line}");
}
