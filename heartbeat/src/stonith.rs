//! Fencing through fence-agents-style agents (spec §5.4, §5.5).
//!
//! ha.cf: `stonith_host <from-node|*> <agent> [key=value …]`. The agent is
//! an absolute path or a name looked up in `/usr/sbin` then `/sbin` at
//! each call. It gets no arguments; its stdin carries the configured pairs
//! followed by `action=reboot` (or `off` with `stonith_action off`),
//! `plug=<victim's plug>` and `nodename=<victim>`. The plug is the node
//! name unless `host_map=node1:vm1;node2:vm2` maps it (`host_map` itself is
//! not passed). Exit 0 means done; every call is bounded by
//! `stonith_timeout` and the agent's process group is killed on expiry.
//!
//! Log lines follow Heartbeat's (`Resetting node N with [AGENT]`,
//! `node N now reset.`, `Host N not reset!`, `Checking status of STONITH
//! device [AGENT]`). Retrying, delays and takeover decisions belong to the
//! caller; a fence call can be cancelled ([`Cancel`]) when its reason is
//! gone.
//!
//! Besides `reboot`/`off` and `monitor`, the caller may ask a victim's
//! power state (`action=status`: exit 0 on, 2 off, as fence-agents define
//! it) and power a node on (`action=on`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tracing::{error, info};

use crate::config::hacf::{AgentRef, FenceAction, FenceParams, HaConfig};
use plumbing::process::{self, Cancel, RunError};

/// Where agents given by name are looked up, in order.
pub const AGENT_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Why fencing (or the device check) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// No executable agent found.
    #[error("fence agent {name} not found (looked for {})", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    AgentNotFound { name: String, searched: Vec<PathBuf> },
    /// The agent could not be run, or did not finish in time and was killed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The agent exited non-zero (or was killed by a signal).
    #[error("{}", failed_text(agent, action, target.as_deref(), *code, stderr))]
    Failed { agent: PathBuf, action: &'static str, target: Option<String>, code: Option<i32>, stderr: String },
}

fn failed_text(agent: &Path, action: &str, target: Option<&str>, code: Option<i32>, stderr: &str) -> String {
    let what = match target {
        Some(victim) => format!("{action} of {victim}"),
        None => action.to_string(),
    };
    let how = match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_string(),
    };
    let mut text = format!("fence agent {} failed ({what}): {how}", agent.display());
    if let Some(last) = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        text.push_str(": ");
        text.push_str(last);
    }
    text
}

/// A node's power state as its fence agent reports it (`action=status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Exit 0: powered on (running, paused, anything but off).
    On,
    /// Exit 2: powered off.
    Off,
}

/// Fences other nodes with the `stonith_host` line that applies to this node.
#[derive(Debug, Clone)]
pub struct Fencer {
    agent: AgentRef,
    params: FenceParams,
    host_map: BTreeMap<String, String>,
    action: FenceAction,
    timeout: Duration,
    search_dirs: Vec<PathBuf>,
}

impl Fencer {
    /// The fencer for `local_node`: its own `stonith_host` line, else the
    /// `*` line; `None` when neither exists (no STONITH device configured).
    pub fn for_node(config: &HaConfig, local_node: &str) -> Option<Fencer> {
        let host = config.stonith_host_for(local_node)?;
        Some(Fencer {
            agent: host.agent.clone(),
            params: host.params.clone(),
            host_map: host.host_map.clone(),
            action: config.stonith.action,
            timeout: config.stonith.timeout,
            search_dirs: AGENT_DIRS.iter().map(PathBuf::from).collect(),
        })
    }

    /// Looks agent names up in `dirs` instead of [`AGENT_DIRS`].
    pub fn with_search_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.search_dirs = dirs;
        self
    }

    /// The agent as configured (for log lines).
    pub fn agent(&self) -> &AgentRef {
        &self.agent
    }

    /// The deadline of one agent call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The plug that powers `node`.
    pub fn plug_for<'a>(&'a self, node: &'a str) -> &'a str {
        self.host_map.get(node).map_or(node, String::as_str)
    }

    /// The agent's path: the configured path, or the first executable
    /// regular file of that name in the search directories.
    pub fn resolve_agent(&self) -> Result<PathBuf, FenceError> {
        let candidates = match &self.agent {
            AgentRef::Path(path) => vec![path.clone()],
            AgentRef::Name(name) => self.search_dirs.iter().map(|d| d.join(name)).collect(),
        };
        candidates
            .iter()
            .find(|p| is_executable(p))
            .cloned()
            .ok_or_else(|| FenceError::AgentNotFound { name: self.agent.to_string(), searched: candidates })
    }

    /// Fences `victim` (blocking): `Ok` only when the agent exits 0.
    pub fn fence(&self, victim: &str) -> Result<(), FenceError> {
        self.fence_cancellable(victim, &Cancel::new())
    }

    /// [`Fencer::fence`], killed when `cancel` is cancelled (an error then).
    pub fn fence_cancellable(&self, victim: &str, cancel: &Cancel) -> Result<(), FenceError> {
        info!("Resetting node {victim} with [{}]", self.agent);
        match self.call(self.action.as_str(), Some(victim), cancel) {
            Ok(()) => {
                info!("node {victim} now reset.");
                Ok(())
            }
            Err(e @ FenceError::Run(RunError::Cancelled { .. })) => {
                info!("Fencing of {victim} cancelled: its reason is gone");
                Err(e)
            }
            Err(e) => {
                error!("Host {victim} not reset!");
                error!("{e}");
                Err(e)
            }
        }
    }

    /// `victim`'s power state (`action=status`; exit 0 on, 2 off, anything
    /// else an error).
    pub fn power_status(&self, victim: &str) -> Result<Power, FenceError> {
        match self.call("status", Some(victim), &Cancel::new()) {
            Ok(()) => Ok(Power::On),
            Err(FenceError::Failed { code: Some(2), .. }) => Ok(Power::Off),
            Err(e) => Err(e),
        }
    }

    /// Powers `node` on (`action=on`).
    pub fn power_on(&self, node: &str) -> Result<(), FenceError> {
        info!("Powering on node {node} with [{}]", self.agent);
        self.call("on", Some(node), &Cancel::new()).inspect_err(|e| error!("Node {node} not powered on: {e}"))
    }

    /// Checks the device (`action=monitor`): `Ok` when the agent exits 0.
    pub fn monitor(&self) -> Result<(), FenceError> {
        info!("Checking status of STONITH device [{}]", self.agent);
        self.probe()
    }

    /// [`Fencer::monitor`] without the log line saying it runs (a failure
    /// is still logged): for periodic checks.
    pub fn probe(&self) -> Result<(), FenceError> {
        self.call("monitor", None, &Cancel::new())
            .inspect_err(|e| error!("STONITH device {} not operational! {e}", self.agent))
    }

    /// The agent's stdin: configured pairs, then action, plug and nodename.
    fn stdin(&self, action: &str, victim: Option<&str>) -> String {
        let mut text = String::new();
        for (key, value) in &self.params.0 {
            text.push_str(&format!("{key}={value}\n"));
        }
        text.push_str(&format!("action={action}\n"));
        if let Some(victim) = victim {
            text.push_str(&format!("plug={}\nnodename={victim}\n", self.plug_for(victim)));
        }
        text
    }

    fn call(&self, action: &'static str, victim: Option<&str>, cancel: &Cancel) -> Result<(), FenceError> {
        let agent = self.resolve_agent()?;
        let input = self.stdin(action, victim);
        let output = process::run_cancellable(Command::new(&agent), Some(input.as_bytes()), self.timeout, cancel)?;
        if output.code() == Some(0) {
            return Ok(());
        }
        Err(FenceError::Failed {
            agent,
            action,
            target: victim.map(str::to_string),
            code: output.code(),
            stderr: output.stderr,
        })
    }
}

/// A regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tracing::Level;

    use super::*;
    use crate::testutil::{capture_logs, read_lines, write_script, Recorder};

    /// ha.cf for node alpha with the given extra lines.
    fn config(extra: &str) -> HaConfig {
        let text = format!("node alpha bravo charlie\nbcast eth0\nauto_failback on\n{extra}");
        HaConfig::parse(Path::new("/etc/ha.d/ha.cf"), &text, "alpha").unwrap().0
    }

    /// An agent that records its stdin (one file per call) and exits `code`.
    fn recording_agent(rec: &Recorder, name: &str, code: i32) -> PathBuf {
        let path = rec.dir.path().join("sbin").join(name);
        write_script(
            &path,
            &format!("cat >> {}\necho --- >> {}\nexit {code}", rec.calls.display(), rec.calls.display()),
        );
        path
    }

    fn fencer(rec: &Recorder, extra: &str) -> Fencer {
        Fencer::for_node(&config(extra), "alpha").unwrap().with_search_dirs(vec![rec.dir.path().join("sbin")])
    }

    #[test]
    fn fence_passes_pairs_action_plug_and_nodename_on_stdin() {
        let rec = Recorder::new();
        recording_agent(&rec, "fence_test", 0);
        let f =
            fencer(&rec, "stonith_host * fence_test ipaddr=10.0.9.2 login=admin passwd=secret host_map=bravo:vm2\n");
        let (result, logs) = capture_logs(|| f.fence("bravo"));
        result.unwrap();
        f.fence("charlie").unwrap();
        assert_eq!(
            rec.calls(),
            [
                "ipaddr=10.0.9.2",
                "login=admin",
                "passwd=secret",
                "action=reboot",
                "plug=vm2",
                "nodename=bravo",
                "---",
                "ipaddr=10.0.9.2",
                "login=admin",
                "passwd=secret",
                "action=reboot",
                "plug=charlie",
                "nodename=charlie",
                "---",
            ]
        );
        let info: Vec<&str> = logs.iter().filter(|(l, _)| *l == Level::INFO).map(|(_, m)| m.as_str()).collect();
        assert_eq!(info, ["Resetting node bravo with [fence_test]", "node bravo now reset."]);
        assert!(!logs.iter().any(|(_, m)| m.contains("secret")), "passwords must not be logged");
    }

    #[test]
    fn stonith_action_off_is_passed() {
        let rec = Recorder::new();
        recording_agent(&rec, "fence_test", 0);
        fencer(&rec, "stonith_host * fence_test\nstonith_action off\n").fence("bravo").unwrap();
        assert_eq!(rec.calls(), ["action=off", "plug=bravo", "nodename=bravo", "---"]);
    }

    #[test]
    fn a_failing_agent_is_a_failed_fence() {
        let rec = Recorder::new();
        let path = rec.dir.path().join("sbin/fence_fail");
        write_script(&path, "cat >/dev/null; echo 'Failed: Unable to obtain correct plug status' >&2; exit 1");
        let f = fencer(&rec, "stonith_host * fence_fail\n");
        let (result, logs) = capture_logs(|| f.fence("bravo"));
        let err = result.unwrap_err();
        assert!(matches!(err, FenceError::Failed { code: Some(1), .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "fence agent {} failed (reboot of bravo): exit code 1: Failed: Unable to obtain correct plug status",
                path.display()
            )
        );
        let errors: Vec<&str> = logs.iter().filter(|(l, _)| *l == Level::ERROR).map(|(_, m)| m.as_str()).collect();
        assert_eq!(errors[0], "Host bravo not reset!");
    }

    #[test]
    fn an_agent_killed_by_a_signal_or_unable_to_start_fails() {
        let rec = Recorder::new();
        let path = rec.dir.path().join("sbin/fence_sig");
        write_script(&path, "kill -9 $$");
        let f = fencer(&rec, "stonith_host * fence_sig\n");
        let err = f.fence("bravo").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("fence agent {} failed (reboot of bravo): killed by a signal", path.display())
        );
        std::fs::write(&path, "#!/nonexistent/interpreter\n").unwrap();
        let err = f.fence("bravo").unwrap_err();
        assert!(matches!(err, FenceError::Run(RunError::Spawn { .. })), "{err}");
    }

    #[test]
    fn a_hung_agent_is_killed_at_stonith_timeout() {
        let rec = Recorder::new();
        let marker = rec.dir.path().join("finished");
        write_script(&rec.dir.path().join("sbin/fence_hang"), &format!("sleep 2; touch {}", marker.display()));
        let f = fencer(&rec, "stonith_host * fence_hang\nstonith_timeout 300ms\n");
        assert_eq!(f.timeout(), Duration::from_millis(300));
        let started = Instant::now();
        let err = f.fence("bravo").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert!(matches!(err, FenceError::Run(RunError::Timeout { .. })), "{err}");
        assert!(err.to_string().ends_with("fence_hang did not finish within 300 ms and was killed"), "{err}");
        std::thread::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed()));
        assert!(!marker.exists(), "the agent kept running after the timeout");
    }

    #[test]
    fn monitor_sends_action_monitor_only() {
        let rec = Recorder::new();
        recording_agent(&rec, "fence_test", 0);
        let f = fencer(&rec, "stonith_host * fence_test ipaddr=x host_map=bravo:vm2\n");
        let (result, logs) = capture_logs(|| f.monitor());
        result.unwrap();
        assert_eq!(rec.calls(), ["ipaddr=x", "action=monitor", "---"]);
        assert_eq!(logs[0].1, "Checking status of STONITH device [fence_test]");
        write_script(&rec.dir.path().join("sbin/fence_test"), "exit 1");
        let err = f.monitor().unwrap_err();
        assert!(err.to_string().ends_with("failed (monitor): exit code 1"), "{err}");
    }

    #[test]
    fn power_status_reads_the_fence_agents_exit_codes() {
        let rec = Recorder::new();
        let path = rec.dir.path().join("sbin/fence_st");
        let f = fencer(&rec, "stonith_host * fence_st host_map=bravo:vm2\n");
        write_script(&path, &format!("cat >> {}; exit 0", rec.calls.display()));
        assert_eq!(f.power_status("bravo").unwrap(), Power::On);
        assert_eq!(rec.calls(), ["action=status", "plug=vm2", "nodename=bravo"]);
        write_script(&path, "cat >/dev/null; exit 2");
        assert_eq!(f.power_status("bravo").unwrap(), Power::Off);
        write_script(&path, "cat >/dev/null; exit 1");
        assert!(matches!(f.power_status("bravo").unwrap_err(), FenceError::Failed { code: Some(1), .. }));
    }

    #[test]
    fn power_on_sends_action_on() {
        let rec = Recorder::new();
        recording_agent(&rec, "fence_test", 0);
        fencer(&rec, "stonith_host * fence_test\n").power_on("bravo").unwrap();
        assert_eq!(rec.calls(), ["action=on", "plug=bravo", "nodename=bravo", "---"]);
    }

    #[test]
    fn a_cancelled_fence_kills_the_agent_and_is_no_failure_in_the_log() {
        let rec = Recorder::new();
        let marker = rec.dir.path().join("agent-finished");
        let started = rec.dir.path().join("agent-started");
        write_script(
            &rec.dir.path().join("sbin/fence_slow"),
            &format!("touch {}; sleep 1; touch {}", started.display(), marker.display()),
        );
        let f = fencer(&rec, "stonith_host * fence_slow\n");
        let cancel = Cancel::new();
        let call = {
            let (f, cancel) = (f.clone(), cancel.clone());
            std::thread::spawn(move || capture_logs(|| f.fence_cancellable("bravo", &cancel)))
        };
        while !started.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        cancel.cancel();
        let (result, logs) = call.join().unwrap();
        assert!(matches!(result.unwrap_err(), FenceError::Run(RunError::Cancelled { .. })));
        assert!(logs.iter().any(|(_, m)| m == "Fencing of bravo cancelled: its reason is gone"), "{logs:?}");
        assert!(!logs.iter().any(|(l, _)| *l == Level::ERROR), "{logs:?}");
        std::thread::sleep(Duration::from_millis(1300));
        assert!(!marker.exists(), "the agent went on after the cancel");
    }

    #[test]
    fn the_nodes_own_line_beats_the_star_line() {
        let rec = Recorder::new();
        recording_agent(&rec, "fence_star", 0);
        recording_agent(&rec, "fence_own", 0);
        let cfg = config("stonith_host * fence_star\nstonith_host alpha fence_own\n");
        assert_eq!(Fencer::for_node(&cfg, "alpha").unwrap().agent(), &AgentRef::Name("fence_own".into()));
        assert_eq!(Fencer::for_node(&cfg, "bravo").unwrap().agent(), &AgentRef::Name("fence_star".into()));
        let cfg = config("stonith_host bravo fence_own\n");
        assert!(Fencer::for_node(&cfg, "alpha").is_none());
        assert!(Fencer::for_node(&config(""), "alpha").is_none());
    }

    #[test]
    fn names_are_looked_up_in_order_and_lazily() {
        let rec = Recorder::new();
        let first = rec.dir.path().join("usr-sbin");
        let second = rec.dir.path().join("sbin");
        let f = Fencer::for_node(&config("stonith_host * fence_x\n"), "alpha")
            .unwrap()
            .with_search_dirs(vec![first.clone(), second.clone()]);
        // Not installed yet: parsing succeeded, the call fails naming both places.
        let err = f.fence("bravo").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "fence agent fence_x not found (looked for {}, {})",
                first.join("fence_x").display(),
                second.join("fence_x").display()
            )
        );
        write_script(&second.join("fence_x"), "exit 0");
        assert_eq!(f.resolve_agent().unwrap(), second.join("fence_x"));
        write_script(&first.join("fence_x"), "exit 0");
        assert_eq!(f.resolve_agent().unwrap(), first.join("fence_x"));
        f.fence("bravo").unwrap();
        assert_eq!(AGENT_DIRS, ["/usr/sbin", "/sbin"]);
    }

    #[test]
    fn absolute_agent_paths_are_used_as_given() {
        let rec = Recorder::new();
        let path = rec.dir.path().join("opt/fence_abs");
        let cfg = config(&format!("stonith_host * {}\n", path.display()));
        let f = Fencer::for_node(&cfg, "alpha").unwrap();
        let err = f.monitor().unwrap_err();
        assert_eq!(err.to_string(), format!("fence agent {0} not found (looked for {0})", path.display()));
        write_script(&path, &format!("cat > {}", rec.calls.display()));
        f.fence("bravo").unwrap();
        assert_eq!(read_lines(&rec.calls), ["action=reboot", "plug=bravo", "nodename=bravo"]);
    }

    #[test]
    fn a_non_executable_agent_is_not_found() {
        let rec = Recorder::new();
        let path = rec.dir.path().join("sbin/fence_noexec");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        let err = fencer(&rec, "stonith_host * fence_noexec\n").fence("bravo").unwrap_err();
        assert!(matches!(err, FenceError::AgentNotFound { .. }), "{err}");
    }
}
