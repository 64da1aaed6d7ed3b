//! Tests of the typed configuration against whole files.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use keys::HashAlgorithm;

use super::*;

const PATH: &str = "/etc/fence_virt.conf";

fn load(text: &str) -> Result<(DaemonConfig, Vec<Warning>), ConfigError> {
    DaemonConfig::from_str(text, Path::new(PATH))
}

fn ok(text: &str) -> DaemonConfig {
    match load(text) {
        Ok((config, _)) => config,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match load(text) {
        Ok((_, w)) => w.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// A minimal valid file followed by `extra`.
fn with(extra: &str) -> String {
    format!(
        "fence_virtd {{\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n}}\n\
         backends {{ libvirt {{ uri = \"test:///default\"; }} }}\n{extra}"
    )
}

fn multicast(config: &DaemonConfig) -> &MulticastConfig {
    match &config.listener {
        ListenerConfig::Multicast(m) => m,
        other => panic!("not multicast: {other:?}"),
    }
}

fn tcp(config: &DaemonConfig) -> &TcpConfig {
    match &config.listener {
        ListenerConfig::Tcp(t) => t,
        other => panic!("not tcp: {other:?}"),
    }
}

fn libvirt(config: &DaemonConfig) -> &LibvirtConfig {
    match &config.backend {
        BackendConfig::Libvirt(l) => l,
        other => panic!("not libvirt: {other:?}"),
    }
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

#[test]
fn debian_sample_parses() {
    let path = testdata("debian-fence_virt.conf");
    let (config, warnings) = DaemonConfig::load(&path).expect("Debian sample loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    let m = multicast(&config);
    assert_eq!(m.auth.key_file, Path::new("/etc/fence_virt.key"));
    assert_eq!(m.auth.hash, HashAlgorithm::Sha256);
    assert_eq!(m.auth.auth, HashAlgorithm::Sha256);
    assert_eq!(m.address, "225.0.0.12".parse::<IpAddr>().unwrap());
    assert_eq!(m.port, 1229);
    assert_eq!(m.interface.as_deref(), Some("virbr0"));
    assert_eq!(m.interface_line, Some(11));
    assert_eq!(libvirt(&config).uris, ["qemu:///system"]);
    assert_eq!(libvirt(&config).reboot_method, RebootMethod::Cycle);
    assert!(config.groups.is_empty());
    assert!(config.key_required());
    assert_eq!((config.debug, config.foreground, config.wait_for_init), (0, false, false));
}

#[test]
fn manpage_example_parses_unchanged() {
    let path = testdata("manpage-example.conf");
    let (config, warnings) = DaemonConfig::load(&path).expect("example loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    let t = tcp(&config);
    assert_eq!(t.address, "192.0.2.1".parse::<IpAddr>().unwrap());
    assert_eq!(t.port, 1229);
    assert_eq!(t.auth.key_file, Path::new("/etc/cluster/fence_xvm.key"));
    assert_eq!((t.auth.hash, t.auth.auth), (HashAlgorithm::Sha512, HashAlgorithm::Sha256));
    assert_eq!(libvirt(&config).uris, ["qemu:///system", "qemu+ssh://hv2.example.com/system"]);
    assert_eq!(config.debug, 1);
    assert_eq!(config.groups.len(), 2);
    let g = &config.groups[0];
    assert_eq!(g.name.as_deref(), Some("cluster1"));
    assert_eq!(g.ips, ["192.0.2.11", "192.0.2.12"]);
    assert_eq!(
        g.uuids,
        ["44179d3f-6c63-474f-a212-20c8b4b25b16", "1ce02c4b-dfa1-42cb-b5b1-f0b1091ece60", "node1", "node2"]
    );
    let g = &config.groups[1];
    assert_eq!((g.name.as_deref(), g.line), (Some("cluster2"), Some(38)));
    assert_eq!(g.ips, ["192.0.2.21"]);
    assert_eq!(g.uuids, ["node3", "node4"]);

    // Two dump/parse cycles give back the same tree and the same config.
    let once = ConfigTree::parse(config.tree.dump().as_bytes(), &path).unwrap();
    let twice = ConfigTree::parse(once.dump().as_bytes(), &path).unwrap();
    assert_eq!(twice.dump(), config.tree.dump());
    let (again, _) = DaemonConfig::from_tree(twice, &path).unwrap();
    let t2 = tcp(&again);
    assert_eq!((t2.address, t2.port, t2.auth.hash, t2.auth.auth), (t.address, t.port, t.auth.hash, t.auth.auth));
    assert_eq!(again.backend, config.backend);
    let lists = |c: &DaemonConfig| c.groups.iter().map(|g| (g.ips.clone(), g.uuids.clone())).collect::<Vec<_>>();
    assert_eq!(lists(&again), lists(&config));
}

#[test]
fn syntax_errors_carry_file_line_and_column() {
    let e = err("fence_virtd {\n\tlistener = \"multicast\"\n\tbackend = \"libvirt\";\n}\n");
    assert_eq!(e, "/etc/fence_virt.conf:3:2: expected ';' after value of 'listener'");
    assert!(err("fence_virtd {\r\n}\r\n").contains("CRLF"));
    assert_eq!(err(""), "/etc/fence_virt.conf: file is empty: it must contain at least one section or assignment");
    assert_eq!(err("# nothing\n"), err(""));
    assert_eq!(err("a = \"\";"), "/etc/fence_virt.conf:1:5: empty quoted string \"\" is not allowed");
}

#[test]
fn missing_file_is_reported_as_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.conf");
    let e = DaemonConfig::load(&path).unwrap_err();
    assert!(e.is_not_found());
    assert!(e.to_string().starts_with(&format!("{}: cannot read file: ", path.display())), "{e}");
}

#[test]
fn bad_hash_and_auth_name_file_line_and_key() {
    let e = err(&with("listeners {\n multicast {\n  hash = \"md5\";\n }\n}\n"));
    assert_eq!(
        e,
        "/etc/fence_virt.conf:8: listeners/multicast/hash = \"md5\": unknown hash type 'md5' (expected none, sha1, \
         sha256 or sha512)"
    );
    let e = err(&with("listeners { multicast { auth = \"MD5\"; } }"));
    assert!(e.starts_with("/etc/fence_virt.conf:6: listeners/multicast/auth = \"MD5\": unknown hash type"), "{e}");
    // Names are case-insensitive.
    let m = ok(&with("listeners { multicast { hash = \"SHA1\"; auth = \"Sha512\"; } }"));
    assert_eq!((multicast(&m).auth.hash, multicast(&m).auth.auth), (HashAlgorithm::Sha1, HashAlgorithm::Sha512));
}

#[test]
fn bad_ports() {
    for (port, problem) in [
        ("x", "not a port number (expected 1 to 65535)"),
        ("0", "port out of range (1 to 65535)"),
        ("70000", "port out of range (1 to 65535)"),
        ("-1", "port out of range (1 to 65535)"),
        ("1229 ", "not a port number (expected 1 to 65535)"),
    ] {
        let e = err(&with(&format!("listeners {{\n multicast {{\n  port = \"{port}\";\n }}\n}}\n")));
        assert_eq!(e, format!("/etc/fence_virt.conf:8: listeners/multicast/port = \"{port}\": {problem}"));
    }
    assert_eq!(multicast(&ok(&with("listeners { multicast { port = \"65535\"; } }"))).port, 65535);
}

#[test]
fn unknown_interface_fails_the_host_check_only() {
    let config = ok(&with("listeners {\n multicast {\n  interface = \"nosuchif0\";\n }\n}\n"));
    let e = config.check_host().unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Host);
    assert!(
        e.to_string().starts_with(
            "/etc/fence_virt.conf:8: listeners/multicast/interface = \"nosuchif0\": no such network interface"
        ),
        "{e}"
    );
    ok(&with("listeners { multicast { interface = \"lo\"; } }")).check_host().expect("lo exists");
    ok(&with("")).check_host().expect("no interface: all");
}

#[test]
fn missing_or_unknown_listener_and_backend() {
    assert_eq!(
        err("fence_virtd {\n backend = \"libvirt\";\n}\n"),
        "/etc/fence_virt.conf:1: fence_virtd/listener is not set (expected multicast, tcp, vsock or serial)"
    );
    assert_eq!(
        err("backends { }"),
        "/etc/fence_virt.conf: fence_virtd/listener is not set (expected multicast, tcp, vsock or serial)"
    );
    assert_eq!(
        err("fence_virtd {\n listener = \"tcp\";\n}\n"),
        "/etc/fence_virt.conf:1: fence_virtd/backend is not set (expected libvirt or cpg)"
    );
    assert_eq!(
        err("fence_virtd {\n listener = \"foo\";\n backend = \"libvirt\";\n}\n"),
        "/etc/fence_virt.conf:2: fence_virtd/listener = \"foo\": unknown listener (expected multicast, tcp, vsock or \
         serial)"
    );
    assert_eq!(
        err("fence_virtd {\n listener = \"tcp\";\n backend = \"xen\";\n}\n"),
        "/etc/fence_virt.conf:3: fence_virtd/backend = \"xen\": unknown backend (expected libvirt or cpg)"
    );
}

#[test]
fn libvirt_needs_a_uri() {
    let base = "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\n";
    assert_eq!(
        err(base),
        "/etc/fence_virt.conf: backends/libvirt/uri is not set: at least one libvirt URI is required"
    );
    assert_eq!(
        err(&format!("{base}backends {{\n libvirt {{\n }}\n}}\n")),
        "/etc/fence_virt.conf:3: backends/libvirt/uri is not set: at least one libvirt URI is required"
    );
    // uri1 alone does not count: the scan starts at uri.
    assert!(err(&format!("{base}backends {{ libvirt {{ uri1 = \"test:///default\"; }} }}")).contains("uri is not set"));
}

#[test]
fn uris_in_order_and_gaps_warned() {
    let text = "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\nbackends { libvirt {\n uri2 = \"c\";\n \
                uri = \"a\";\n uri1 = \"b\";\n uri4 = \"e\";\n} }\n";
    assert_eq!(libvirt(&ok(text)).uris, ["a", "b", "c"]);
    assert_eq!(
        warnings(text),
        ["/etc/fence_virt.conf:6: backends/libvirt/uri4 is ignored: URIs are read as uri, uri1, uri2, … up to the \
          first missing one (uri3)"]
    );
}

#[test]
fn reboot_method() {
    let text = |m: &str| with(&format!("backends {{ libvirt {{ reboot_method = \"{m}\"; }} }}"));
    // The last backends section counts, so it needs its own uri.
    let text = |m: &str| text(m).replace("reboot_method", "uri = \"test:///default\"; reboot_method");
    assert_eq!(libvirt(&ok(&text("reset"))).reboot_method, RebootMethod::Reset);
    assert_eq!(libvirt(&ok(&text("cycle"))).reboot_method, RebootMethod::Cycle);
    assert!(err(&text("kick")).contains("backends/libvirt/reboot_method = \"kick\": unknown reboot method"));
}

#[test]
fn libvirt_call_timeout() {
    let text = |t: &str| with(&format!("backends {{ libvirt {{ uri = \"test:///default\"; timeout = \"{t}\"; }} }}"));
    assert_eq!(libvirt(&ok(&text("2"))).call_timeout, std::time::Duration::from_secs(2));
    let default = with("backends { libvirt { uri = \"test:///default\"; } }");
    assert_eq!(libvirt(&ok(&default)).call_timeout, std::time::Duration::from_secs(30));
    for bad in ["0", "3601", "-1", "2s"] {
        assert!(err(&text(bad)).contains(&format!("backends/libvirt/timeout = \"{bad}\": not a timeout")), "{bad}");
    }
}

#[test]
fn last_value_and_last_section_win() {
    let m = ok(&with(
        "listeners {\n multicast { port = \"1\"; key_file = \"/k1\"; }\n multicast { port = \"2\"; port = \"3\"; }\n}",
    ));
    assert_eq!(multicast(&m).port, 3);
    // The earlier section is not consulted at all.
    assert_eq!(multicast(&m).auth.key_file, Path::new(keys::DEFAULT_KEY_FILE));
    let w = warnings(&with("listeners {\n multicast { port = \"1\"; }\n multicast { port = \"2\"; port = \"3\"; }\n}"));
    assert_eq!(
        w,
        [
            "/etc/fence_virt.conf:7: section 'listeners/multicast' appears again on line 8; only the last section is \
             used (sections are not merged)",
            "/etc/fence_virt.conf:8: 'listeners/multicast/port' appears again on line 8; only the last value is used",
        ]
    );
}

#[test]
fn names_are_case_insensitive() {
    let c =
        ok("FENCE_VIRTD { LISTENER = \"Multicast\"; Backend = \"LIBVIRT\"; }\nBACKENDS { LibVirt { URI = \"x\"; } }\n\
                Listeners { MULTICAST { PORT = \"99\"; } }");
    assert_eq!(multicast(&c).port, 99);
    assert_eq!(libvirt(&c).uris, ["x"]);
}

#[test]
fn groups_keep_order_and_empty_groups() {
    let text = with(
        "groups {\n group {\n  ip = \"10.0.0.2\";\n  uuid = \"b\";\n  ip = \"10.0.0.1\";\n  uuid = \"a\";\n }\n group \
         {\n  name = \"empty\";\n }\n}\n",
    );
    let c = ok(&text);
    assert_eq!(c.groups.len(), 2);
    assert_eq!(c.groups[0].ips, ["10.0.0.2", "10.0.0.1"]);
    assert_eq!(c.groups[0].uuids, ["b", "a"]);
    assert_eq!(c.groups[0].name, None);
    assert_eq!(c.groups[1].name.as_deref(), Some("empty"));
    assert!(c.groups[1].ips.is_empty() && c.groups[1].uuids.is_empty());
    assert_eq!(warnings(&text), ["/etc/fence_virt.conf:13: group has no 'ip' or no 'uuid' entries: it allows nothing"]);
}

#[test]
fn unknown_keys_and_sections_are_warnings() {
    let text = with(
        "top = \"x\";\nlisteners {\n multicast {\n  colour = \"blue\";\n }\n}\nfence_virtd2 { }\ngroups { group { ip = \
         \"1\"; uuid = \"u\"; mask = \"m\"; } }\n",
    );
    assert_eq!(
        warnings(&text),
        [
            "/etc/fence_virt.conf:6: assignment 'top' outside any section is ignored",
            "/etc/fence_virt.conf:12: unknown section 'fence_virtd2' is ignored",
            "/etc/fence_virt.conf:9: unknown key 'colour' in listeners/multicast is ignored",
            "/etc/fence_virt.conf:13: unknown key 'mask' in groups/group is ignored",
        ]
    );
}

#[test]
fn module_path_is_accepted_with_a_warning() {
    let text =
        "fence_virtd {\n listener = \"multicast\";\n backend = \"libvirt\";\n module_path = \"/usr/lib/x\";\n}\n\
                backends { libvirt { uri = \"test:///default\"; } }";
    assert_eq!(
        warnings(text),
        ["/etc/fence_virt.conf:4: fence_virtd/module_path is ignored: listeners and backends are built in"]
    );
}

#[test]
fn tcp_auth_sets_the_auth_type() {
    let c = ok("fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\nbackends { libvirt { uri = \"x\"; } }\n\
                listeners { tcp { auth = \"none\"; } }");
    let t = tcp(&c);
    assert_eq!((t.auth.hash, t.auth.auth), (HashAlgorithm::Sha256, HashAlgorithm::None));
    assert_eq!(t.address, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert!(c.key_required());
}

#[test]
fn key_required_unless_hash_and_auth_are_none() {
    let base = "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\nbackends { libvirt { uri = \"x\"; } }\n";
    let c = ok(&format!("{base}listeners {{ tcp {{ hash = \"none\"; auth = \"none\"; }} }}"));
    assert!(!c.key_required());
    let c = ok(&format!("{base}listeners {{ tcp {{ hash = \"none\"; }} }}"));
    assert!(c.key_required());
    let serial =
        ok("fence_virtd { listener = \"serial\"; backend = \"libvirt\"; }\nbackends { libvirt { uri = \"x\"; } }");
    assert!(serial.auth().is_none());
    assert!(!serial.key_required());
}

#[test]
fn families_and_addresses() {
    let m = ok(&with("listeners { multicast { family = \"ipv6\"; } }"));
    assert_eq!(multicast(&m).address, "ff05::3:1".parse::<IpAddr>().unwrap());
    let m = ok(&with("listeners { multicast { address = \"ff02::1:2\"; } }"));
    assert_eq!(multicast(&m).address, "ff02::1:2".parse::<IpAddr>().unwrap());
    assert!(err(&with("listeners { multicast { address = \"192.0.2.1\"; } }")).ends_with("not a multicast address"));
    assert!(err(&with("listeners { multicast { address = \"bogus\"; } }")).contains("not a numeric IP address"));
    assert!(
        err(&with("listeners { multicast { family = \"ipx\"; } }")).contains("unknown family (expected ipv4 or ipv6)")
    );
    assert!(err(&with("listeners { multicast { family = \"ipv4\"; address = \"ff05::3:1\"; } }"))
        .ends_with("listeners/multicast/address = \"ff05::3:1\": not an IPv4 address, but family is ipv4"));

    let base = "fence_virtd { listener = \"tcp\"; backend = \"libvirt\"; }\nbackends { libvirt { uri = \"x\"; } }\n";
    let t = ok(&format!("{base}listeners {{ tcp {{ family = \"ipv6\"; port = \"2000\"; }} }}"));
    assert_eq!((tcp(&t).address, tcp(&t).port), ("::1".parse::<IpAddr>().unwrap(), 2000));
    assert!(err(&format!("{base}listeners {{ tcp {{ address = \"localhost\"; }} }}"))
        .contains("host names are not resolved"));
}

#[test]
fn daemon_flags_and_strict_numbers() {
    let c = ok(&with(
        "fence_virtd { listener = \"multicast\"; backend = \"libvirt\"; debug = \"3\"; foreground = \"1\"; \
                      wait_for_backend = \"1\"; }",
    ));
    assert_eq!((c.debug, c.foreground, c.wait_for_init), (3, true, true));
    let c = ok(&with(
        "fence_virtd { listener = \"multicast\"; backend = \"libvirt\"; wait_for_init = \"0\"; \
                      wait_for_backend = \"1\"; }",
    ));
    assert!(!c.wait_for_init);
    assert!(err(&with("fence_virtd {\n listener = \"multicast\";\n backend = \"libvirt\";\n debug = \"x\";\n}"))
        .starts_with("/etc/fence_virt.conf:9: fence_virtd/debug = \"x\": "));
    assert!(err(&with("fence_virtd { listener = \"multicast\"; backend = \"libvirt\"; foreground = \"yes\"; }"))
        .contains("fence_virtd/foreground = \"yes\": not an integer"));
}

#[test]
fn vsock_and_serial() {
    let base = |l: &str, extra: &str| {
        format!(
            "fence_virtd {{ listener = \"{l}\"; backend = \"libvirt\"; }}\n\
             backends {{ libvirt {{ uri = \"x\"; }} }}\n{extra}"
        )
    };
    let v = ok(&base("vsock", "listeners { vsock { port = \"4000\"; hash = \"sha1\"; } }"));
    match &v.listener {
        ListenerConfig::Vsock(v) => assert_eq!((v.port, v.auth.hash), (4000, HashAlgorithm::Sha1)),
        other => panic!("{other:?}"),
    }
    assert!(err(&base("vsock", "listeners { vsock { port = \"0\"; } }")).contains("not a vsock port"));
    let s = ok(&base("serial", "listeners { serial { uri = \"qemu:///system\"; path = \"/run/f\"; mode = \"1\"; } }"));
    assert_eq!(
        s.listener,
        ListenerConfig::Serial(SerialConfig {
            uri: Some("qemu:///system".into()),
            path: Some("/run/f".into()),
            mode: SerialMode::VmChannel
        })
    );
    assert!(err(&base("serial", "listeners { serial { mode = \"pipe\"; } }")).contains("unknown mode"));
}

#[test]
fn cpg_backend() {
    let c = ok("fence_virtd { listener = \"tcp\"; backend = \"cpg\"; name_mode = \"uuid\"; }");
    assert_eq!(c.backend, BackendConfig::Cpg(CpgConfig { uris: vec![], name_mode: NameMode::Uuid }));
    let c = ok("fence_virtd { listener = \"tcp\"; backend = \"cpg\"; }\nbackends { cpg { uri = \"u\"; } }");
    assert_eq!(c.backend, BackendConfig::Cpg(CpgConfig { uris: vec!["u".into()], name_mode: NameMode::Name }));
}

#[test]
fn source_check_is_on_by_default_and_can_be_relaxed_for_nat() {
    assert!(multicast(&ok(&with(""))).require_source_match);
    let relaxed = with("listeners { multicast { check_source = \"no\"; } }\n");
    assert!(!multicast(&ok(&relaxed)).require_source_match);
    assert!(warnings(&relaxed).is_empty(), "check_source is a known key");
    let bad = err(&with("listeners { multicast { check_source = \"maybe\"; } }\n"));
    assert!(
        bad.contains("/etc/fence_virt.conf:") && bad.contains("maybe") && bad.contains("expected yes or no"),
        "{bad}"
    );
}
