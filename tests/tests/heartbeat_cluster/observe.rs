//! What users of the cluster see: a client polling the service over HTTP,
//! and who holds the service address, sampled continuously.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tests::Netns;

use super::cluster::{holds_service_ip, SERVICE_IP};

/// Seconds since the Unix epoch (comparable with the fence agent's log).
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}

/// `GET /` from the service address: the node name the page holds.
pub fn http_get(timeout: Duration) -> Result<String, String> {
    let addr = SocketAddr::from((SERVICE_IP.parse::<Ipv4Addr>().unwrap(), 80));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {:?}", e.kind()))?;
    stream.set_read_timeout(Some(timeout)).and_then(|()| stream.set_write_timeout(Some(timeout))).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").map_err(|e| format!("send: {:?}", e.kind()))?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(|e| format!("read: {:?}", e.kind()))?;
    let (head, body) = reply.split_once("\r\n\r\n").ok_or_else(|| format!("bad reply {reply:?}"))?;
    if head.split_whitespace().nth(1) != Some("200") {
        return Err(format!("status {:?}", head.lines().next().unwrap_or("")));
    }
    Ok(body.trim().to_string())
}

/// One request of the prober.
#[derive(Debug, Clone)]
pub struct Probe {
    /// When it was sent.
    pub at: Instant,
    /// The same moment as Unix time.
    pub wall: f64,
    /// The serving node's name, or why there was no answer.
    pub answer: Result<String, String>,
}

impl Probe {
    /// Whether `node` answered this request.
    pub fn from(&self, node: &str) -> bool {
        self.answer.as_deref() == Ok(node)
    }
}

/// A client in its namespace sending a request every 20 ms (timeouts
/// 200 ms) and recording every outcome, until dropped.
pub struct Prober {
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<Probe>>>,
    thread: Option<JoinHandle<()>>,
}

impl Prober {
    /// Starts probing from `client`.
    pub fn start(client: Arc<Netns>) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(Mutex::new(Vec::new()));
        let (s, p) = (stop.clone(), probes.clone());
        let thread = std::thread::spawn(move || {
            client.enter(|| {
                while !s.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let wall = unix_now();
                    let answer = http_get(Duration::from_millis(200));
                    p.lock().unwrap().push(Probe { at, wall, answer });
                    std::thread::sleep((at + Duration::from_millis(20)).saturating_duration_since(Instant::now()));
                }
            })
        });
        Prober { stop, probes, thread: Some(thread) }
    }

    /// Everything recorded so far.
    pub fn probes(&self) -> Vec<Probe> {
        self.probes.lock().unwrap().clone()
    }

    /// The first answer from `node` sent at or after `since`, waiting up to
    /// `limit` for it.
    pub fn wait_answer_from(&self, node: &str, since: Instant, limit: Duration) -> Option<Probe> {
        let mut found = None;
        super::cluster::poll(limit, Duration::from_millis(20), || {
            found = first_answer_from(&self.probes(), node, since).cloned();
            found.is_some()
        });
        found
    }

    /// Stops probing and returns the record.
    pub fn finish(mut self) -> Vec<Probe> {
        self.halt();
        self.probes()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("prober thread");
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The first answer from `node` among requests sent at or after `since`.
pub fn first_answer_from<'a>(probes: &'a [Probe], node: &str, since: Instant) -> Option<&'a Probe> {
    probes.iter().find(|p| p.at >= since && p.from(node))
}

/// The longest time without an answer that ends at or after `since`: the
/// largest gap between consecutive answered requests, or between the last
/// answer and the last request when the record ends unanswered.
pub fn longest_outage(probes: &[Probe], since: Instant) -> Duration {
    let answered: Vec<Instant> = probes.iter().filter(|p| p.answer.is_ok()).map(|p| p.at).collect();
    let between = answered.windows(2).filter(|w| w[1] >= since).map(|w| w[1] - w[0]);
    let at_end = match (answered.last(), probes.last()) {
        (Some(&ok), Some(last)) if last.at >= since => last.at - ok,
        _ => Duration::ZERO,
    };
    between.chain([at_end]).max().unwrap_or_default()
}

/// The record as runs of equal outcomes, times relative to `origin`:
/// `-0.412s..+0.108s alpha ×24`.
pub fn timeline(probes: &[Probe], origin: Instant) -> String {
    let rel = |t: Instant| {
        if t >= origin {
            format!("+{:.3}s", (t - origin).as_secs_f64())
        } else {
            format!("-{:.3}s", (origin - t).as_secs_f64())
        }
    };
    let mut text = String::from("client's view (request times relative to the fault):\n");
    let mut i = 0;
    while i < probes.len() {
        let j = probes[i..].iter().position(|p| p.answer != probes[i].answer).map_or(probes.len(), |n| i + n);
        let what = match &probes[i].answer {
            Ok(node) => node.clone(),
            Err(e) => format!("no answer ({e})"),
        };
        let _ = writeln!(text, "  {}..{} {what} ×{}", rel(probes[i].at), rel(probes[j - 1].at), j - i);
        i = j;
    }
    text
}

/// Samples, every ~10 ms until dropped, which of the namespaces hold the
/// service address on an interface that is up, and remembers every moment
/// more than one did.
pub struct OwnerSampler {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<OwnerState>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct OwnerState {
    samples: u64,
    /// Moments (as Unix time) at which two or more namespaces held it.
    doubles: Vec<(f64, Vec<bool>)>,
}

impl OwnerSampler {
    /// Starts sampling `nodes`.
    pub fn start(nodes: Vec<Arc<Netns>>) -> OwnerSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(OwnerState::default()));
        let (s, st) = (stop.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let owners: Vec<bool> = nodes.iter().map(|ns| ns.enter(holds_service_ip)).collect();
                let mut state = st.lock().unwrap();
                state.samples += 1;
                if owners.iter().filter(|&&o| o).count() > 1 {
                    state.doubles.push((unix_now(), owners));
                }
                drop(state);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        OwnerSampler { stop, state, thread: Some(thread) }
    }

    /// How many samples were taken.
    pub fn samples(&self) -> u64 {
        self.state.lock().unwrap().samples
    }

    /// The Unix times at which more than one node held the address.
    pub fn doubles(&self) -> Vec<f64> {
        self.state.lock().unwrap().doubles.iter().map(|(t, _)| *t).collect()
    }
}

impl Drop for OwnerSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
