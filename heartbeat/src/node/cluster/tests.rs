use super::*;

const AGENT: Fencing =
    Fencing::Agent { delay: StonithDelay::Fixed(Duration::from_secs(5)), keepalive: KEEPALIVE, power_on: false };
const AUTO: Fencing = Fencing::Agent { delay: StonithDelay::Auto, keepalive: KEEPALIVE, power_on: false };
const KEEPALIVE: Duration = Duration::from_millis(200);

fn nodes() -> Vec<String> {
    vec!["alpha".into(), "bravo".into()]
}

fn groups() -> Vec<GroupInfo> {
    vec![GroupInfo { key: "web".into(), home: "alpha".into() }, GroupInfo { key: "db".into(), home: "bravo".into() }]
}

fn cluster(local: &str, failback: AutoFailback, fencing: Fencing) -> Cluster {
    Cluster::new(local, &nodes(), groups(), failback, fencing, Duration::ZERO)
}

fn announce(status: NodeStatus, holds: &[&str], ping: usize) -> Announcement {
    Announcement {
        status,
        holds: holds.iter().copied().map(GroupKey::from).collect(),
        ping,
        standby: None,
        watchdog: Duration::ZERO,
        unclean: BTreeSet::new(),
        fence_time: Duration::ZERO,
    }
}

fn starts(actions: &[Action]) -> Vec<String> {
    actions.iter().filter_map(|a| if let Action::Start(k) = a { Some(k.to_string()) } else { None }).collect()
}

fn stops(actions: &[Action]) -> Vec<String> {
    actions.iter().filter_map(|a| if let Action::Stop(k) = a { Some(k.to_string()) } else { None }).collect()
}

fn fences(actions: &[Action]) -> Vec<(String, Duration)> {
    actions
        .iter()
        .filter_map(|a| if let Action::Fence { node, after } = a { Some((node.clone(), *after)) } else { None })
        .collect()
}

/// alpha active with bravo active and each holding its home group.
fn settled_alpha(failback: AutoFailback, fencing: Fencing) -> Cluster {
    let mut c = cluster("alpha", failback, fencing);
    c.on_announcement("bravo", announce(NodeStatus::Active, &[], 0));
    assert_eq!(starts(&c.become_active()), ["web"]);
    c.on_group_done(&GroupKey::from("web"), GroupResult::Started);
    c.on_announcement("bravo", announce(NodeStatus::Active, &["db"], 0));
    c
}

#[test]
fn cold_start_each_node_starts_only_its_home_group() {
    let c = settled_alpha(AutoFailback::On, AGENT);
    assert_eq!(c.local_group(&GroupKey::from("web")), LocalGroup::Running);
    assert_eq!(c.local_group(&GroupKey::from("db")), LocalGroup::Stopped);
    assert_eq!(c.holder(&GroupKey::from("db")), Some("bravo"));
}

#[test]
fn nothing_starts_while_a_peer_is_still_settling() {
    let mut c = cluster("bravo", AutoFailback::On, AGENT);
    c.on_announcement("alpha", announce(NodeStatus::Up, &[], 0));
    let actions = c.become_active();
    assert_eq!(starts(&actions), Vec::<String>::new(), "alpha's group must wait for alpha: {actions:?}");
    let actions = c.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    assert_eq!(starts(&actions), ["db"]);
}

#[test]
fn shutdown_notice_hands_groups_over_without_fencing() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    // The leaving node announces each release; the group starts on that news.
    let actions = c.on_announcement("bravo", announce(NodeStatus::Leaving, &["db"], 0));
    assert!(starts(&actions).is_empty(), "bravo still holds db: {actions:?}");
    let mut actions = c.on_announcement("bravo", announce(NodeStatus::Leaving, &[], 0));
    actions.extend(c.on_shutdown_notice("bravo"));
    assert_eq!(starts(&actions), ["db"]);
    assert!(fences(&actions).is_empty());
    assert!(c.on_node_dead("bravo").is_empty(), "a node that left is not fenced when its links time out");
}

#[test]
fn a_dead_holder_is_fenced_before_its_group_starts() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    let actions = c.on_node_dead("bravo");
    // alpha holds one group, bravo one; equal claims → alpha (first node) fences at once.
    assert_eq!(fences(&actions), [("bravo".to_string(), Duration::ZERO)]);
    assert!(starts(&actions).is_empty(), "{actions:?}");
    assert!(c.needs_fencing("bravo"));
    let actions = c.on_node_safe("bravo", CleanReason::Fenced);
    assert_eq!(starts(&actions), ["db"]);
}

#[test]
fn in_a_partition_the_node_without_resources_waits_before_fencing() {
    let mut c = cluster("bravo", AutoFailback::On, AGENT);
    c.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    c.become_active();
    c.on_announcement("alpha", announce(NodeStatus::Active, &["web", "db"], 0));
    assert_eq!(fences(&c.on_node_dead("alpha")), [("alpha".to_string(), Duration::from_secs(5))]);

    let mut holder = cluster("alpha", AutoFailback::On, AGENT);
    holder.on_announcement("bravo", announce(NodeStatus::Active, &[], 0));
    holder.become_active();
    holder.on_group_done(&GroupKey::from("web"), GroupResult::Started);
    assert_eq!(fences(&holder.on_node_dead("bravo")), [("bravo".to_string(), Duration::ZERO)]);
}

#[test]
fn partition_heal_cancels_fencing() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    c.on_node_dead("bravo");
    c.on_announcement("bravo", announce(NodeStatus::Active, &["db"], 0));
    assert!(!c.needs_fencing("bravo"));
    assert_eq!(c.holder(&GroupKey::from("db")), Some("bravo"));
}

#[test]
fn auto_failback_on_returns_a_group_home_only_after_the_holder_released_it() {
    let mut c = cluster("alpha", AutoFailback::On, AGENT);
    c.on_announcement("bravo", announce(NodeStatus::Active, &["web", "db"], 0));
    let actions = c.become_active();
    assert!(starts(&actions).is_empty(), "bravo still holds web: {actions:?}");
    let actions = c.on_announcement("bravo", announce(NodeStatus::Active, &["db"], 0));
    assert_eq!(starts(&actions), ["web"]);
    // and the holder's side releases it:
    let mut b = cluster("bravo", AutoFailback::On, AGENT);
    b.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    b.become_active();
    b.adopt_running(&GroupKey::from("web"));
    let actions = b.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    assert_eq!(stops(&actions), ["web"]);
}

#[test]
fn auto_failback_off_leaves_a_group_where_it_runs() {
    let mut b = cluster("bravo", AutoFailback::Off, AGENT);
    b.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    b.become_active();
    b.adopt_running(&GroupKey::from("web"));
    let actions = b.on_announcement("alpha", announce(NodeStatus::Active, &[], 0));
    assert!(stops(&actions).is_empty(), "{actions:?}");
    assert_eq!(b.desired_owner(&GroupKey::from("web")).as_deref(), Some("bravo"));
}

#[test]
fn the_node_seeing_fewer_ping_nodes_gives_up_its_groups() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    c.set_ping_count(1);
    c.on_announcement("bravo", announce(NodeStatus::Active, &["db"], 1));
    assert_eq!(c.local_group(&GroupKey::from("web")), LocalGroup::Running);
    let actions = c.set_ping_count(0);
    assert_eq!(stops(&actions), ["web"]);
    assert_eq!(c.desired_owner(&GroupKey::from("web")).as_deref(), Some("bravo"));
}

#[test]
fn standby_moves_groups_away_while_another_node_can_run_them() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    assert_eq!(stops(&c.go_standby(GroupSet::All)), ["web"]);
    assert_eq!(c.desired_owner(&GroupKey::from("web")).as_deref(), Some("bravo"));
    // without a peer, standby does not leave groups unowned
    c.on_group_done(&GroupKey::from("web"), GroupResult::Stopped);
    c.on_announcement("bravo", announce(NodeStatus::Leaving, &["db", "web"], 0));
    let actions = c.on_shutdown_notice("bravo");
    assert_eq!(starts(&actions), ["web", "db"]);
}

#[test]
fn without_fencing_or_watchdog_a_dead_peer_is_never_taken_over() {
    let mut c = settled_alpha(AutoFailback::On, Fencing::None { unfenced_takeover: false });
    let actions = c.on_node_dead("bravo");
    assert!(actions.is_empty(), "{actions:?}");
    assert!(c.needs_fencing("bravo"));
    assert_eq!(c.desired_owner(&GroupKey::from("db")).as_deref(), Some("alpha"));
    assert_eq!(c.local_group(&GroupKey::from("db")), LocalGroup::Stopped);
}

#[test]
fn without_fencing_a_peer_watchdog_is_waited_for() {
    let mut c = cluster("alpha", AutoFailback::On, Fencing::None { unfenced_takeover: false });
    let mut a = announce(NodeStatus::Active, &["db"], 0);
    a.watchdog = Duration::from_secs(2);
    c.on_announcement("bravo", a);
    c.become_active();
    let actions = c.on_node_dead("bravo");
    assert_eq!(actions, [Action::AwaitWatchdog { node: "bravo".into(), after: Duration::from_secs(3) }]);
    assert_eq!(starts(&c.on_node_safe("bravo", CleanReason::WatchdogExpired)), ["db"]);
}

#[test]
fn unfenced_takeover_takes_over_at_once() {
    let mut c = settled_alpha(AutoFailback::On, Fencing::None { unfenced_takeover: true });
    assert_eq!(starts(&c.on_node_dead("bravo")), ["db"]);
}

#[test]
fn a_group_that_failed_here_goes_to_the_peer_and_is_retried_only_when_nobody_runs_it() {
    let mut c = cluster("alpha", AutoFailback::On, AGENT);
    c.on_announcement("bravo", announce(NodeStatus::Active, &[], 0));
    c.become_active();
    let actions = c.on_group_done(&GroupKey::from("web"), GroupResult::StartFailed);
    assert!(starts(&actions).is_empty());
    assert_eq!(c.desired_owner(&GroupKey::from("web")).as_deref(), Some("bravo"));
    c.on_announcement("bravo", announce(NodeStatus::Active, &["web"], 0));
    assert!(c.retry_failed().is_empty());
    c.on_announcement("bravo", announce(NodeStatus::Active, &[], 0));
    assert_eq!(starts(&c.retry_failed()), ["web"]);
}

#[test]
fn a_peer_never_heard_by_initdead_is_fenced_first() {
    let mut c = cluster("alpha", AutoFailback::On, AGENT);
    let actions = c.become_active();
    assert_eq!(fences(&actions), [("bravo".to_string(), Duration::ZERO)]);
    assert!(starts(&actions).is_empty());
    assert_eq!(starts(&c.on_node_safe("bravo", CleanReason::Fenced)), ["web", "db"]);
    assert_eq!(c.take_initial_completion(), None);
    c.on_group_done(&GroupKey::from("web"), GroupResult::Started);
    c.on_group_done(&GroupKey::from("db"), GroupResult::Started);
    assert_eq!(c.take_initial_completion(), Some("mach_down"));
}

#[test]
fn shutdown_releases_everything_then_completes() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    assert_eq!(stops(&c.begin_shutdown()), ["web"]);
    assert!(!c.shutdown_complete());
    c.on_group_done(&GroupKey::from("web"), GroupResult::Stopped);
    assert!(c.shutdown_complete());
    assert_eq!(c.announcement().holds.len(), 0);
}

#[test]
fn a_dead_peer_that_restarted_needs_no_fencing_any_more() {
    let mut c = settled_alpha(AutoFailback::On, AGENT);
    c.on_node_dead("bravo");
    assert!(c.needs_fencing("bravo"));
    c.on_restart("bravo");
    assert!(!c.needs_fencing("bravo"));
    let actions = c.on_announcement("bravo", announce(NodeStatus::Up, &[], 0));
    assert!(starts(&actions).is_empty(), "{actions:?}");
    let actions = c.on_announcement("bravo", announce(NodeStatus::Active, &[], 0));
    assert!(starts(&actions).is_empty(), "db is bravo's again: {actions:?}");
    assert_eq!(c.desired_owner(&GroupKey::from("db")).as_deref(), Some("bravo"));
}

// Watchdog-only operation (no stonith_host): in a partition the node with
// the weaker claim gives up, the stronger one takes over after the wait.

const NO_STONITH: Fencing = Fencing::None { unfenced_takeover: false };

fn with_watchdog(mut a: Announcement, watchdog: Duration) -> Announcement {
    a.watchdog = watchdog;
    a
}

/// `local` (watchdog `wd`) active, holding `mine`; the peer active with
/// watchdog `peer_wd`, holding `theirs`.
fn watchdog_pair(local: &str, mine: &[&str], theirs: &[&str], wd: Duration, peer_wd: Duration) -> Cluster {
    let peer = if local == "alpha" { "bravo" } else { "alpha" };
    let mut c = Cluster::new(local, &nodes(), groups(), AutoFailback::On, NO_STONITH, wd);
    c.on_announcement(peer, with_watchdog(announce(NodeStatus::Active, theirs, 0), peer_wd));
    c.become_active();
    for key in mine {
        c.adopt_running(&GroupKey::from(*key));
    }
    c.on_announcement(peer, with_watchdog(announce(NodeStatus::Active, theirs, 0), peer_wd));
    c
}

fn stops_feeding(actions: &[Action]) -> bool {
    actions.contains(&Action::StopFeeding)
}

fn awaits(actions: &[Action]) -> Vec<(String, Duration)> {
    actions
        .iter()
        .filter_map(|a| if let Action::AwaitWatchdog { node, after } = a { Some((node.clone(), *after)) } else { None })
        .collect()
}

const WD: Duration = Duration::from_secs(3);

#[test]
fn without_stonith_the_weaker_node_releases_its_groups_and_stops_feeding_when_it_loses_the_peer() {
    // bravo holds db, alpha web: equal counts, alpha is first in `node` order.
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], WD, WD);
    assert_eq!(bravo.local_group(&GroupKey::from("db")), LocalGroup::Running);
    let actions = bravo.on_node_dead("alpha");
    assert!(stops_feeding(&actions), "the weaker side must stop feeding its watchdog at once: {actions:?}");
    assert_eq!(stops(&actions), ["db"], "and release its groups: {actions:?}");
    assert!(awaits(&actions).is_empty(), "alpha does not reset itself, so its watchdog proves nothing: {actions:?}");
    // Released in time: the node stays up, passive, and feeds again.
    let actions = bravo.on_group_done(&GroupKey::from("db"), GroupResult::Stopped);
    assert!(actions.contains(&Action::ResumeFeeding), "{actions:?}");
    assert!(starts(&actions).is_empty(), "{actions:?}");
    assert_eq!(bravo.announcement().holds.len(), 0);
    assert!(starts(&bravo.retry_failed()).is_empty());
}

#[test]
fn without_stonith_a_weaker_node_whose_stop_fails_is_left_to_its_watchdog() {
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], WD, WD);
    bravo.on_node_dead("alpha");
    let actions = bravo.on_group_done(&GroupKey::from("db"), GroupResult::StopFailed);
    assert!(!actions.contains(&Action::ResumeFeeding), "db may still run here: the reset must come: {actions:?}");
}

#[test]
fn without_stonith_the_stronger_node_keeps_its_groups_and_takes_over_only_after_the_peer_watchdog() {
    let mut alpha = watchdog_pair("alpha", &["web"], &["db"], WD, WD);
    let actions = alpha.on_node_dead("bravo");
    assert!(!stops_feeding(&actions) && stops(&actions).is_empty(), "{actions:?}");
    assert_eq!(awaits(&actions), [("bravo".to_string(), WD + Duration::from_secs(1))]);
    assert!(starts(&actions).is_empty(), "db only after bravo's watchdog: {actions:?}");
    assert_eq!(starts(&alpha.on_node_safe("bravo", CleanReason::WatchdogExpired)), ["db"]);
    assert_eq!(alpha.local_group(&GroupKey::from("web")), LocalGroup::Running);
}

#[test]
fn without_stonith_the_passive_node_takes_over_a_lost_active_one_after_its_watchdog_time() {
    // The active alpha holds everything and dies (or is cut off: bravo cannot tell).
    let mut bravo = watchdog_pair("bravo", &[], &["web", "db"], WD, WD);
    let actions = bravo.on_node_dead("alpha");
    assert!(!stops_feeding(&actions), "bravo holds nothing, so it has nothing to give up: {actions:?}");
    assert_eq!(awaits(&actions), [("alpha".to_string(), WD + Duration::from_secs(1))], "{actions:?}");
    assert!(starts(&actions).is_empty(), "nothing before alpha's watchdog time: {actions:?}");
    let mut started = starts(&bravo.on_node_safe("alpha", CleanReason::WatchdogExpired));
    started.sort();
    assert_eq!(started, ["db", "web"]);
    // alpha, if it was only cut off, gave its group up at once and stopped feeding.
    let mut alpha = watchdog_pair("alpha", &["web"], &[], WD, WD);
    let actions = alpha.on_node_dead("bravo");
    assert!(stops_feeding(&actions), "{actions:?}");
    assert_eq!(stops(&actions), ["web"], "{actions:?}");
    assert!(awaits(&actions).is_empty(), "{actions:?}");
}

#[test]
fn without_stonith_the_weaker_node_never_takes_over_from_the_stronger_one() {
    // Both hold a group; alpha is first in `node` order: bravo gives way.
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], WD, WD);
    let actions = bravo.on_node_dead("alpha");
    assert!(awaits(&actions).is_empty(), "alpha keeps feeding if it is only cut off: {actions:?}");
    assert!(bravo.needs_fencing("alpha"));
    assert_eq!(bravo.desired_owner(&GroupKey::from("web")), None);
    // A restart of bravo does not change that: alpha, never heard, is not taken over.
    let mut restarted = Cluster::new("bravo", &nodes(), groups(), AutoFailback::On, NO_STONITH, WD);
    let actions = restarted.become_active();
    assert!(starts(&actions).is_empty() && !stops_feeding(&actions), "{actions:?}");
    // When alpha is heard again, bravo's home group comes back to it.
    bravo.on_group_done(&GroupKey::from("db"), GroupResult::Stopped);
    let actions = bravo.on_announcement("alpha", with_watchdog(announce(NodeStatus::Active, &["web"], 0), WD));
    assert_eq!(starts(&actions), ["db"], "{actions:?}");
}

#[test]
fn without_stonith_both_sides_of_a_partition_agree_on_which_one_gives_up() {
    let cases: [(&[&str], &[&str], usize, usize); 6] = [
        (&["web"], &["db"], 0, 0),
        (&["web", "db"], &[], 0, 0),
        (&[], &["web", "db"], 0, 0),
        (&["web"], &["db"], 1, 0),
        (&["web"], &["db"], 0, 1),
        (&[], &[], 0, 0),
    ];
    for (alpha_holds, bravo_holds, alpha_ping, bravo_ping) in cases {
        let mut alpha = watchdog_pair("alpha", alpha_holds, bravo_holds, WD, WD);
        let mut bravo = watchdog_pair("bravo", bravo_holds, alpha_holds, WD, WD);
        alpha.set_ping_count(alpha_ping);
        bravo.set_ping_count(bravo_ping);
        // Both have heard each other's latest status (twice: the first round may move groups).
        for _ in 0..2 {
            let (from_alpha, from_bravo) = (alpha.announcement(), bravo.announcement());
            alpha.on_announcement("bravo", from_bravo);
            bravo.on_announcement("alpha", from_alpha);
        }
        let (alpha_held, bravo_held) = (alpha.announcement().holds, bravo.announcement().holds);
        let a = alpha.on_node_dead("bravo");
        let b = bravo.on_node_dead("alpha");
        let case =
            format!("alpha {alpha_held:?} ping {alpha_ping}, bravo {bravo_held:?} ping {bravo_ping}: {a:?} / {b:?}");
        assert_eq!(awaits(&a).len() + awaits(&b).len(), 1, "exactly one side takes over: {case}");
        let (winner, loser, loser_held, loser_node) =
            if awaits(&a).is_empty() { (&b, &a, &alpha_held, &mut alpha) } else { (&a, &b, &bravo_held, &mut bravo) };
        assert!(!stops_feeding(winner) && stops(winner).is_empty(), "{case}");
        assert_eq!(stops_feeding(loser), !loser_held.is_empty(), "{case}");
        for key in loser_held {
            if loser_node.local_group(key) == LocalGroup::Starting {
                // A start in progress is stopped as soon as it completes.
                assert_eq!(
                    stops(&loser_node.on_group_done(key, GroupResult::Started)),
                    vec![key.to_string()],
                    "{case}"
                );
            }
            assert_eq!(loser_node.local_group(key), LocalGroup::Stopping, "{key}: {case}");
        }
    }
}

#[test]
fn without_stonith_a_weaker_node_without_watchdog_keeps_its_groups() {
    // The peer cannot take them over (nothing resets bravo), so nothing is gained by stopping them.
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], Duration::ZERO, WD);
    let actions = bravo.on_node_dead("alpha");
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(bravo.local_group(&GroupKey::from("db")), LocalGroup::Running);
    let mut alpha = watchdog_pair("alpha", &["web"], &["db"], WD, Duration::ZERO);
    let actions = alpha.on_node_dead("bravo");
    assert!(actions.is_empty(), "{actions:?}");
}

/// `a` with `node` declared dead by its sender.
fn declaring_dead(mut a: Announcement, node: &str) -> Announcement {
    a.unclean.insert(node.to_string());
    a
}

#[test]
fn without_stonith_the_weaker_node_gives_up_when_a_stronger_peer_it_still_hears_declares_it_dead() {
    // Only bravo -> alpha is cut: bravo still hears alpha, which waits for bravo's watchdog.
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], WD, WD);
    let from_alpha = declaring_dead(with_watchdog(announce(NodeStatus::Active, &["web"], 0), WD), "bravo");
    let actions = bravo.on_announcement("alpha", from_alpha.clone());
    assert!(stops_feeding(&actions), "alpha takes db over after bravo's watchdog time: {actions:?}");
    assert_eq!(stops(&actions), ["db"], "{actions:?}");
    assert!(bravo.on_announcement("alpha", from_alpha.clone()).is_empty(), "once is enough");
    let actions = bravo.on_group_done(&GroupKey::from("db"), GroupResult::Stopped);
    assert!(actions.contains(&Action::ResumeFeeding) && starts(&actions).is_empty(), "{actions:?}");
    assert!(bravo.on_announcement("alpha", from_alpha).is_empty(), "db stays away while alpha may take it");
    // alpha hears bravo again (and took nothing yet): db comes home.
    let actions = bravo.on_announcement("alpha", with_watchdog(announce(NodeStatus::Active, &["web"], 0), WD));
    assert_eq!(starts(&actions), ["db"], "{actions:?}");

    // The other way round: alpha, the better claim, heard declared dead by bravo, keeps its groups
    // (bravo gives its own up, as above, and never takes alpha's).
    let mut alpha = watchdog_pair("alpha", &["web"], &["db"], WD, WD);
    let from_bravo = declaring_dead(with_watchdog(announce(NodeStatus::Active, &["db"], 0), WD), "alpha");
    let actions = alpha.on_announcement("bravo", from_bravo);
    assert!(!stops_feeding(&actions) && stops(&actions).is_empty(), "{actions:?}");
}

#[test]
fn the_announcement_names_the_peers_declared_dead_and_not_yet_safe() {
    let mut alpha = watchdog_pair("alpha", &["web"], &["db"], WD, WD);
    assert!(alpha.announcement().unclean.is_empty());
    alpha.on_node_dead("bravo");
    assert_eq!(alpha.announcement().unclean, BTreeSet::from(["bravo".to_string()]));
    alpha.on_node_safe("bravo", CleanReason::WatchdogExpired);
    assert!(alpha.announcement().unclean.is_empty());
}

#[test]
fn without_a_watchdog_a_node_declared_dead_by_a_peer_it_hears_keeps_its_groups() {
    let mut bravo = watchdog_pair("bravo", &["db"], &["web"], Duration::ZERO, WD);
    let from_alpha = declaring_dead(with_watchdog(announce(NodeStatus::Active, &["web"], 0), WD), "bravo");
    assert!(bravo.on_announcement("alpha", from_alpha).is_empty());
    assert_eq!(bravo.local_group(&GroupKey::from("db")), LocalGroup::Running);
}

// Fencing races, stale fences and the power state (issue 11).

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn with_fence_time(mut a: Announcement, fence_time: Duration) -> Announcement {
    a.fence_time = fence_time;
    a
}

/// bravo, passive, with alpha active holding both groups (alpha announced `fence_time`).
fn passive_bravo(fencing: Fencing, fence_time: Duration) -> Cluster {
    let mut c = cluster("bravo", AutoFailback::Off, fencing);
    c.on_announcement("alpha", announce(NodeStatus::Active, &[], 1));
    c.become_active();
    c.on_announcement("alpha", with_fence_time(announce(NodeStatus::Active, &["web", "db"], 1), fence_time));
    c
}

fn index_of(actions: &[Action], wanted: impl Fn(&Action) -> bool) -> Option<usize> {
    actions.iter().position(wanted)
}

#[test]
fn auto_delay_is_the_holders_announced_fence_time_plus_two_keepalives() {
    let mut c = passive_bravo(AUTO, ms(340));
    let actions = c.on_node_dead("alpha");
    assert_eq!(fences(&actions), [("alpha".to_string(), ms(340 + 400))]);
    assert!(actions.contains(&Action::CheckPower("alpha".into())), "the weaker side asks the power state: {actions:?}");

    // A holder that announced no fence time (not measured yet, older version): the fallback.
    let mut c = passive_bravo(AUTO, Duration::ZERO);
    assert_eq!(fences(&c.on_node_dead("alpha")), [("alpha".to_string(), FALLBACK_STONITH_DELAY)]);

    // A fixed stonith_delay ignores the announced figure.
    let mut c = passive_bravo(AGENT, ms(340));
    assert_eq!(fences(&c.on_node_dead("alpha")), [("alpha".to_string(), Duration::from_secs(5))]);
}

#[test]
fn the_holder_fences_at_once_without_asking_the_power_state() {
    let mut holder = cluster("alpha", AutoFailback::Off, AUTO);
    holder.on_announcement("bravo", announce(NodeStatus::Active, &[], 1));
    holder.set_ping_count(1);
    holder.become_active();
    holder.on_group_done(&GroupKey::from("web"), GroupResult::Started);
    holder.on_group_done(&GroupKey::from("db"), GroupResult::Started);
    holder.on_announcement("bravo", with_fence_time(announce(NodeStatus::Active, &[], 1), ms(300)));
    let actions = holder.on_node_dead("bravo");
    assert_eq!(fences(&actions), [("bravo".to_string(), Duration::ZERO)]);
    assert!(!actions.iter().any(|a| matches!(a, Action::CheckPower(_))), "{actions:?}");
}

#[test]
fn both_sides_of_a_split_agree_that_the_holder_fences_first() {
    // The same cut seen from each side: exactly one fences at once.
    let mut holder = cluster("alpha", AutoFailback::Off, AUTO);
    holder.on_announcement("bravo", announce(NodeStatus::Active, &[], 1));
    holder.set_ping_count(1);
    holder.become_active();
    holder.on_group_done(&GroupKey::from("web"), GroupResult::Started);
    holder.on_group_done(&GroupKey::from("db"), GroupResult::Started);
    holder.set_fence_time(ms(300));
    let mut passive = passive_bravo(AUTO, holder.announcement().fence_time);
    passive.set_ping_count(1);
    passive.set_fence_time(ms(300));
    holder.on_announcement("bravo", passive.announcement());
    let holder_fence = fences(&holder.on_node_dead("bravo"));
    let passive_fence = fences(&passive.on_node_dead("alpha"));
    assert_eq!(holder_fence, [("bravo".to_string(), Duration::ZERO)]);
    assert_eq!(passive_fence, [("alpha".to_string(), ms(300) + KEEPALIVE * 2)]);
}

#[test]
fn a_lost_peer_found_powered_off_is_safe_without_waiting_or_fencing() {
    let mut c = passive_bravo(AUTO, ms(340));
    c.on_node_dead("alpha");
    assert!(c.may_fence("alpha"));
    let actions = c.on_power_off("alpha");
    assert_eq!(actions.first(), Some(&Action::CancelFence("alpha".into())), "{actions:?}");
    assert_eq!(starts(&actions), ["web", "db"]);
    assert!(!c.needs_fencing("alpha") && !c.may_fence("alpha"), "the scheduled fence must not run");
    assert_eq!(c.peer("alpha"), Some(&PeerState::Clean(CleanReason::FoundOff)));
    assert!(!actions.iter().any(|a| matches!(a, Action::PowerOn(_))), "power-on is opt-in: {actions:?}");
    // A late "off" for a peer that is safe or back changes nothing.
    assert!(c.on_power_off("alpha").is_empty());
}

#[test]
fn stonith_power_on_powers_a_peer_found_or_left_off_on_again() {
    let power_on = Fencing::Agent { delay: StonithDelay::Auto, keepalive: KEEPALIVE, power_on: true };
    let mut c = passive_bravo(power_on, ms(340));
    c.on_node_dead("alpha");
    assert!(c.on_power_off("alpha").contains(&Action::PowerOn("alpha".into())));

    let mut c = passive_bravo(power_on, ms(340));
    c.on_node_dead("alpha");
    assert!(c.on_node_safe("alpha", CleanReason::Fenced).contains(&Action::PowerOn("alpha".into())));

    let mut c = passive_bravo(AUTO, ms(340));
    c.on_node_dead("alpha");
    assert!(!c.on_node_safe("alpha", CleanReason::Fenced).iter().any(|a| matches!(a, Action::PowerOn(_))));
}

#[test]
fn a_peer_heard_again_cancels_its_fence_before_anything_else() {
    let mut c = passive_bravo(AUTO, ms(340));
    c.on_node_dead("alpha");
    let actions = c.on_announcement("alpha", announce(NodeStatus::Active, &["web", "db"], 1));
    assert_eq!(index_of(&actions, |a| *a == Action::CancelFence("alpha".into())), Some(0), "{actions:?}");
    assert!(!c.may_fence("alpha"));
    assert!(starts(&actions).is_empty(), "alpha still holds its groups: {actions:?}");
}

#[test]
fn a_restarted_peer_cancels_its_fence() {
    let mut c = passive_bravo(AUTO, ms(340));
    c.on_node_dead("alpha");
    assert_eq!(c.on_restart("alpha"), [Action::CancelFence("alpha".into())]);
    assert!(!c.may_fence("alpha"));
    // A restart of a peer that was not dead cancels nothing.
    let mut c = passive_bravo(AUTO, ms(340));
    assert!(c.on_restart("alpha").is_empty());
}

#[test]
fn a_clean_stop_cancels_fences_and_starts_none() {
    let mut c = settled_alpha(AutoFailback::On, AUTO);
    c.on_node_dead("bravo");
    assert!(c.may_fence("bravo"));
    let actions = c.begin_shutdown();
    assert_eq!(actions.first(), Some(&Action::CancelFence("bravo".into())), "{actions:?}");
    assert!(c.needs_fencing("bravo"), "bravo is still unclean");
    assert!(!c.may_fence("bravo"), "but a leaving node does not fence it");
    // Nor a peer that dies while this node leaves.
    let mut c = settled_alpha(AutoFailback::On, AUTO);
    c.begin_shutdown();
    assert!(fences(&c.on_node_dead("bravo")).is_empty());
}

#[test]
fn the_measured_fence_time_is_announced() {
    let mut c = settled_alpha(AutoFailback::On, AUTO);
    assert_eq!(c.announcement().fence_time, Duration::ZERO);
    assert_eq!(c.set_fence_time(ms(320)), [Action::Announce]);
    assert!(c.set_fence_time(ms(320)).is_empty(), "unchanged: nothing to announce");
    assert_eq!(c.announcement().fence_time, ms(320));
}
