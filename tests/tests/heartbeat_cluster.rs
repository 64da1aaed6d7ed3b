//! The five classic failover tests of a Heartbeat cluster (spec §8), run on
//! our `heartbeat` with two nodes as network namespaces, each judged by what
//! a client of the service sees: a busybox HTTP server on the group's
//! address answering with the name of the node that serves it.
//!
//! Timings: keepalive 200 ms, warntime 500 ms, deadtime 1 s, initdead 2 s,
//! stonith_delay 2 s; STONITH is a test agent that "powers off" a namespace.
//! Limits on waits are generous (the machine may be loaded); the limits the
//! tests assert are the user-visible ones.

#[path = "heartbeat_cluster/cluster.rs"]
mod cluster;
#[path = "heartbeat_cluster/observe.rs"]
mod observe;

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use cluster::{Cluster, ALPHA, BRAVO, NODES, SERVICE_IP};
use observe::{first_answer_from, longest_outage, timeline, OwnerSampler, Probe, Prober};
use tests::skip_unless_capable;

/// Generous limit for things expected within 1–3 s.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long the client keeps watching after the backup took over.
const WATCH_AFTER: Duration = Duration::from_secs(1);

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Panics (with the client's view and the logs) if `node` answered any
/// request sent at or after `since`.
fn ensure_silent_after(c: &Cluster, probes: &[Probe], node: &str, since: &Probe, view: &str) {
    if let Some(late) = probes.iter().find(|p| p.at >= since.at && p.from(node)) {
        c.fail(&format!(
            "{node} answered {} after the backup's first answer: the service ran on two nodes\n{view}",
            secs(late.at - since.at)
        ));
    }
}

/// Waits for the first answer from `node` after `fault`, failing with the
/// client's view and the logs if none comes.
fn wait_served_by(c: &Cluster, prober: &Prober, node: &str, fault: Instant) -> Probe {
    match prober.wait_answer_from(node, fault, PATIENCE) {
        Some(p) => p,
        None => c.fail(&format!(
            "{node} did not serve the client within {} of the fault\n{}",
            secs(PATIENCE),
            timeline(&prober.probes(), fault)
        )),
    }
}

/// A prober that has already seen alpha answer (so outages are measured
/// from a served state).
fn serving_prober(c: &Cluster) -> Prober {
    let prober = Prober::start(c.client.clone());
    let start = Instant::now();
    let seen = prober.wait_answer_from(NODES[ALPHA], start, PATIENCE).is_some();
    c.ensure(seen, &format!("the client never reached alpha\n{}", timeline(&prober.probes(), start)));
    std::thread::sleep(Duration::from_millis(300));
    prober
}

/// Extra: when both nodes start together, the group starts on its home
/// node only: the address is never held by both, bravo acquires nothing.
#[test]
fn cold_start_runs_the_group_on_its_home_node_only() {
    if skip_unless_capable(&[]) {
        return;
    }
    let mut c = Cluster::new();
    let sampler = OwnerSampler::start(c.nodes.iter().map(|n| n.ns.clone()).collect());
    let start = Instant::now();
    c.start_node(ALPHA);
    c.start_node(BRAVO);
    c.wait_steady(ALPHA);
    eprintln!("MEASURED cold start: alpha serves {} after both nodes were started", secs(start.elapsed()));
    std::thread::sleep(Duration::from_millis(500));
    let doubles = sampler.doubles();
    drop(sampler);
    c.ensure(doubles.is_empty(), &format!("both nodes held {SERVICE_IP} at {} sampled instants", doubles.len()));
    c.ensure(
        !c.nodes[BRAVO].log().contains("Acquiring resource group"),
        "bravo acquired alpha's group at a cold start while alpha was up",
    );
    c.ensure(c.fence_records().is_empty(), "nobody should be fenced at a cold start");
}

/// Test 1: `heartbeat stop` on the primary. It releases the group and says
/// so; the backup serves within 1 s; no request goes unanswered for longer
/// than 1 s; nobody is fenced.
#[test]
fn graceful_stop_of_the_primary_backup_serves_within_one_second() {
    if skip_unless_capable(&[]) {
        return;
    }
    let c = Cluster::start();
    let prober = serving_prober(&c);

    let fault = Instant::now();
    let out = c.nodes[ALPHA].ctl(&["stop"]);
    c.ensure(out.status.success(), &format!("`heartbeat stop` on alpha failed: {}", text(&out)));
    let exit = c.nodes[ALPHA].guard().wait_exit(PATIENCE);
    c.ensure(exit.is_some_and(|s| s.success()), &format!("alpha's heartbeat did not exit 0 after `stop`: {exit:?}"));
    let first = wait_served_by(&c, &prober, "bravo", fault);
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.finish();
    let view = timeline(&probes, fault);

    let outage = longest_outage(&probes, fault);
    let switch = first.at - fault;
    eprintln!(
        "MEASURED test 1: bravo's first answer {} after `heartbeat stop`; longest outage {}",
        secs(switch),
        secs(outage)
    );
    c.ensure(
        switch < Duration::from_secs(1) && outage < Duration::from_secs(1),
        &format!(
            "the backup did not take over within 1 s: first answer after {}, longest outage {}\n{view}",
            secs(switch),
            secs(outage)
        ),
    );
    ensure_silent_after(&c, &probes, "alpha", &first, &view);

    let alpha_log = c.nodes[ALPHA].log();
    c.ensure(alpha_log.contains("Heartbeat shutdown complete"), "alpha did not log `Heartbeat shutdown complete`");
    c.ensure(
        c.nodes[BRAVO].log().contains("Received shutdown notice from 'alpha'."),
        "bravo did not log alpha's notice",
    );
    c.ensure(c.fence_records().is_empty(), "a graceful stop must not fence anyone");
    c.ensure(!c.configured_service_ip(ALPHA), "alpha kept the service address after its stop");
    let status = text(&c.nodes[BRAVO].ctl(&["status"]));
    c.ensure(
        status.contains(&format!("group {SERVICE_IP}/24/eth0: running here")),
        &format!("`heartbeat status` on bravo does not show the group running there:\n{status}"),
    );
}

/// Extra: with auto_failback on, restarting the stopped primary brings the
/// group home, again without a long outage and without fencing.
#[test]
fn restarted_primary_takes_its_group_back() {
    if skip_unless_capable(&[]) {
        return;
    }
    let mut c = Cluster::start();
    let prober = serving_prober(&c);
    let out = c.nodes[ALPHA].ctl(&["stop"]);
    c.ensure(out.status.success(), &format!("`heartbeat stop` on alpha failed: {}", text(&out)));
    wait_served_by(&c, &prober, "bravo", Instant::now());
    std::thread::sleep(Duration::from_millis(500));

    let restart = Instant::now();
    c.start_node(ALPHA);
    let home = wait_served_by(&c, &prober, "alpha", restart);
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.finish();
    let view = timeline(&probes, restart);
    let outage = longest_outage(&probes, restart);
    eprintln!(
        "MEASURED failback: alpha serves {} after its restart; longest outage {}",
        secs(home.at - restart),
        secs(outage)
    );
    c.ensure(
        outage < Duration::from_secs(1),
        &format!("failback left the client without answers for {}\n{view}", secs(outage)),
    );
    ensure_silent_after(&c, &probes, "bravo", &home, &view);
    c.wait_steady(ALPHA);
    c.ensure(!c.configured_service_ip(BRAVO), "bravo kept the service address after failback");
    c.ensure(c.fence_records().is_empty(), "nobody should have been fenced");
}

/// Test 2: the primary's public link goes down while the dedicated link
/// stays up. Both nodes stay members; alpha sees fewer ping nodes and gives
/// the group to bravo; nobody is fenced. Re-plugged, the group returns home.
#[test]
fn primary_losing_its_public_link_hands_the_group_to_the_backup() {
    if skip_unless_capable(&[]) {
        return;
    }
    let c = Cluster::start();
    let prober = serving_prober(&c);
    // Both heartbeat paths carry heartbeats before the pull.
    let mut nodes = String::new();
    let both_paths = cluster::poll(PATIENCE, Duration::from_millis(100), || {
        nodes = text(&c.nodes[ALPHA].ctl(&["nodes"]));
        nodes.lines().any(|l| l.starts_with("bravo ") && l.contains("eth0") && l.contains("eth1"))
    });
    c.ensure(both_paths, &format!("alpha does not hear bravo on both eth0 and eth1:\n{nodes}"));

    let fault = Instant::now();
    c.nodes[ALPHA].ns.ip(&["link", "set", "eth0", "down"]);
    let first = wait_served_by(&c, &prober, "bravo", fault);
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.probes();
    let view = timeline(&probes, fault);
    eprintln!("MEASURED test 2: bravo serves {} after alpha's public link went down", secs(first.at - fault));

    let since_first = &probes[probes.iter().position(|p| p.at >= first.at).unwrap()..];
    let steady = longest_outage(since_first, first.at) < Duration::from_secs(1) && probes.last().unwrap().from("bravo");
    c.ensure(steady, &format!("the service was not steadily served by bravo\n{view}"));
    c.ensure(c.nodes[ALPHA].log().contains("Link bravo:eth0 dead."), "alpha did not log `Link bravo:eth0 dead.`");
    c.ensure(
        c.nodes[ALPHA].log().contains("Giving up because we have less visible ping nodes."),
        "alpha did not log `Giving up because we have less visible ping nodes.`",
    );
    c.ensure(!c.configured_service_ip(ALPHA), "alpha kept the service address after giving up the group");
    c.ensure(c.nodes[ALPHA].running() && c.nodes[BRAVO].running(), "a heartbeat exited");
    c.ensure(
        !c.nodes[BRAVO].log().contains("node alpha: is dead"),
        "bravo declared alpha dead: the dedicated link was up",
    );
    c.ensure(c.fence_records().is_empty(), "nobody should be fenced when only the public link is lost");

    let replug = Instant::now();
    c.nodes[ALPHA].ns.ip(&["link", "set", "eth0", "up"]);
    let home = prober.wait_answer_from("alpha", replug, Duration::from_secs(20));
    let probes = prober.finish();
    let view = timeline(&probes, fault);
    let Some(home) = home else {
        c.fail(&format!("the group did not return to alpha after its link came back (auto_failback on)\n{view}"));
    };
    eprintln!("MEASURED test 2: the group is home {} after the re-plug", secs(home.at - replug));
    ensure_silent_after(&c, &probes, "bravo", &home, &view);
    c.ensure(c.fence_records().is_empty(), "nobody should be fenced when the link comes back");
}

/// Test 3: the primary loses power. The backup declares it dead, fences it
/// (successfully: it is off), and only then serves. Powered on again, alpha
/// rejoins and gets its group back.
#[test]
fn power_loss_of_the_primary_backup_fences_it_then_serves() {
    if skip_unless_capable(&[]) {
        return;
    }
    let mut c = Cluster::start();
    let prober = serving_prober(&c);

    let fault = Instant::now();
    c.power_off(ALPHA);
    let first = wait_served_by(&c, &prober, "bravo", fault);
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.finish();
    let view = timeline(&probes, fault);
    eprintln!("MEASURED test 3: bravo serves {} after alpha lost power", secs(first.at - fault));

    let fenced = c.fence_records();
    c.ensure(
        fenced.len() == 1 && fenced[0].ok && fenced[0].node == "alpha",
        &format!("expected exactly one successful fencing of alpha, got {fenced:?}"),
    );
    c.ensure(
        fenced[0].at < first.wall,
        &format!("bravo served ({:.3}) before alpha was fenced ({:.3})\n{view}", first.wall, fenced[0].at),
    );
    let bravo_log = c.nodes[BRAVO].log();
    for line in ["node alpha: is dead", "Resetting node alpha with [", "node alpha now reset."] {
        c.ensure(bravo_log.contains(line), &format!("bravo did not log `{line}`"));
    }

    c.power_on(ALPHA);
    c.wait_steady(ALPHA);
    c.ensure(c.fence_records().len() == 1, "nobody should be fenced when alpha rejoins");
}

/// Extra: while the fence device fails, the backup keeps retrying and does
/// not serve (safe but unavailable); once the device works it fences and
/// serves.
#[test]
fn failing_fence_device_keeps_the_group_down_until_fencing_works() {
    if skip_unless_capable(&[]) {
        return;
    }
    let c = Cluster::start();
    let prober = serving_prober(&c);
    fs::write(&c.fence_fail, "").unwrap();

    let fault = Instant::now();
    c.power_off(ALPHA);
    let tried = cluster::poll(PATIENCE, Duration::from_millis(50), || c.fence_records().iter().any(|r| !r.ok));
    c.ensure(tried, "bravo never tried to fence alpha");
    std::thread::sleep(Duration::from_secs(3));
    let view = timeline(&prober.probes(), fault);
    c.ensure(first_answer_from(&prober.probes(), "bravo", fault).is_none(), &format!("bravo served unfenced\n{view}"));
    c.ensure(!c.nodes[BRAVO].owns_service_ip(), "bravo took the service address before alpha was fenced");
    c.ensure(c.nodes[BRAVO].running(), "bravo's heartbeat exited");

    fs::remove_file(&c.fence_fail).unwrap();
    let repaired = Instant::now();
    let first = match prober.wait_answer_from("bravo", repaired, Duration::from_secs(20)) {
        Some(p) => p,
        None => c.fail(&format!("bravo never served after the fence device was repaired\n{view}")),
    };
    let probes = prober.finish();
    eprintln!("MEASURED fence retry: bravo serves {} after the device was repaired", secs(first.at - repaired));
    let records = c.fence_records();
    let failed = records.iter().filter(|r| !r.ok).count();
    let ok = records.iter().find(|r| r.ok);
    c.ensure(
        ok.is_some_and(|r| r.node == "alpha" && r.at < first.wall),
        &format!("no successful fencing of alpha before bravo served: {records:?}\n{}", timeline(&probes, fault)),
    );
    eprintln!("MEASURED fence retry: {failed} failed attempt(s) before the successful one");
}

/// Test 4: all heartbeat links are cut (UDP dropped in one node's
/// namespace; the public network still carries the service and the pings).
/// Every time exactly one node fences the other and serves; at no sampled
/// instant did both hold the service address. Ten rounds: in odd rounds
/// alpha serves when the links are cut, in even rounds bravo (alpha went
/// standby first); the node serving at the cut wins (stonith_delay delays
/// the other), so the service does not move.
#[test]
fn split_brain_ten_times_one_owner_and_the_other_fenced() {
    if skip_unless_capable(&[]) {
        return;
    }
    let mut c = Cluster::start();
    let sampler = OwnerSampler::start(c.nodes.iter().map(|n| n.ns.clone()).collect());
    let mut figures = Vec::new();
    for round in 1..=10 {
        let holder = if round % 2 == 1 { ALPHA } else { BRAVO };
        let cut = if round % 4 < 2 { ALPHA } else { BRAVO };
        if holder == BRAVO {
            let out = c.nodes[ALPHA].ctl(&["standby", "all"]);
            c.ensure(out.status.success(), &format!("round {round}: `heartbeat standby all` on alpha: {}", text(&out)));
            let mut last = Err(String::new());
            let moved = cluster::poll(PATIENCE, Duration::from_millis(50), || {
                last = c.get();
                last.as_deref() == Ok("bravo")
            });
            c.ensure(moved, &format!("round {round}: bravo does not serve after alpha's standby (last {last:?})"));
        }
        let before = c.fence_records().len();
        c.heartbeat_firewall(cut, "-A");
        let fault = Instant::now();
        let settled = cluster::poll(PATIENCE, Duration::from_millis(20), || {
            let running = c.nodes.iter().filter(|n| n.running()).count();
            running == 1 && c.fence_records().len() > before
        });
        c.ensure(settled, &format!("round {round}: not exactly one heartbeat left running after a fencing"));
        let fenced_after = fault.elapsed();
        // A second shot would come within stonith_delay; give it the chance.
        std::thread::sleep(Duration::from_millis(500));
        let survivor = if c.nodes[ALPHA].running() { ALPHA } else { BRAVO };
        let victim = 1 - survivor;
        c.ensure(
            survivor == holder,
            &format!("round {round}: {} served at the cut but {} won and fenced it", NODES[holder], NODES[survivor]),
        );
        let records = c.fence_records();
        let new = &records[before..];
        c.ensure(
            new.len() == 1 && new[0].ok && new[0].node == NODES[victim],
            &format!("round {round}: expected one fencing of {} by {}, got {new:?}", NODES[victim], NODES[survivor]),
        );
        c.ensure(c.nodes[survivor].running(), &format!("round {round}: the survivor's heartbeat exited"));
        let mut last = Err(String::new());
        let serving = cluster::poll(PATIENCE, Duration::from_millis(50), || {
            last = c.get();
            c.nodes[survivor].owns_service_ip() && last.as_deref() == Ok(NODES[survivor])
        });
        c.ensure(serving, &format!("round {round}: {} does not serve (last answer {last:?})", NODES[survivor]));
        c.ensure(!c.nodes[victim].owns_service_ip(), &format!("round {round}: the fenced node holds the address"));
        figures.push(format!(
            "round {round}: {} fenced {} after {}",
            NODES[survivor],
            NODES[victim],
            secs(fenced_after)
        ));

        c.heartbeat_firewall(cut, "-D");
        c.power_on(victim);
        c.wait_steady(ALPHA);
    }
    let doubles = sampler.doubles();
    let samples = sampler.samples();
    drop(sampler);
    eprintln!("MEASURED test 4:\n  {}\n  {samples} ownership samples", figures.join("\n  "));
    c.ensure(samples > 100, &format!("only {samples} ownership samples were taken"));
    c.ensure(
        doubles.is_empty(),
        &format!("both nodes held {SERVICE_IP} at {} sampled instants: {doubles:?}", doubles.len()),
    );
}

/// Test 5: `kill -9` of the primary's heartbeat leaves its service running;
/// the backup must fence it before serving, so alpha never answers once
/// bravo has, and the address is never held twice.
#[test]
fn kill_9_of_the_primary_heartbeat_is_fenced_before_the_backup_serves() {
    if skip_unless_capable(&[]) {
        return;
    }
    let c = Cluster::start();
    let prober = serving_prober(&c);
    let sampler = OwnerSampler::start(c.nodes.iter().map(|n| n.ns.clone()).collect());

    let fault = Instant::now();
    c.nodes[ALPHA].guard().signal(nix::sys::signal::Signal::SIGKILL);
    let first = wait_served_by(&c, &prober, "bravo", fault);
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.finish();
    let view = timeline(&probes, fault);
    let doubles = sampler.doubles();
    drop(sampler);
    let last_alpha = probes.iter().rev().find(|p| p.from("alpha")).map(|p| p.at);
    eprintln!(
        "MEASURED test 5: bravo serves {} after the kill; alpha's service last answered {}",
        secs(first.at - fault),
        last_alpha.map_or("never".into(), |t| format!("{} after the kill", secs(t.saturating_duration_since(fault))))
    );

    ensure_silent_after(&c, &probes, "alpha", &first, &view);
    let fenced = c.fence_records();
    c.ensure(
        fenced.len() == 1 && fenced[0].ok && fenced[0].node == "alpha",
        &format!("expected exactly one successful fencing of alpha, got {fenced:?}\n{view}"),
    );
    c.ensure(
        fenced[0].at < first.wall,
        &format!("bravo served ({:.3}) before alpha was fenced ({:.3})\n{view}", first.wall, fenced[0].at),
    );
    c.ensure(
        doubles.is_empty(),
        &format!("both nodes held {SERVICE_IP} at {} sampled instants\n{view}", doubles.len()),
    );
    c.ensure(c.nodes[BRAVO].log().contains("node alpha: is dead"), "bravo did not log `node alpha: is dead`");
}

/// `heartbeat standby` on the primary moves the group to the backup and
/// keeps it there (even with auto_failback on); `heartbeat takeover` on
/// the primary brings it back. Nobody is fenced.
#[test]
fn standby_and_takeover_commands_move_the_group() {
    if skip_unless_capable(&[]) {
        return;
    }
    let c = Cluster::start();
    let prober = serving_prober(&c);

    let asked = Instant::now();
    let out = c.nodes[ALPHA].ctl(&["standby", "all"]);
    c.ensure(out.status.success(), &format!("`heartbeat standby all` failed: {}", text(&out)));
    wait_served_by(&c, &prober, "bravo", asked);
    std::thread::sleep(Duration::from_millis(1500));
    let status = text(&c.nodes[ALPHA].ctl(&["status"]));
    c.ensure(status.contains("standby: all"), &format!("alpha's status does not show its standby:\n{status}"));
    c.ensure(
        status.lines().any(|l| l.starts_with(&format!("group {SERVICE_IP}")) && l.ends_with(": held by bravo")),
        &format!("alpha's status does not show bravo holding the group:\n{status}"),
    );
    c.ensure(
        c.nodes[BRAVO].owns_service_ip() && !c.nodes[ALPHA].owns_service_ip(),
        "the group left bravo during standby",
    );

    let asked = Instant::now();
    let out = c.nodes[ALPHA].ctl(&["takeover", "all"]);
    c.ensure(out.status.success(), &format!("`heartbeat takeover all` failed: {}", text(&out)));
    let back = wait_served_by(&c, &prober, "alpha", asked);
    eprintln!("MEASURED takeover: alpha serves again {} after `heartbeat takeover`", secs(back.at - asked));
    std::thread::sleep(WATCH_AFTER);
    let probes = prober.finish();
    ensure_silent_after(&c, &probes, "bravo", &back, &timeline(&probes, asked));
    c.ensure(c.fence_records().is_empty(), "nobody should be fenced by standby/takeover");
    c.ensure(
        c.nodes[BRAVO].log().contains("alpha wants to go standby [all]"),
        "bravo did not log alpha's standby request",
    );
}
