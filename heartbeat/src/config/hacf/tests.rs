use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::*;

const P: &str = "/etc/ha.d/ha.cf";

/// A minimal valid file for node alpha; tests append to it.
const BASE: &str = "node alpha bravo\nbcast eth0\nauto_failback on\n";

fn parse(text: &str) -> Result<(HaConfig, Vec<Warning>), ConfigError> {
    HaConfig::parse(Path::new(P), text, "alpha")
}

fn ok(text: &str) -> (HaConfig, Vec<String>) {
    let (c, w) = parse(text).unwrap_or_else(|e| panic!("unexpected error: {e}"));
    (c, w.iter().map(ToString::to_string).collect())
}

fn err(text: &str) -> String {
    parse(text).map(|_| ()).unwrap_err().to_string()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_spec_example_parses() {
    let text = "\
logfacility local0
logfile     /var/log/ha-log
keepalive   1
warntime    5
deadtime    10
initdead    60
udpport     694
ucast eth1 10.0.0.1        # both nodes listed; own address ignored
ucast eth1 10.0.0.2
bcast eth0
auto_failback on
node alpha bravo
ping 192.168.1.254
respawn hacluster /usr/lib/heartbeat/ipfail
apiauth ipfail gid=haclient uid=hacluster
stonith_host * fence_ipmilan ipaddr=10.0.9.2 login=admin passwd=secret lanplus=1
watchdog /dev/watchdog
crm off
";
    let (c, w) = ok(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        c.timing,
        Timing {
            keepalive: ms(1000),
            deadtime: ms(10_000),
            warntime: ms(5000),
            initdead: ms(60_000),
            deadping: ms(10_000)
        }
    );
    assert_eq!(
        c.media,
        vec![
            Medium::Ucast { iface: "eth1".into(), peer: Ipv4Addr::new(10, 0, 0, 1), port: 694 },
            Medium::Ucast { iface: "eth1".into(), peer: Ipv4Addr::new(10, 0, 0, 2), port: 694 },
            Medium::Bcast { iface: "eth0".into(), port: 694 },
        ]
    );
    assert_eq!(c.nodes, ["alpha", "bravo"]);
    assert_eq!(c.peers().collect::<Vec<_>>(), ["bravo"]);
    assert_eq!(c.ping_nodes, [Ipv4Addr::new(192, 168, 1, 254)]);
    assert_eq!(c.auto_failback, AutoFailback::On);
    assert_eq!(c.logging.facility, Some(Facility::Local(0)));
    assert_eq!(c.logging.logfile.as_deref(), Some(Path::new("/var/log/ha-log")));
    assert_eq!(
        c.respawn,
        [Respawn { user: "hacluster".into(), path: "/usr/lib/heartbeat/ipfail".into(), args: vec![] }]
    );
    assert_eq!(
        c.apiauth,
        [ApiAuth { client: "ipfail".into(), uids: vec!["hacluster".into()], gids: vec!["haclient".into()] }]
    );
    assert_eq!(c.watchdog.as_deref(), Some(Path::new("/dev/watchdog")));
    assert_eq!(c.stonith.hosts.len(), 1);
    assert_eq!(c.stonith.action, FenceAction::Reboot);
    assert_eq!(c.stonith.timeout, Duration::from_secs(60));
    assert_eq!(c.stonith.delay, StonithDelay::Auto);
    assert!(!c.stonith.power_on);
    assert_eq!(c.local_node, "alpha");
    assert_eq!(c.path, Path::new(P));
}

#[test]
fn comments_blank_lines_and_tabs() {
    let (c, _) = ok("# whole line\n\n   \t\nnode\talpha   bravo # trailing\nbcast eth0#glued\nauto_failback on\nwarntime 10 # ten seconds\n");
    assert_eq!(c.nodes, ["alpha", "bravo"]);
    assert_eq!(c.media, [Medium::Bcast { iface: "eth0".into(), port: 694 }]);
    assert_eq!(c.timing.warntime, ms(10_000));
}

#[test]
fn unknown_and_wrong_case_directives_are_illegal() {
    assert_eq!(err(&format!("{BASE}frobnicate 1\n")), "/etc/ha.d/ha.cf:4: illegal directive [frobnicate]");
    assert_eq!(
        err(&format!("{BASE}KEEPALIVE 2\n")),
        "/etc/ha.d/ha.cf:4: illegal directive [KEEPALIVE] (directive names are case-sensitive: did you mean keepalive?)"
    );
    assert_eq!(
        err("LogFile /x\n"),
        "/etc/ha.d/ha.cf:1: illegal directive [LogFile] (directive names are case-sensitive: did you mean logfile?)"
    );
    assert!(err("RealTime on\n").contains("did you mean realtime?"));
}

#[test]
fn time_values_in_all_forms() {
    let (c, _) =
        ok(&format!("{BASE}keepalive 250 ms\ndeadtime 1.5\nwarntime 1200ms\ninitdead 12\ndeadping 900000us\n"));
    assert_eq!(
        c.timing,
        Timing { keepalive: ms(250), deadtime: ms(1500), warntime: ms(1200), initdead: ms(12_000), deadping: ms(900) }
    );
}

#[test]
fn invalid_time_values_name_the_directive() {
    assert_eq!(
        err(&format!("{BASE}warntime 5s\n")),
        "/etc/ha.d/ha.cf:4: Warn time [5s] is invalid. (a number of seconds, or with ms or us: 2, 1.5, 1500ms)"
    );
    assert!(err(&format!("{BASE}deadtime ten\n")).starts_with("/etc/ha.d/ha.cf:4: Dead time [ten] is invalid."));
    assert!(err(&format!("{BASE}keepalive -1\n")).starts_with("/etc/ha.d/ha.cf:4: Keepalive time [-1] is invalid."));
    assert!(err(&format!("{BASE}initdead 1 2\n")).starts_with("/etc/ha.d/ha.cf:4: Initial dead time [1 2] is invalid."));
    assert!(err(&format!("{BASE}deadping x\n")).starts_with("/etc/ha.d/ha.cf:4: Ping dead time [x] is invalid."));
    assert_eq!(err(&format!("{BASE}deadtime\n")), "/etc/ha.d/ha.cf:4: directive [deadtime] needs a value");
}

#[test]
fn timing_cross_checks_are_order_independent() {
    // deadtime written before keepalive: still checked against it.
    assert_eq!(
        err(&format!("deadtime 6\n{BASE}keepalive 4\n")),
        "/etc/ha.d/ha.cf:1: Dead time [6000] is too small compared to keeplive [4000] (deadtime must exceed 2 x keepalive)"
    );
    // initdead written before deadtime.
    assert_eq!(
        err(&format!("initdead 5\n{BASE}deadtime 10\n")),
        "/etc/ha.d/ha.cf:1: Initial dead time [5000] is smaller than deadtime [10000]"
    );
}

#[test]
fn repeated_single_valued_directive_warns_and_last_wins() {
    let (c, w) = ok(&format!("{BASE}deadtime 10\ndeadtime 20\n"));
    assert_eq!(c.timing.deadtime, ms(20_000));
    assert_eq!(w, ["/etc/ha.d/ha.cf:5: deadtime given again; this value replaces the one on line 4"]);
}

#[test]
fn udp_is_an_alias_of_bcast() {
    let (c, w) = ok("node alpha\nudp eth0 eth1\nauto_failback off\n");
    assert_eq!(
        c.media,
        [Medium::Bcast { iface: "eth0".into(), port: 694 }, Medium::Bcast { iface: "eth1".into(), port: 694 }]
    );
    assert_eq!(w, ["/etc/ha.d/ha.cf:2: directive 'udp' replaced by 'bcast'"]);
    assert_eq!(err("udp\n"), "/etc/ha.d/ha.cf:1: udp needs at least one interface: udp IF [IF...]");
}

#[test]
fn udpport_applies_to_every_bcast_and_ucast_wherever_it_is() {
    let text = "node alpha bravo\nauto_failback on\nucast eth1 10.0.0.2\nmcast eth2 239.192.0.1 700 1 0\nudpport 7000\nbcast eth0\n";
    let (c, w) = ok(text);
    assert_eq!(c.udp_port, 7000);
    assert_eq!(
        c.media,
        [
            Medium::Ucast { iface: "eth1".into(), peer: Ipv4Addr::new(10, 0, 0, 2), port: 7000 },
            Medium::Mcast {
                iface: "eth2".into(),
                group: Ipv4Addr::new(239, 192, 0, 1),
                port: 700,
                ttl: 1,
                loopback: false
            },
            Medium::Bcast { iface: "eth0".into(), port: 7000 },
        ]
    );
    assert_eq!(
        w,
        ["/etc/ha.d/ha.cf:5: udpport 7000 applies to all bcast/ucast media here, but Heartbeat 3.0.6 used it only \
          for media listed after it (line 3 would use port 694 there)"]
    );
}

#[test]
fn udpport_before_the_media_or_after_only_mcast_does_not_warn() {
    let (c, w) = ok("udpport 700\nnode alpha\nbcast eth0\nauto_failback on\n");
    assert_eq!(c.media, [Medium::Bcast { iface: "eth0".into(), port: 700 }]);
    assert!(w.is_empty(), "{w:?}");
    let (_, w) = ok("node alpha\nmcast eth0 239.192.0.1 694 1 0\nudpport 700\nauto_failback on\n");
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn udpport_errors() {
    assert_eq!(err(&format!("{BASE}udpport 0\n")), "/etc/ha.d/ha.cf:4: udpport [0] is invalid (1-65535)");
    assert_eq!(err(&format!("{BASE}udpport 99999\n")), "/etc/ha.d/ha.cf:4: udpport [99999] is invalid (1-65535)");
    assert_eq!(err(&format!("{BASE}udpport\n")), "/etc/ha.d/ha.cf:4: directive [udpport] needs a value");
    assert_eq!(err(&format!("{BASE}udpport 1 2\n")), "/etc/ha.d/ha.cf:4: directive [udpport] takes exactly one value");
    assert_eq!(
        err(&format!("udpport 700\n{BASE}udpport 701\n")),
        "/etc/ha.d/ha.cf:5: udpport multiply specified (first on line 1); one port applies to all bcast/ucast media"
    );
}

#[test]
fn media_errors_carry_the_line() {
    assert_eq!(err("node alpha\nucast eth0\n"), "/etc/ha.d/ha.cf:2: ucast needs 2 values: ucast IF PEER-IP");
    assert_eq!(
        err("node alpha\nmcast eth0 10.1.1.1 694 1 0\n"),
        "/etc/ha.d/ha.cf:2: mcast group [10.1.1.1] is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"
    );
    let (_, w) = ok("node alpha\nmcast eth0 239.192.0.1 694 1 1\nauto_failback on\n");
    assert_eq!(w, ["/etc/ha.d/ha.cf:2: mcast loop 1 makes this node receive its own packets; use 0"]);
}

#[test]
fn unsupported_media_are_refused_clearly() {
    assert_eq!(
        err("serial /dev/ttyS0\n"),
        "/etc/ha.d/ha.cf:1: medium [serial] is not supported here; use bcast, mcast or ucast"
    );
    assert!(err("mcast6 eth0 ff12::1 694 1 0\n").contains("medium [mcast6] is not supported"));
    assert!(err("ucast6 eth0 fe80::1\n").contains("medium [ucast6] is not supported"));
    assert_eq!(
        err("hbaping fc0\n"),
        "/etc/ha.d/ha.cf:1: hbaping was never supported by Heartbeat and is not supported here"
    );
}

#[test]
fn required_content() {
    assert_eq!(err("node alpha\nauto_failback on\n"), "/etc/ha.d/ha.cf: No heartbeat media defined");
    assert_eq!(err("node bravo\nbcast eth0\n"), "/etc/ha.d/ha.cf: Current node [alpha] not in configuration!");
    assert_eq!(
        err("bcast eth0\n"),
        "/etc/ha.d/ha.cf: Current node [alpha] not in configuration! (no node lines: list every cluster node)"
    );
    assert_eq!(err(""), "/etc/ha.d/ha.cf: No heartbeat media defined");
    assert_eq!(err("node\n"), "/etc/ha.d/ha.cf:1: node needs at least one name: node NAME [NAME...]");
}

#[test]
fn node_lines_repeat_and_duplicates_warn() {
    let (c, w) = ok("node alpha\nnode bravo charlie\nnode bravo\nbcast eth0\nauto_failback on\n");
    assert_eq!(c.nodes, ["alpha", "bravo", "charlie"]);
    assert_eq!(w, ["/etc/ha.d/ha.cf:3: node [bravo] is listed twice"]);
}

#[test]
fn ping_nodes_and_groups() {
    let (c, _) = ok(&format!("{BASE}ping 10.0.0.254 10.0.1.254\nping_group uplinks 10.0.0.1 10.0.2.1\n"));
    assert_eq!(c.ping_nodes, [Ipv4Addr::new(10, 0, 0, 254), Ipv4Addr::new(10, 0, 1, 254)]);
    assert_eq!(
        c.ping_groups,
        [PingGroup { name: "uplinks".into(), members: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 2, 1)] }]
    );
    assert_eq!(err(&format!("{BASE}ping\n")), "/etc/ha.d/ha.cf:4: ping needs at least one address: ping IP [IP...]");
    assert_eq!(err(&format!("{BASE}ping gw\n")), "/etc/ha.d/ha.cf:4: ping address [gw] is not an IP address");
    assert_eq!(
        err(&format!("{BASE}ping_group g\n")),
        "/etc/ha.d/ha.cf:4: ping_group needs a name and addresses: ping_group NAME IP [IP...]"
    );
    assert_eq!(
        err(&format!("{BASE}ping_group g 1.2.3\n")),
        "/etc/ha.d/ha.cf:4: ping_group address [1.2.3] is not an IP address"
    );
    assert_eq!(
        err(&format!("ping_group bravo 10.0.0.1\n{BASE}")),
        "/etc/ha.d/ha.cf:1: ping_group [bravo] has the name of a node"
    );
    assert_eq!(
        err(&format!("{BASE}ping_group g 10.0.0.1\nping_group g 10.0.0.2\n")),
        "/etc/ha.d/ha.cf:5: ping_group [g] defined twice"
    );
}

#[test]
fn ipv6_ping_nodes_are_refused_when_read() {
    assert_eq!(
        err(&format!("{BASE}ping 10.0.0.254 2001:db8::1\n")),
        "/etc/ha.d/ha.cf:4: ping address [2001:db8::1]: IPv6 ping nodes are not supported (the pinger is IPv4-only)"
    );
    assert_eq!(
        err(&format!("{BASE}ping_group uplinks 10.0.0.1 fe80::1\n")),
        "/etc/ha.d/ha.cf:4: ping_group address [fe80::1]: IPv6 ping nodes are not supported (the pinger is IPv4-only)"
    );
}

#[test]
fn auto_failback_values_and_default() {
    let with = |v: &str| ok(&format!("node alpha\nbcast eth0\nauto_failback {v}\n"));
    assert_eq!(with("on").0.auto_failback, AutoFailback::On);
    assert_eq!(with("yes").0.auto_failback, AutoFailback::On);
    assert_eq!(with("off").0.auto_failback, AutoFailback::Off);
    assert_eq!(with("0").0.auto_failback, AutoFailback::Off);
    let (c, w) = with("legacy");
    assert_eq!(c.auto_failback, AutoFailback::Legacy);
    assert_eq!(
        w,
        ["/etc/ha.d/ha.cf:3: Deprecated 'legacy' auto_failback option selected. Please convert to 'auto_failback on'. \
          See documentation for conversion details."]
    );
    assert_eq!(
        err("node alpha\nbcast eth0\nauto_failback maybe\n"),
        "/etc/ha.d/ha.cf:3: auto_failback [maybe] is invalid (on, off or legacy)"
    );
    let (c, w) = ok("node alpha\nbcast eth0\n");
    assert_eq!(c.auto_failback, AutoFailback::Off);
    assert_eq!(
        w,
        ["/etc/ha.d/ha.cf: auto_failback not set: using 'off' (Heartbeat 3.0.6 defaulted to 'legacy'); \
          set 'auto_failback on' or 'auto_failback off' explicitly"]
    );
}

#[test]
fn nice_failback_is_mapped_as_documented() {
    let (c, w) = ok("node alpha\nbcast eth0\nnice_failback on\n");
    assert_eq!(c.auto_failback, AutoFailback::Off);
    assert_eq!(
        w,
        ["/etc/ha.d/ha.cf:3: nice_failback flag is obsolete; 'nice_failback on' is read as 'auto_failback off'. \
          Use auto_failback {on, off, legacy} instead."]
    );
    let (c, _) = ok("node alpha\nbcast eth0\nnice_failback off\n");
    assert_eq!(c.auto_failback, AutoFailback::Legacy);
    let (c, w) = ok("nice_failback on\nnode alpha\nbcast eth0\nauto_failback on\n");
    assert_eq!(c.auto_failback, AutoFailback::On);
    assert_eq!(w[1], "/etc/ha.d/ha.cf:1: nice_failback ignored: auto_failback is set on line 4");
    assert_eq!(err("nice_failback perhaps\n"), "/etc/ha.d/ha.cf:1: nice_failback [perhaps] is invalid (a boolean)");
}

#[test]
fn crm_and_pacemaker_must_be_off() {
    let (_, w) = ok(&format!("{BASE}crm off\npacemaker no\n"));
    assert!(w.is_empty());
    assert_eq!(
        err(&format!("{BASE}crm on\n")),
        "/etc/ha.d/ha.cf:4: crm [on] is not supported: this heartbeat manages resources from haresources only \
         (set 'crm off' or remove the line)"
    );
    assert!(err(&format!("{BASE}crm respawn\n")).starts_with("/etc/ha.d/ha.cf:4: crm [respawn] is not supported"));
    assert!(err(&format!("{BASE}pacemaker minimal\n"))
        .starts_with("/etc/ha.d/ha.cf:4: pacemaker [minimal] is not supported"));
}

#[test]
fn autojoin_only_none() {
    ok(&format!("{BASE}autojoin none\n"));
    assert_eq!(
        err(&format!("{BASE}autojoin any\n")),
        "/etc/ha.d/ha.cf:4: R1 style resource management conflicts with autojoin set (autojoin any); \
         list every node on node lines and use 'autojoin none'"
    );
    assert!(err(&format!("{BASE}autojoin other\n")).contains("conflicts with autojoin set (autojoin other)"));
    assert_eq!(
        err(&format!("{BASE}autojoin all\n")),
        "/etc/ha.d/ha.cf:4: autojoin [all] is invalid (none, other or any)"
    );
}

#[test]
fn logging_directives() {
    let (c, _) =
        ok(&format!("{BASE}logfile /var/log/ha-log\ndebugfile /var/log/ha-debug\nlogfacility none\ndebug 3\n"));
    assert_eq!(
        c.logging,
        Logging {
            logfile: Some("/var/log/ha-log".into()),
            debugfile: Some("/var/log/ha-debug".into()),
            facility: None,
            debug: 3
        }
    );
    for (name, facility) in
        [("daemon", Facility::Daemon), ("authpriv", Facility::AuthPriv), ("local7", Facility::Local(7))]
    {
        assert_eq!(ok(&format!("{BASE}logfacility {name}\n")).0.logging.facility, Some(facility));
    }
    assert_eq!(
        err(&format!("{BASE}logfacility local9\n")),
        "/etc/ha.d/ha.cf:4: logfacility [local9] is not a syslog facility (e.g. daemon, local0, none)"
    );
    assert_eq!(err(&format!("{BASE}debug 256\n")), "/etc/ha.d/ha.cf:4: debug level [256] is invalid (0-255)");
    assert_eq!(err(&format!("{BASE}logfile\n")), "/etc/ha.d/ha.cf:4: directive [logfile] needs a value");
    assert_eq!(err(&format!("{BASE}logfile a b\n")), "/etc/ha.d/ha.cf:4: directive [logfile] takes exactly one value");
}

#[test]
fn respawn_needs_an_absolute_path() {
    let (c, _) = ok(&format!("{BASE}respawn hacluster /usr/lib/heartbeat/ipfail -v -x\n"));
    assert_eq!(c.respawn[0].args, ["-v", "-x"]);
    assert_eq!(
        err(&format!("{BASE}respawn hacluster ipfail\n")),
        "/etc/ha.d/ha.cf:4: respawn program [ipfail] must be an absolute path"
    );
    assert_eq!(
        err(&format!("{BASE}respawn hacluster\n")),
        "/etc/ha.d/ha.cf:4: respawn needs a user and a program: respawn USER /PATH [ARGS...]"
    );
}

#[test]
fn apiauth_lists() {
    let (c, _) = ok(&format!("{BASE}apiauth default gid=haclient,root\napiauth ping uid=a\n"));
    assert_eq!(c.apiauth[0].gids, ["haclient", "root"]);
    assert!(c.apiauth[0].uids.is_empty());
    assert_eq!(c.apiauth[1].uids, ["a"]);
    let usage = "apiauth needs a client and uid= or gid= lists: apiauth CLIENT [uid=a,b] [gid=c,d]";
    assert_eq!(err(&format!("{BASE}apiauth ipfail\n")), format!("/etc/ha.d/ha.cf:4: {usage}"));
    assert_eq!(err(&format!("{BASE}apiauth\n")), format!("/etc/ha.d/ha.cf:4: {usage}"));
    assert_eq!(
        err(&format!("{BASE}apiauth ipfail user=x\n")),
        "/etc/ha.d/ha.cf:4: apiauth [user=x] is not uid=LIST or gid=LIST"
    );
    assert_eq!(
        err(&format!("{BASE}apiauth ipfail uid=a,,b\n")),
        "/etc/ha.d/ha.cf:4: apiauth [uid=a,,b] has an empty name"
    );
    assert_eq!(
        err(&format!("{BASE}apiauth x uid=a\napiauth x gid=b\n")),
        "/etc/ha.d/ha.cf:5: apiauth for client [x] given twice (first on line 4)"
    );
}

#[test]
fn watchdog_once_only() {
    let (c, _) = ok(&format!("{BASE}watchdog /dev/watchdog\n"));
    assert_eq!(c.watchdog.as_deref(), Some(Path::new("/dev/watchdog")));
    assert_eq!(
        err(&format!("{BASE}watchdog /dev/watchdog\nwatchdog /dev/watchdog1\n")),
        "/etc/ha.d/ha.cf:5: Watchdog device multiply specified"
    );
}

#[test]
fn stonith_settings_and_defaults() {
    let (c, _) = ok(&format!("{BASE}stonith_action off\nstonith_timeout 20\nstonith_delay 1500ms\n"));
    assert_eq!(c.stonith.action, FenceAction::Off);
    assert_eq!(c.stonith.timeout, ms(20_000));
    assert_eq!(c.stonith.delay, StonithDelay::Fixed(ms(1500)));
    let (c, _) = ok(&format!("{BASE}stonith_delay 2\nstonith_delay auto\nstonith_power_on yes\n"));
    assert_eq!(c.stonith.delay, StonithDelay::Auto);
    assert!(c.stonith.power_on);
    assert_eq!(
        err(&format!("{BASE}stonith_power_on maybe\n")),
        "/etc/ha.d/ha.cf:4: stonith_power_on [maybe] is not a boolean (yes or no)"
    );
    // off + power on: the takeover waits for the power-off only, the peer comes back as standby.
    let (c, _) = ok(&format!("{BASE}stonith_action off\nstonith_power_on on\n"));
    assert!(c.stonith.power_on && c.stonith.action == FenceAction::Off);
    assert!(c.stonith.hosts.is_empty());
    assert_eq!(
        err(&format!("{BASE}stonith_action reset\n")),
        "/etc/ha.d/ha.cf:4: stonith_action [reset] is invalid (reboot or off)"
    );
    assert_eq!(
        err(&format!("{BASE}stonith_timeout 0\n")),
        "/etc/ha.d/ha.cf:4: STONITH timeout [0] must be greater than zero."
    );
    assert!(
        err(&format!("{BASE}stonith_delay soon\n")).starts_with("/etc/ha.d/ha.cf:4: STONITH delay [soon] is invalid.")
    );
    assert!(err(&format!("{BASE}stonith baytech /etc/ha.d/baytech.cfg\n"))
        .starts_with("/etc/ha.d/ha.cf:4: stonith TYPE CONFIGFILE (cluster-glue plugins) is not supported"));
}

#[test]
fn stonith_host_selection_prefers_the_nodes_own_line() {
    let text = format!("{BASE}stonith_host * fence_a\nstonith_host bravo /usr/local/sbin/fence_b\n");
    let (c, _) = ok(&text);
    assert_eq!(c.stonith_host_for("bravo").unwrap().agent, AgentRef::Path("/usr/local/sbin/fence_b".into()));
    assert_eq!(c.stonith_host_for("alpha").unwrap().agent, AgentRef::Name("fence_a".into()));
    let (c, _) = ok(&format!("{BASE}stonith_host bravo fence_b\n"));
    assert!(c.stonith_host_for("alpha").is_none());
}

#[test]
fn the_fencer_uses_the_nodes_line_with_stonith_action_and_timeout() {
    let text = format!("{BASE}stonith_host * fence_a\nstonith_host bravo fence_b\nstonith_timeout 300ms\n");
    let (c, _) = ok(&text);
    let fencer = c.fencer_for("bravo").unwrap();
    assert_eq!(fencer.agent(), &AgentRef::Name("fence_b".into()));
    assert_eq!(fencer.timeout(), Duration::from_millis(300));
    assert_eq!(c.fencer_for("alpha").unwrap().agent(), &AgentRef::Name("fence_a".into()));
    let (c, _) = ok(&format!("{BASE}stonith_host bravo fence_b\n"));
    assert!(c.fencer_for("alpha").is_none(), "no line applies: no STONITH device");
    assert!(ok(BASE).0.fencer_for("alpha").is_none());
}

#[test]
fn stonith_host_checks_against_nodes() {
    assert_eq!(
        err(&format!("stonith_host charlie fence_a\n{BASE}")),
        "/etc/ha.d/ha.cf:1: stonith_host node [charlie] is not listed on a node line (use * for any node)"
    );
    assert_eq!(
        err(&format!("{BASE}stonith_host * fence_a\nstonith_host * fence_b\n")),
        "/etc/ha.d/ha.cf:5: stonith_host for [*] given twice (first on line 4); configure one line per node"
    );
    assert!(err(&format!("{BASE}stonith_host alpha fence_a\nstonith_host alpha fence_b\n"))
        .starts_with("/etc/ha.d/ha.cf:5: stonith_host for [alpha] given twice"));
    let (_, w) = ok(&format!("{BASE}stonith_host * fence_a host_map=alpha:vm1;charlie:vm3\n"));
    assert_eq!(w, ["/etc/ha.d/ha.cf:4: host_map names [charlie], which is not listed on a node line"]);
    assert!(err(&format!("{BASE}stonith_host * fence_a 10.0.0.1\n"))
        .starts_with("/etc/ha.d/ha.cf:4: stonith_host parameter [10.0.0.1]"));
}

#[test]
fn directives_without_effect_warn_once_each() {
    let (_, w) = ok(&format!("{BASE}memreserve 6500\ncoredumps true\nmemreserve 7000\nbaud 19200\n"));
    assert_eq!(
        w,
        [
            "/etc/ha.d/ha.cf:4: directive [memreserve] is accepted for compatibility but has no effect here",
            "/etc/ha.d/ha.cf:5: directive [coredumps] is accepted for compatibility but has no effect here",
            "/etc/ha.d/ha.cf:7: directive [baud] is accepted for compatibility but has no effect here",
        ]
    );
}

#[test]
fn realtime_and_rtprio() {
    let (c, w) = ok(BASE);
    assert!(c.realtime && c.rtprio == DEFAULT_RTPRIO && w.is_empty());
    let (c, _) = ok(&format!("{BASE}realtime off\nrtprio 20\n"));
    assert!(!c.realtime);
    assert_eq!(c.rtprio, 20);
    assert_eq!(
        err(&format!("{BASE}rtprio 0\n")),
        "/etc/ha.d/ha.cf:4: rtprio [0] is not a SCHED_FIFO priority (1 to 99)"
    );
    assert_eq!(
        err(&format!("{BASE}realtime maybe\n")),
        "/etc/ha.d/ha.cf:4: realtime [maybe] is not a boolean (yes or no)"
    );
}

#[test]
fn env_lines() {
    let (c, _) = ok(&format!("{BASE}env HA_X=a b\nenv _Y=\n"));
    assert_eq!(c.env, [("HA_X".to_string(), "a b".to_string()), ("_Y".to_string(), String::new())]);
    assert_eq!(err(&format!("{BASE}env novalue\n")), "/etc/ha.d/ha.cf:4: env [novalue] is not NAME=value");
    assert_eq!(err(&format!("{BASE}env 1X=a\n")), "/etc/ha.d/ha.cf:4: env [1X=a] is not NAME=value");
}

#[test]
fn load_reads_the_file_and_warns_about_readable_passwords() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ha.cf");
    std::fs::write(&path, format!("{BASE}stonith_host * fence_ipmilan passwd=x\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, w) = HaConfig::load(&path, "alpha").unwrap();
    assert_eq!(
        w.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "{0}:4: stonith_host holds a password but {0} is readable by group/other (mode 644); chmod 600",
            path.display()
        )]
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (c, w) = HaConfig::load(&path, "alpha").unwrap();
    assert!(w.is_empty());
    assert_eq!(c.path, path);
    let missing = HaConfig::load(&dir.path().join("nope"), "alpha").unwrap_err();
    assert!(missing.to_string().contains("cannot read file"), "{missing}");
}

use crate::testutil::XorShift;

const SAMPLE: &str = "keepalive 1\ndeadtime 10 # x\nwarntime 5\ninitdead 60\nudpport 694\nucast eth1 10.0.0.2\n\
bcast eth0\nmcast eth0 239.192.0.1 694 1 0\nauto_failback on\nnode alpha bravo\nping 10.0.0.254\n\
ping_group g 10.0.0.1\nrespawn hacluster /usr/lib/heartbeat/ipfail\napiauth ipfail uid=hacluster\n\
stonith_host * fence_x a=b host_map=alpha:1;bravo:2\nstonith_timeout 20\nwatchdog /dev/watchdog\nenv A=b\n";

#[test]
fn brute_truncated_and_mutated_input_never_panics_and_errors_are_one_line() {
    let check = |text: &str| match parse(text) {
        Ok((_, warnings)) => warnings.iter().for_each(|w| assert!(!w.to_string().contains('\n'), "{w}")),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    };
    assert!(parse(SAMPLE).is_ok(), "{:?}", parse(SAMPLE).err());
    for cut in 0..=SAMPLE.len() {
        check(&SAMPLE[..cut]);
        check(&SAMPLE[cut..]);
    }
    let pieces = [
        "keepalive",
        "deadtime",
        "initdead",
        "warntime",
        "deadping",
        "udpport",
        "bcast",
        "ucast",
        "mcast",
        "node",
        "ping",
        "ping_group",
        "auto_failback",
        "nice_failback",
        "stonith_host",
        "stonith_timeout",
        "watchdog",
        "apiauth",
        "respawn",
        "env",
        "crm",
        "autojoin",
        "debug",
        "logfacility",
        "udp",
        "*",
        "alpha",
        "bravo",
        "eth0",
        "10.0.0.2",
        "239.192.0.1",
        "1",
        "0",
        "255",
        "65535",
        "99999999999999999999",
        "1.5",
        ".",
        "ms",
        "us",
        "=",
        "a=b",
        "host_map=:;",
        "uid=,",
        "#",
        " ",
        "\t",
        "\n",
        "\\",
        "é",
        "∞",
        "\u{0}",
        "/abs",
        "-1",
        "legacy",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            text.push_str(pieces[rng.below(pieces.len())]);
            if rng.below(3) == 0 {
                text.push(' ');
            }
        }
        check(&text);
        // Random bytes, lossily made text, also never panic.
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}
