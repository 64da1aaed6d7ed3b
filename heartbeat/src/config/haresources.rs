//! `haresources`: resource groups, one per logical line (spec §3.1, §3.2).
//!
//! ```text
//! alpha 10.0.0.5/24/eth0 Filesystem::/dev/sdb1::/data::ext4 httpd
//! bravo ocf:heartbeat:IPaddr2 ip=10.0.0.6 cidr_netmask=24 \
//!       postgresql
//! ```
//!
//! Normalisation as the v1 engine: `#` drops the rest of the line, a line
//! ending in `\` continues on the next, blanks separate tokens, empty lines
//! are skipped, the node name is compared case-insensitively with ha.cf's.
//!
//! Resource tokens: a bare IPv4 form (`10.0.0.5[/bits[/nic[:label]][/bcast]]`)
//! is an IP address resource; `name[::arg…]` is a script with arguments;
//! `ocf:PROVIDER:TYPE[::key=value…]` is an OCF agent, and `key=value`
//! tokens directly after it are more of its parameters (our extension).
//! The group key is the first resource token; keys are unique.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{numbered_lines, read_text, ConfigError, Warning};

/// The `ip[/bits[/nic[:label]][/broadcast]]` argument of the IPaddr forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSpec {
    /// The service address.
    pub ip: Ipv4Addr,
    /// Prefix length (a dotted netmask is converted).
    pub bits: Option<u8>,
    /// Interface; chosen from the routing table when absent.
    pub nic: Option<String>,
    /// Interface label (`eth0:web`).
    pub label: Option<String>,
    /// Broadcast address.
    pub broadcast: Option<Ipv4Addr>,
}

impl IpSpec {
    /// Parses `ip[/bits[/nic[:label]][/broadcast]]`; a third field starting
    /// with a digit is the broadcast address.
    pub fn parse(text: &str) -> Result<IpSpec, String> {
        let mut parts = text.split('/');
        let ip_text = parts.next().unwrap_or_default();
        let ip: Ipv4Addr = ip_text.parse().map_err(|_| format!("[{ip_text}] is not an IPv4 address"))?;
        let bits = match parts.next() {
            None | Some("") => None,
            Some(b) => Some(prefix_len(b).ok_or_else(|| format!("[{b}] is not a prefix length (1-32) or netmask"))?),
        };
        let mut spec = IpSpec { ip, bits, nic: None, label: None, broadcast: None };
        let broadcast = |b: &str| b.parse::<Ipv4Addr>().map_err(|_| format!("[{b}] is not an IPv4 broadcast address"));
        match parts.next() {
            None => {}
            Some(third) if third.starts_with(|c: char| c.is_ascii_digit()) => spec.broadcast = Some(broadcast(third)?),
            Some(third) => {
                let (nic, label) = match third.split_once(':') {
                    Some((nic, label)) => (nic, Some(label)),
                    None => (third, None),
                };
                if nic.is_empty() || label == Some("") {
                    return Err(format!("[{third}] is not an interface name (nic or nic:label)"));
                }
                spec.nic = Some(nic.to_string());
                spec.label = label.map(str::to_string);
                if let Some(fourth) = parts.next() {
                    spec.broadcast = Some(broadcast(fourth)?);
                }
            }
        }
        if parts.next().is_some() {
            return Err(format!("[{text}] has too many fields: ip[/bits[/nic[:label]][/broadcast]]"));
        }
        Ok(spec)
    }
}

/// `24` or `255.255.255.0` as a prefix length 1–32.
fn prefix_len(text: &str) -> Option<u8> {
    if let Ok(bits) = text.parse::<u8>() {
        return (1..=32).contains(&bits).then_some(bits);
    }
    let mask = u32::from(text.parse::<Ipv4Addr>().ok()?);
    let bits = mask.leading_ones();
    (bits >= 1 && mask.checked_shl(bits).unwrap_or(0) == 0).then_some(bits as u8)
}

/// What a resource token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    /// A bare address: the `IPaddr` script with the address as argument, or
    /// the OCF agent `heartbeat/IPaddr2` when there is no such script.
    IpAddr(IpSpec),
    /// A heartbeat-style or init script: `name::arg::arg`.
    Script { name: String, args: Vec<String> },
    /// An OCF agent with its parameters.
    Ocf { provider: String, agent: String, params: Vec<(String, String)> },
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// As written (an OCF resource's parameter tokens joined with blanks);
    /// the name used in log lines.
    pub token: String,
    /// What it is.
    pub kind: ResourceKind,
}

/// One logical line: a home node and its resources, started left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// The preferred node, spelled as in ha.cf.
    pub home: String,
    /// The first resource token, verbatim: the group's identity.
    pub key: String,
    /// Resources in start order.
    pub resources: Vec<Resource>,
    /// Line the group starts on.
    pub line: usize,
}

/// The parsed haresources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaResources {
    /// The file it was read from.
    pub path: PathBuf,
    /// Groups in file order.
    pub groups: Vec<ResourceGroup>,
}

impl HaResources {
    /// Reads and parses `path`; `nodes` are ha.cf's node names.
    pub fn load(path: &Path, nodes: &[String]) -> Result<(HaResources, Vec<Warning>), ConfigError> {
        HaResources::parse(path, &read_text(path)?, nodes)
    }

    /// Parses the text of haresources (`path` is used in messages).
    pub fn parse(path: &Path, text: &str, nodes: &[String]) -> Result<(HaResources, Vec<Warning>), ConfigError> {
        let mut warnings = Vec::new();
        let mut groups: Vec<ResourceGroup> = Vec::new();
        for logical in logical_lines(text, path, &mut warnings) {
            let group = parse_group(&logical, nodes).map_err(|(line, message)| ConfigError::at(path, line, message))?;
            if let Some(first) = groups.iter().find(|g| g.key == group.key) {
                return Err(ConfigError::at(
                    path,
                    logical[1].1,
                    format!("duplicate resource group key [{}] (first on line {})", group.key, first.line),
                ));
            }
            groups.push(group);
        }
        Ok((HaResources { path: path.to_path_buf(), groups }, warnings))
    }

    /// The group with key `key`.
    pub fn group(&self, key: &str) -> Option<&ResourceGroup> {
        self.groups.iter().find(|g| g.key == key)
    }
}

/// Tokens with the physical line each came from.
type Tokens<'a> = Vec<(&'a str, usize)>;

/// Applies comment removal and `\` continuation; yields non-empty logical
/// lines as tokens.
fn logical_lines<'a>(text: &'a str, path: &Path, warnings: &mut Vec<Warning>) -> Vec<Tokens<'a>> {
    let mut lines = Vec::new();
    let mut current: Tokens<'a> = Vec::new();
    let mut continued_from = None;
    for (no, raw) in numbered_lines(text) {
        let content = raw.split('#').next().unwrap_or("").trim_end();
        let (content, continues) = match content.strip_suffix('\\') {
            Some(rest) => (rest, true),
            None => (content, false),
        };
        current.extend(content.split_whitespace().map(|t| (t, no)));
        if continues {
            continued_from.get_or_insert(no);
        } else {
            continued_from = None;
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if let Some(line) = continued_from {
        warnings.push(Warning::at(path, line, "the file ends inside a continued (\\) line"));
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// One logical line into a group; `Err((line, message))`.
fn parse_group(tokens: &[(&str, usize)], nodes: &[String]) -> Result<ResourceGroup, (usize, String)> {
    let Some(&(node, line)) = tokens.first() else {
        return Err((0, "empty group line".into()));
    };
    let home = nodes
        .iter()
        .find(|n| n.eq_ignore_ascii_case(node))
        .ok_or_else(|| (line, format!("Bad nodename in haresources [{node}] (not listed on a node line in ha.cf)")))?
        .clone();
    if tokens.len() < 2 {
        return Err((line, format!("group for node [{node}] lists no resources")));
    }
    let mut resources: Vec<Resource> = Vec::new();
    for &(token, token_line) in &tokens[1..] {
        let err = |message: String| (token_line, message);
        if is_parameter(token) {
            let (key, value) = parameter(token).map_err(err)?;
            match resources.last_mut() {
                Some(Resource { token: text, kind: ResourceKind::Ocf { params, .. } }) => {
                    if params.iter().any(|(k, _)| k == key) {
                        return Err(err(format!("parameter [{key}] given twice")));
                    }
                    params.push((key.to_string(), value.to_string()));
                    text.push(' ');
                    text.push_str(token);
                }
                _ => return Err(err(format!("[{token}] is a parameter, but does not follow an ocf: resource"))),
            }
        } else {
            let kind = parse_resource(token).map_err(|m| err(format!("resource [{token}]: {m}")))?;
            resources.push(Resource { token: token.to_string(), kind });
        }
    }
    let key = tokens[1].0.to_string();
    Ok(ResourceGroup { home, key, resources, line })
}

/// Whether `token` looks like a bare IPv4 address: digits.digits.digits.digits…
fn is_ip_form(token: &str) -> bool {
    let mut rest = token;
    for i in 0..4 {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if i < 3 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    true
}

/// A `key=value` token on its own (not a script argument, not an address).
fn is_parameter(token: &str) -> bool {
    token.contains('=') && !token.contains("::") && !token.starts_with("ocf:") && !is_ip_form(token)
}

/// Splits and checks `key=value`; keys become `OCF_RESKEY_key`.
fn parameter(token: &str) -> Result<(&str, &str), String> {
    match token.split_once('=') {
        Some((key, value)) if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            Ok((key, value))
        }
        _ => Err(format!("parameter [{token}] is not key=value with a name of letters, digits and _")),
    }
}

/// A file name usable under a resource directory.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!("[{name}] is not a valid {what} name"));
    }
    Ok(())
}

/// One resource token (not a trailing `key=value`).
fn parse_resource(token: &str) -> Result<ResourceKind, String> {
    if is_ip_form(token) {
        return IpSpec::parse(token).map(ResourceKind::IpAddr);
    }
    let mut parts = token.split("::");
    let head = parts.next().unwrap_or_default();
    if let Some(spec) = head.strip_prefix("ocf:") {
        let (provider, agent) = spec
            .split_once(':')
            .filter(|(_, a)| !a.contains(':'))
            .ok_or_else(|| "OCF resources are written ocf:PROVIDER:TYPE".to_string())?;
        check_name("OCF provider", provider)?;
        check_name("OCF agent", agent)?;
        let mut params: Vec<(String, String)> = Vec::new();
        for p in parts {
            let (key, value) = parameter(p)?;
            if params.iter().any(|(k, _)| k == key) {
                return Err(format!("parameter [{key}] given twice"));
            }
            params.push((key.to_string(), value.to_string()));
        }
        return Ok(ResourceKind::Ocf { provider: provider.to_string(), agent: agent.to_string(), params });
    }
    check_name("resource script", head)?;
    Ok(ResourceKind::Script { name: head.to_string(), args: parts.map(str::to_string).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/etc/ha.d/haresources";

    fn nodes() -> Vec<String> {
        vec!["alpha".into(), "Bravo".into()]
    }

    fn parse(text: &str) -> Result<(HaResources, Vec<Warning>), ConfigError> {
        HaResources::parse(Path::new(P), text, &nodes())
    }

    fn groups(text: &str) -> Vec<ResourceGroup> {
        parse(text).unwrap_or_else(|e| panic!("{e}")).0.groups
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn script(name: &str, args: &[&str]) -> ResourceKind {
        ResourceKind::Script { name: name.into(), args: args.iter().map(|a| a.to_string()).collect() }
    }

    #[test]
    fn groups_with_every_token_form() {
        let g = groups(
            "alpha 10.0.0.5/24/eth0 Filesystem::/dev/sdb1::/data::ext4 httpd\n\
             bravo IPaddr::10.0.0.6 ocf:heartbeat:IPaddr2::ip=10.0.0.7::cidr_netmask=24 OCF::apache::web\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].home, "alpha");
        assert_eq!(g[0].key, "10.0.0.5/24/eth0");
        assert_eq!(g[0].line, 1);
        assert_eq!(
            g[0].resources[0].kind,
            ResourceKind::IpAddr(IpSpec {
                ip: Ipv4Addr::new(10, 0, 0, 5),
                bits: Some(24),
                nic: Some("eth0".into()),
                label: None,
                broadcast: None
            })
        );
        assert_eq!(g[0].resources[1].kind, script("Filesystem", &["/dev/sdb1", "/data", "ext4"]));
        assert_eq!(g[0].resources[2].kind, script("httpd", &[]));
        assert_eq!(g[1].home, "Bravo", "home is spelled as in ha.cf");
        assert_eq!(g[1].key, "IPaddr::10.0.0.6");
        assert_eq!(g[1].resources[0].kind, script("IPaddr", &["10.0.0.6"]));
        assert_eq!(
            g[1].resources[1].kind,
            ResourceKind::Ocf {
                provider: "heartbeat".into(),
                agent: "IPaddr2".into(),
                params: vec![("ip".into(), "10.0.0.7".into()), ("cidr_netmask".into(), "24".into())]
            }
        );
        assert_eq!(g[1].resources[2].kind, script("OCF", &["apache", "web"]));
    }

    #[test]
    fn ocf_parameters_may_follow_as_separate_tokens() {
        let g = groups("alpha ocf:heartbeat:IPaddr2 ip=10.0.0.5 cidr_netmask=24 httpd\n");
        assert_eq!(g[0].key, "ocf:heartbeat:IPaddr2");
        assert_eq!(g[0].resources.len(), 2);
        assert_eq!(g[0].resources[0].token, "ocf:heartbeat:IPaddr2 ip=10.0.0.5 cidr_netmask=24");
        assert_eq!(
            g[0].resources[0].kind,
            ResourceKind::Ocf {
                provider: "heartbeat".into(),
                agent: "IPaddr2".into(),
                params: vec![("ip".into(), "10.0.0.5".into()), ("cidr_netmask".into(), "24".into())]
            }
        );
        let g = groups("alpha ocf:pacemaker:Dummy::state=/x fake=1\n");
        assert!(matches!(&g[0].resources[0].kind, ResourceKind::Ocf { params, .. } if params.len() == 2));
    }

    #[test]
    fn normalisation_comments_continuations_blanks_and_node_case() {
        let g = groups("# comment\n\n  ALPHA\t10.0.0.5 \\\n   httpd   # trailing\\\n\n bravo \\\n  \\\n  nfs\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].home, "alpha");
        assert_eq!(g[0].resources.iter().map(|r| r.token.as_str()).collect::<Vec<_>>(), ["10.0.0.5", "httpd"]);
        assert_eq!(g[0].line, 3);
        assert_eq!(g[1].home, "Bravo");
        assert_eq!(g[1].line, 6);
        assert_eq!(g[1].resources[0].token, "nfs");
    }

    #[test]
    fn ending_inside_a_continuation_warns_and_keeps_the_group() {
        let (r, w) = parse("alpha httpd \\\n").unwrap();
        assert_eq!(r.groups[0].resources.len(), 1);
        assert_eq!(w[0].to_string(), "/etc/ha.d/haresources:1: the file ends inside a continued (\\) line");
    }

    #[test]
    fn empty_file_has_no_groups() {
        assert!(groups("# nothing\n\n").is_empty());
        assert!(groups("").is_empty());
    }

    #[test]
    fn ip_forms() {
        let ip = |t: &str| IpSpec::parse(t);
        let a = Ipv4Addr::new(10, 0, 0, 5);
        let spec = |bits, nic: Option<&str>, label: Option<&str>, bc: Option<Ipv4Addr>| IpSpec {
            ip: a,
            bits,
            nic: nic.map(Into::into),
            label: label.map(Into::into),
            broadcast: bc,
        };
        let bc = Some(Ipv4Addr::new(10, 0, 0, 255));
        assert_eq!(ip("10.0.0.5"), Ok(spec(None, None, None, None)));
        assert_eq!(ip("10.0.0.5/24"), Ok(spec(Some(24), None, None, None)));
        assert_eq!(ip("10.0.0.5/255.255.255.0"), Ok(spec(Some(24), None, None, None)));
        assert_eq!(ip("10.0.0.5/24/eth0:web"), Ok(spec(Some(24), Some("eth0"), Some("web"), None)));
        assert_eq!(ip("10.0.0.5/24/10.0.0.255"), Ok(spec(Some(24), None, None, bc)));
        assert_eq!(ip("10.0.0.5/24/eth0/10.0.0.255"), Ok(spec(Some(24), Some("eth0"), None, bc)));
        assert_eq!(ip("10.0.0.5//eth0"), Ok(spec(None, Some("eth0"), None, None)));
    }

    #[test]
    fn ip_form_errors() {
        let ip = |t: &str| IpSpec::parse(t).unwrap_err();
        assert_eq!(ip("10.0.0.256"), "[10.0.0.256] is not an IPv4 address");
        assert_eq!(ip("10.0.0.5/33"), "[33] is not a prefix length (1-32) or netmask");
        assert_eq!(ip("10.0.0.5/0"), "[0] is not a prefix length (1-32) or netmask");
        assert_eq!(ip("10.0.0.5/255.0.255.0"), "[255.0.255.0] is not a prefix length (1-32) or netmask");
        assert_eq!(ip("10.0.0.5/24/1.2.3"), "[1.2.3] is not an IPv4 broadcast address");
        assert_eq!(ip("10.0.0.5/24/eth0/x"), "[x] is not an IPv4 broadcast address");
        assert_eq!(ip("10.0.0.5/24/eth0:"), "[eth0:] is not an interface name (nic or nic:label)");
        assert_eq!(ip("10.0.0.5/24/:web"), "[:web] is not an interface name (nic or nic:label)");
        assert_eq!(
            ip("10.0.0.5/24/10.0.0.255/x"),
            "[10.0.0.5/24/10.0.0.255/x] has too many fields: ip[/bits[/nic[:label]][/broadcast]]"
        );
        assert_eq!(
            err("alpha 10.0.0.5x\n"),
            "/etc/ha.d/haresources:1: resource [10.0.0.5x]: [10.0.0.5x] is not an IPv4 address"
        );
    }

    #[test]
    fn group_errors_name_the_physical_line() {
        assert_eq!(
            err("alpha httpd\ncharlie nfs\n"),
            "/etc/ha.d/haresources:2: Bad nodename in haresources [charlie] (not listed on a node line in ha.cf)"
        );
        assert_eq!(err("\nalpha\n"), "/etc/ha.d/haresources:2: group for node [alpha] lists no resources");
        assert_eq!(
            err("alpha httpd \\\n  ip=1\n"),
            "/etc/ha.d/haresources:2: [ip=1] is a parameter, but does not follow an ocf: resource"
        );
        assert_eq!(
            err("alpha ocf:heartbeat:IPaddr2 ip=1 \\\n ip=2\n"),
            "/etc/ha.d/haresources:2: parameter [ip] given twice"
        );
        assert_eq!(
            err("alpha ocf:heartbeat:IPaddr2::ip=1::ip=2\n"),
            "/etc/ha.d/haresources:1: resource [ocf:heartbeat:IPaddr2::ip=1::ip=2]: parameter [ip] given twice"
        );
        assert_eq!(
            err("alpha ocf:heartbeat:IPaddr2 a-b=1\n"),
            "/etc/ha.d/haresources:1: parameter [a-b=1] is not key=value with a name of letters, digits and _"
        );
        assert_eq!(
            err("alpha ocf:heartbeat:IPaddr2::=1\n"),
            "/etc/ha.d/haresources:1: resource [ocf:heartbeat:IPaddr2::=1]: parameter [=1] is not key=value with a name of letters, digits and _"
        );
        assert_eq!(
            err("alpha ocf:IPaddr2\n"),
            "/etc/ha.d/haresources:1: resource [ocf:IPaddr2]: OCF resources are written ocf:PROVIDER:TYPE"
        );
        assert_eq!(
            err("alpha ocf:a:b:c\n"),
            "/etc/ha.d/haresources:1: resource [ocf:a:b:c]: OCF resources are written ocf:PROVIDER:TYPE"
        );
        assert_eq!(
            err("alpha ocf:..:IPaddr2\n"),
            "/etc/ha.d/haresources:1: resource [ocf:..:IPaddr2]: [..] is not a valid OCF provider name"
        );
        assert_eq!(
            err("alpha ocf:heartbeat:\n"),
            "/etc/ha.d/haresources:1: resource [ocf:heartbeat:]: [] is not a valid OCF agent name"
        );
        assert_eq!(
            err("alpha ../../bin/sh::x\n"),
            "/etc/ha.d/haresources:1: resource [../../bin/sh::x]: [../../bin/sh] is not a valid resource script name"
        );
        assert_eq!(
            err("alpha ::x\n"),
            "/etc/ha.d/haresources:1: resource [::x]: [] is not a valid resource script name"
        );
    }

    #[test]
    fn duplicate_group_keys_are_refused() {
        assert_eq!(
            err("alpha 10.0.0.5 httpd\n\nbravo 10.0.0.5 nfs\n"),
            "/etc/ha.d/haresources:3: duplicate resource group key [10.0.0.5] (first on line 1)"
        );
        // Same address written differently is a different key (verbatim).
        assert_eq!(groups("alpha 10.0.0.5 httpd\nbravo 10.0.0.5/24 nfs\n").len(), 2);
        let (r, _) = parse("alpha 10.0.0.5 httpd\nbravo nfs\n").unwrap();
        assert_eq!(r.group("nfs").unwrap().home, "Bravo");
        assert!(r.group("httpd").is_none());
    }

    #[test]
    fn load_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haresources");
        std::fs::write(&path, "alpha httpd\n").unwrap();
        let (r, _) = HaResources::load(&path, &nodes()).unwrap();
        assert_eq!(r.groups[0].key, "httpd");
        assert_eq!(r.path, path);
        assert!(HaResources::load(&dir.path().join("x"), &nodes())
            .unwrap_err()
            .to_string()
            .contains("cannot read file"));
    }

    use crate::testutil::XorShift;

    #[test]
    fn brute_truncated_and_random_input_never_panics_and_errors_are_one_line() {
        let sample = "# groups\nalpha 10.0.0.5/24/eth0:web/10.0.0.255 Filesystem::/dev/sdb1::/data::ext4 \\\n  httpd\n\
                      bravo ocf:heartbeat:IPaddr2::ip=10.0.0.6 cidr_netmask=24 nfs-kernel-server\n";
        let check = |text: &str| match parse(text) {
            Ok((_, w)) => w.iter().for_each(|w| assert!(!w.to_string().contains('\n'))),
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        };
        assert!(parse(sample).is_ok());
        for cut in 0..=sample.len() {
            check(&sample[..cut]);
            check(&sample[cut..]);
        }
        let pieces = [
            "alpha",
            "bravo",
            "charlie",
            "ocf:",
            "ocf:heartbeat:IPaddr2",
            "::",
            ":",
            "=",
            "ip=1",
            "10.0.0.5",
            "/",
            "24",
            "/eth0",
            ":web",
            "255.255.255.0",
            "999.1.1.1",
            ".",
            "..",
            "\\",
            "\\\n",
            "\n",
            "#",
            " ",
            "\t",
            "é",
            "∞",
            "\u{0}",
            "httpd",
            "1.2.3.4.5",
        ];
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for _ in 0..20_000 {
            let text: String = (0..rng.below(30)).map(|_| pieces[rng.below(pieces.len())]).collect();
            check(&text);
            let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            check(&String::from_utf8_lossy(&bytes));
        }
    }
}
