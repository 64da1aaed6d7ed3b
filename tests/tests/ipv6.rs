//! IPv6 multicast (ff05::3:1) in both directions: our client with the stock
//! daemon, the stock client with our daemon.

use std::time::Duration;

use tests::*;

fn ipv6_config(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = write_key(dir, "k", b"ipv6-test-key-0123456789");
    let text = daemon_config("multicast", &key, "sha256", "\t\tfamily = \"ipv6\";\n\t\taddress = \"ff05::3:1\";\n", "");
    let conf = dir.join("fence_virt.conf");
    std::fs::write(&conf, text).unwrap();
    (conf, key)
}

#[test]
fn ipv6_multicast_both_ways() {
    if skip_unless_capable(&[STOCK_DAEMON, STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (conf, key) = ipv6_config(dir.path());
    let key = key.to_str().unwrap().to_string();
    for (daemon, client) in [
        (STOCK_DAEMON.to_string(), our_bin("fence_xvm").display().to_string()),
        (our_bin("fence_virtd").display().to_string(), STOCK_XVM.to_string()),
    ] {
        let ns = Netns::new();
        ns.with_ipv6("2001:2::1");
        let mut cmd = ns.command(&daemon);
        cmd.arg("-F").arg("-f").arg(&conf).arg("-p").arg(dir.path().join("pid"));
        let mut d = Guard::spawn(cmd, &dir.path().join("log"));
        let ready = wait_for(Duration::from_secs(10), || ns.enter(|| std::net::UdpSocket::bind("[::]:1229").is_err()));
        assert!(ready && d.alive(), "{daemon}: {}", d.log());
        let run = |args: &[&str]| {
            let mut full = vec!["-k", key.as_str(), "-a", "ff05::3:1", "-t", "5"];
            full.extend_from_slice(args);
            ns.run(&client, &full, None)
        };
        let list = run(&["-o", "list"]);
        assert_eq!(
            String::from_utf8_lossy(&list.stdout),
            format!("test                             {TEST_UUID} on\n"),
            "{client} -> {daemon}: {list:?}"
        );
        assert_eq!(run(&["-o", "off", "-H", "test"]).status.code(), Some(0));
        assert_eq!(run(&["-o", "status", "-H", "test"]).status.code(), Some(2));
        assert_eq!(run(&["-o", "on", "-H", "test", "-c", "sha512"]).status.code(), Some(0));
        assert!(d.alive());
    }
}
