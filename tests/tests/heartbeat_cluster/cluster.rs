//! A two-node Heartbeat cluster made of network namespaces (spec appendix B).
//!
//! ```text
//!            hub: br0 (public network 198.18.0.0/24)
//!        ┌───────────┼──────────────┐
//!  alpha eth0 .1  bravo eth0 .2   client eth0 .254 (also the ping node)
//!  alpha eth1 198.18.1.1 ─────── bravo eth1 198.18.1.2   (dedicated link)
//! ```
//!
//! Each node runs our `heartbeat` with its own configuration and run
//! directory. The resource group, homed on alpha, is the service address
//! 198.18.0.100 on eth0 (resource-agents' IPaddr2) and `httpd-test`, a
//! busybox HTTP server on that address answering with the node's name.
//! STONITH is `tests/heartbeat/fence_netns`, which "powers off" a node by
//! killing every process in its namespace and taking its links down.
//! `HEARTBEAT_TEST_LOGS=DIR` keeps every log of a test in `DIR/<test name>/`.

use std::cell::{RefCell, RefMut};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tests::{our_bin, Guard, Netns};

/// The service address the group carries.
pub const SERVICE_IP: &str = "198.18.0.100";
/// The ping node (the client's address on the public network).
pub const PING_IP: &str = "198.18.0.254";
/// Heartbeat's UDP port.
pub const UDP_PORT: u16 = 694;
/// Node names; alpha is the home of the group.
pub const NODES: [&str; 2] = ["alpha", "bravo"];
/// Index of alpha in [`NODES`].
pub const ALPHA: usize = 0;
/// Index of bravo in [`NODES`].
pub const BRAVO: usize = 1;

/// ha.cf timings (fast, as the tests want them).
const TIMINGS: &str = "keepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 2\nstonith_delay 2\n";

/// Clusters of these tests run one at a time: their timings are tight for a
/// loaded two-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A fixture script in `tests/heartbeat/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("heartbeat").join(name)
}

/// One cluster node: its namespace, files and (while it runs) its heartbeat.
pub struct Node {
    /// Node name (`alpha`, `bravo`).
    pub name: &'static str,
    /// Its namespace.
    pub ns: Arc<Netns>,
    /// Configuration directory (`-c`).
    pub conf: PathBuf,
    /// Run directory (`--run-dir`).
    pub run: PathBuf,
    /// The node's own `HA_RSCTMP` (resource agents' state, e.g. IPaddr2's
    /// send_arp pid files): private, and emptied at each power-on like
    /// `/run` at a reboot.
    rsctmp: PathBuf,
    /// One log file per start, oldest first.
    logs: Vec<PathBuf>,
    guard: RefCell<Option<Guard>>,
}

impl Node {
    /// What the current (last started) heartbeat wrote so far.
    pub fn log(&self) -> String {
        self.guard.borrow().as_ref().map(Guard::log).unwrap_or_default()
    }

    /// True while the last started heartbeat runs.
    pub fn running(&self) -> bool {
        self.guard.borrow_mut().as_mut().is_some_and(Guard::alive)
    }

    /// The last started heartbeat.
    pub fn guard(&self) -> RefMut<'_, Guard> {
        RefMut::map(self.guard.borrow_mut(), |g| g.as_mut().expect("node was started"))
    }

    /// Runs a control command (`status`, `nodes`, `stop`, `standby all`, …)
    /// against this node's running heartbeat.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut cmd = self.ns.command(our_bin("heartbeat"));
        cmd.args(args).arg("-c").arg(&self.conf).args(["--node", self.name, "--run-dir"]).arg(&self.run);
        cmd.stdin(Stdio::null()).output().expect("run heartbeat control command")
    }

    /// Whether this node holds the service address on an interface that is
    /// up (reads the namespace's addresses through netlink, no process).
    pub fn owns_service_ip(&self) -> bool {
        self.ns.enter(holds_service_ip)
    }
}

/// Whether the calling thread's namespace has the service address on an
/// interface that is up.
pub fn holds_service_ip() -> bool {
    use nix::net::if_::InterfaceFlags;
    let want: std::net::Ipv4Addr = SERVICE_IP.parse().unwrap();
    nix::ifaddrs::getifaddrs().expect("getifaddrs").any(|ifa| {
        ifa.flags.contains(InterfaceFlags::IFF_UP)
            && ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()).is_some_and(|a| a.ip() == want)
    })
}

/// One request to the fence agent, as it logged it.
#[derive(Debug, Clone)]
pub struct FenceRecord {
    /// Unix time of the outcome (seconds).
    pub at: f64,
    /// The victim (`nodename=`).
    pub node: String,
    /// Whether the agent reported success.
    pub ok: bool,
}

/// The cluster; dropping it stops every process in its namespaces and
/// deletes them.
pub struct Cluster {
    /// The nodes, indexed by [`ALPHA`] and [`BRAVO`].
    pub nodes: Vec<Node>,
    /// The client namespace (carries the ping-node address).
    pub client: Arc<Netns>,
    _hub: Netns,
    /// Where the test fence agent records what it did.
    pub fence_log: PathBuf,
    /// While this file exists the fence agent fails.
    pub fence_fail: PathBuf,
    dir: tempfile::TempDir,
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// Links `host`'s `eth0` to the hub's bridge (through `port`) with `address`.
fn plug_into_hub(hub: &Netns, port: &str, host: &Netns, address: &str) {
    hub.ip(&["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &host.name]);
    hub.ip(&["link", "set", port, "master", "br0", "up"]);
    host.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
    host.ip(&["link", "set", "eth0", "up"]);
}

/// Kills every process in the namespace (until none is left).
pub fn kill_everything_in(ns: &Netns) {
    for _ in 0..100 {
        let out = Command::new("ip").args(["netns", "pids", &ns.name]).output().expect("ip netns pids");
        let pids: Vec<i32> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub use tests::poll_every as poll;

impl Cluster {
    /// Builds the network and the configuration of both nodes (nothing is
    /// started).
    pub fn new() -> Cluster {
        for (tool, what) in [
            ("/usr/lib/ocf/resource.d/heartbeat/IPaddr2", "resource-agents"),
            ("/usr/bin/busybox", "busybox-static"),
            ("/usr/sbin/iptables", "iptables"),
        ] {
            assert!(Path::new(tool).exists(), "{tool} is missing: install {what} (scripts/setup.sh does)");
        }
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = Netns::new();
        hub.ip(&["link", "add", "br0", "type", "bridge"]);
        hub.ip(&["link", "set", "br0", "up"]);
        let client = Netns::new();
        plug_into_hub(&hub, "pclient", &client, PING_IP);
        let namespaces: Vec<Netns> = NODES.iter().map(|_| Netns::new()).collect();
        for (i, ns) in namespaces.iter().enumerate() {
            plug_into_hub(&hub, &format!("p{}", NODES[i]), ns, &format!("198.18.0.{}", i + 1));
        }
        // The dedicated link.
        let (a, b) = (&namespaces[ALPHA], &namespaces[BRAVO]);
        a.ip(&["link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", &b.name]);
        for (i, ns) in namespaces.iter().enumerate() {
            ns.ip(&["addr", "add", &format!("198.18.1.{}/24", i + 1), "dev", "eth1"]);
            ns.ip(&["link", "set", "eth1", "up"]);
        }

        let fence_log = dir.path().join("fence.log");
        let fence_fail = dir.path().join("fence-fails");
        let state = dir.path().join("state");
        let host_map: Vec<String> = NODES.iter().zip(&namespaces).map(|(n, ns)| format!("{n}:{}", ns.name)).collect();
        let ha_cf = format!(
            "# two nodes as network namespaces (tests/tests/heartbeat_cluster)\n{TIMINGS}udpport {UDP_PORT}\n\
             bcast eth0\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n\
             node {}\nping {PING_IP}\nauto_failback on\n\
             stonith_host * {} log={} fail={} host_map={}\n",
            NODES.join(" "),
            fixture("fence_netns").display(),
            fence_log.display(),
            fence_fail.display(),
            host_map.join(";"),
        );
        let haresources = format!("alpha {SERVICE_IP}/24/eth0 httpd-test::{}::{SERVICE_IP}\n", state.display());
        let nodes = NODES
            .iter()
            .zip(namespaces)
            .map(|(&name, ns)| {
                let conf = dir.path().join(name).join("ha.d");
                let run = dir.path().join(name).join("run");
                let rsctmp = dir.path().join(name).join("rsctmp");
                fs::create_dir_all(conf.join("resource.d")).unwrap();
                fs::create_dir_all(&run).unwrap();
                fs::create_dir_all(&rsctmp).unwrap();
                fs::write(conf.join("ha.cf"), &ha_cf).unwrap();
                tests::write_key(&conf, "authkeys", b"auth 1\n1 sha1 heartbeat-cluster-test-secret\n");
                fs::write(conf.join("haresources"), &haresources).unwrap();
                fs::copy(fixture("httpd-test"), conf.join("resource.d/httpd-test")).unwrap();
                Node { name, ns: Arc::new(ns), conf, run, rsctmp, logs: Vec::new(), guard: RefCell::new(None) }
            })
            .collect();
        Cluster {
            nodes,
            client: Arc::new(client),
            _hub: hub,
            fence_log,
            fence_fail,
            dir,
            _one_at_a_time: one_at_a_time,
        }
    }

    /// Builds the cluster, starts both nodes and waits until they see each
    /// other and alpha serves.
    pub fn start() -> Cluster {
        let mut c = Cluster::new();
        c.start_node(ALPHA);
        c.start_node(BRAVO);
        c.wait_steady(ALPHA);
        c
    }

    /// Starts (or restarts) a node's heartbeat.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = self.dir.path().join(format!("{}-{}.log", node.name, node.logs.len() + 1));
        let mut cmd = node.ns.command(our_bin("heartbeat"));
        cmd.arg("run").arg("-c").arg(&node.conf).args(["--node", node.name, "--run-dir"]).arg(&node.run);
        cmd.env("HA_RSCTMP", &node.rsctmp);
        node.guard.replace(Some(Guard::spawn(cmd, &log)));
        node.logs.push(log);
    }

    /// Waits (generously) until both nodes run, have finished their initial
    /// acquisition, list each other as active, and `owner` serves the client.
    pub fn wait_steady(&self, owner: usize) {
        let limit = Duration::from_secs(20);
        for node in &self.nodes {
            let done =
                poll(limit, Duration::from_millis(50), || node.log().contains("Initial resource acquisition complete"));
            self.ensure(done, &format!("{} did not complete its initial resource acquisition", node.name));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let peer = NODES[1 - i];
            let mut last = String::new();
            let active = poll(limit, Duration::from_millis(100), || {
                let out = node.ctl(&["nodes"]);
                last = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                last.lines().any(|l| l.split_whitespace().take(3).eq([peer, "normal", "active"]))
            });
            self.ensure(active, &format!("`heartbeat nodes` on {} never listed {peer} as active:\n{last}", node.name));
        }
        let mut last = Err(String::new());
        let serving = poll(limit, Duration::from_millis(50), || {
            last = self.get();
            last.as_deref() == Ok(NODES[owner])
        });
        self.ensure(serving, &format!("{} does not serve the client (last answer {last:?})", NODES[owner]));
        for node in &self.nodes {
            self.ensure(node.running(), &format!("heartbeat on {} exited", node.name));
        }
    }

    /// One HTTP request from the client to the service address.
    pub fn get(&self) -> Result<String, String> {
        self.client.enter(|| super::observe::http_get(Duration::from_millis(500)))
    }

    /// "Powers off" a node without asking anyone: the fence agent run by the
    /// test itself, recording in a log of its own.
    pub fn power_off(&self, i: usize) {
        let input = format!(
            "action=off\nplug={}\nnodename={}\nlog={}\n",
            self.nodes[i].ns.name,
            NODES[i],
            self.dir.path().join("power-off.log").display()
        );
        let out = run_with_input(Command::new(fixture("fence_netns")), &input);
        assert!(out.status.success(), "power off {}: {}", NODES[i], String::from_utf8_lossy(&out.stderr));
    }

    /// Brings a powered-off node's links back up and starts its heartbeat.
    pub fn power_on(&mut self, i: usize) {
        let node = &self.nodes[i];
        kill_everything_in(&node.ns);
        let _ = fs::remove_dir_all(&node.rsctmp);
        fs::create_dir_all(&node.rsctmp).unwrap();
        for link in ["lo", "eth0", "eth1"] {
            node.ns.ip(&["link", "set", link, "up"]);
        }
        self.start_node(i);
    }

    /// Adds (`-A`) or deletes (`-D`) rules in node `i`'s namespace that drop
    /// every heartbeat packet in and out (all heartbeat links cut, while
    /// the public network still carries the service and the pings).
    pub fn heartbeat_firewall(&self, i: usize, op: &str) {
        let port = UDP_PORT.to_string();
        for chain in ["INPUT", "OUTPUT"] {
            let args = ["-w", op, chain, "-p", "udp", "--dport", &port, "-j", "DROP"];
            let out = self.nodes[i].ns.run("iptables", &args, None);
            assert!(out.status.success(), "iptables {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
    }

    /// What the fence agent recorded, in order.
    pub fn fence_records(&self) -> Vec<FenceRecord> {
        fs::read_to_string(&self.fence_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let at = words.next()?.parse().ok()?;
                let node = line.split_whitespace().find_map(|w| w.strip_prefix("nodename="))?.to_string();
                Some(FenceRecord { at, node, ok: line.ends_with(" ok") })
            })
            .collect()
    }

    /// Every log of every node (each start separately) and the fence log,
    /// for failure messages.
    pub fn report(&self) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            for (n, path) in node.logs.iter().enumerate() {
                let log = fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let skip = lines.len().saturating_sub(200);
                let _ = writeln!(text, "===== {} heartbeat, start {} ({}) =====", node.name, n + 1, path.display());
                if skip > 0 {
                    let _ = writeln!(text, "[… {skip} earlier lines …]");
                }
                for line in &lines[skip..] {
                    let _ = writeln!(text, "{line}");
                }
            }
        }
        let fence = fs::read_to_string(&self.fence_log).unwrap_or_default();
        let _ = write!(text, "===== fence agent log =====\n{fence}");
        text
    }

    /// Panics with `what` and every log unless `ok`.
    #[track_caller]
    pub fn ensure(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }

    /// Panics with `what` and every log.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{}", self.report());
    }

    /// Whether node `i` has the service address configured at all (on any
    /// interface, up or down), as `ip -o addr show` lists it.
    pub fn configured_service_ip(&self, i: usize) -> bool {
        let out = self.nodes[i].ns.run("ip", &["-o", "addr", "show"], None);
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {SERVICE_IP}/"))
    }
}

/// Runs `cmd` to completion with `input` on stdin.
fn run_with_input(mut cmd: Command, input: &str) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // HEARTBEAT_TEST_LOGS=DIR keeps every log in DIR/<test name>/.
        if let Some(keep) = std::env::var_os("HEARTBEAT_TEST_LOGS") {
            let name = std::thread::current().name().unwrap_or("cluster").replace("::", "-");
            let target = Path::new(&keep).join(name);
            let _ = fs::create_dir_all(&target);
            for path in self.nodes.iter().flat_map(|n| &n.logs).chain([&self.fence_log]) {
                let _ = fs::copy(path, target.join(path.file_name().unwrap()));
            }
        }
        for node in &mut self.nodes {
            node.guard.replace(None);
            kill_everything_in(&node.ns);
        }
        kill_everything_in(&self.client);
        // The namespaces are deleted when the fields drop.
    }
}
