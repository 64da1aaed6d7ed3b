//! One `heartbeat` node (`alpha`) in a namespace, probed from a peer
//! namespace on the same veth link that holds `bravo`'s address: the link,
//! the node's configuration, starting it, its control commands and its
//! dropped-packet counters, and signed packets to send it.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use heartbeat::config::authkeys::AuthKeys;
use heartbeat::membership::message::Message;

use crate::{our_bin, wait_for, write_key, Guard, Netns};

/// The node's (`alpha`'s) address.
pub const NODE_ADDR: &str = "198.18.6.1";
/// The peer namespace's (`bravo`'s) address.
pub const PEER_ADDR: &str = "198.18.6.2";
/// The authkeys the node is configured with by default.
pub const KEYS: &str = "auth 1\n1 sha1 right-secret\n";

/// Two namespaces on one veth link: the node and the prober ("bravo's" address).
pub fn link() -> (Netns, Netns) {
    let node = Netns::new();
    let peer = Netns::new();
    let status = Command::new("ip")
        .args(["link", "add", "eth0", "netns", &node.name, "type", "veth", "peer", "name", "eth0", "netns", &peer.name])
        .status()
        .expect("ip link add");
    assert!(status.success());
    for (ns, addr) in [(&node, NODE_ADDR), (&peer, PEER_ADDR)] {
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    }
    (node, peer)
}

/// Writes `dir/ha.d` and returns it: ha.cf (fast timings, ucast to the
/// peer, nodes alpha and bravo, `extra` appended), authkeys `keys` (mode
/// 0600) and an empty haresources.
pub fn write_config(dir: &Path, keys: &str, extra: &str) -> PathBuf {
    let conf = dir.join("ha.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("ha.cf"),
        format!(
            "keepalive 100ms\nwarntime 300ms\ndeadtime 600ms\ninitdead 1\nucast eth0 {PEER_ADDR}\n\
             node alpha bravo\nauto_failback on\n{extra}"
        ),
    )
    .unwrap();
    write_key(&conf, "authkeys", keys.as_bytes());
    std::fs::write(conf.join("haresources"), "").unwrap();
    conf
}

/// `heartbeat run` as alpha in `ns` with configuration `conf` and run directory `run`.
pub fn node_command(ns: &Netns, conf: &Path, run: &Path) -> Command {
    let mut cmd = ns.command(our_bin("heartbeat"));
    cmd.args(["run", "--node", "alpha", "-c"]).arg(conf).arg("--run-dir").arg(run);
    cmd
}

/// Starts the node (output in `log`) and waits until its control socket exists.
pub fn start_node(ns: &Netns, conf: &Path, run: &Path, log: &Path) -> Guard {
    let mut node = Guard::spawn(node_command(ns, conf, run), log);
    let up = wait_for(Duration::from_secs(10), || run.join("heartbeat.sock").exists());
    assert!(up && node.alive(), "heartbeat did not start:\n{}", node.log());
    node
}

/// Runs a control command (`status`, `nodes`, `stop`…) against the node's
/// run directory; returns its exit code (-1 if killed) and stdout.
pub fn control(run: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(our_bin("heartbeat"))
        .args(args)
        .args(["--node", "alpha", "--run-dir"])
        .arg(run)
        .output()
        .expect("run heartbeat");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The stdout of a control command.
pub fn control_text(run: &Path, args: &[&str]) -> String {
    control(run, args).1
}

/// Parses authkeys text.
pub fn keys(text: &str) -> AuthKeys {
    AuthKeys::parse(Path::new("authkeys"), text).expect("keys").0
}

/// A `status` message from `src` saying it is active and holds nothing.
pub fn status(generation: u64, seq: u64, src: &str) -> Message {
    Message::new("status", src, generation, seq).with("st", "active").with("hold", "").with("ping", "0")
}

/// The node's `dropped packets:` line.
pub fn counters(run: &Path) -> String {
    control_text(run, &["status"]).lines().find(|l| l.starts_with("dropped packets:")).unwrap_or("").to_string()
}

/// One counter of the `dropped packets:` line.
pub fn counter(run: &Path, name: &str) -> u64 {
    let line = counters(run);
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(0)
}

/// A socket at the peer's address (any port) to send to the node from.
pub fn peer_socket(peer: &Netns) -> UdpSocket {
    peer.enter(|| UdpSocket::bind((PEER_ADDR, 0)).unwrap())
}
