//! The table of agent parameters: one source for option letters, stdin
//! keys, help text and metadata, in the order the original prints them.

/// Which personality the program runs as (picked from `argv[0]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// `fence_xvm`: multicast mode.
    Xvm,
    /// `fence_virt` (any other name): serial/VMChannel, TCP (`-T`) or vsock (`-S`).
    Virt,
}

impl Personality {
    /// `fence_xvm` exactly selects the multicast agent; any other name is fence_virt.
    pub fn from_program_name(name: &str) -> Self {
        if name == "fence_xvm" {
            Self::Xvm
        } else {
            Self::Virt
        }
    }
}

/// One parameter of the agent.
#[derive(Debug)]
pub struct Param {
    /// stdin key and metadata name.
    pub name: &'static str,
    /// Command-line letter (`None`: stdin only).
    pub letter: Option<char>,
    /// Name of the value in help (`None`: a flag without value).
    pub value_name: Option<&'static str>,
    /// Metadata content type.
    pub content_type: &'static str,
    /// Metadata default (`None`: no default attribute).
    pub default: Option<&'static str>,
    /// Extra metadata attribute (`obsoletes="port"`, `deprecated="1"`).
    pub extra: Option<&'static str>,
    /// Description for help and metadata.
    pub description: &'static str,
}

const fn p(
    name: &'static str,
    letter: Option<char>,
    value_name: Option<&'static str>,
    content_type: &'static str,
    default: Option<&'static str>,
    extra: Option<&'static str>,
    description: &'static str,
) -> Param {
    Param { name, letter, value_name, content_type, default, extra, description }
}

/// Every parameter of either personality.
pub const PARAMS: &[Param] = &[
    p("debug", Some('d'), None, "boolean", None, None, "Specify (stdin) or increment (command line) debug level"),
    p("ip_family", Some('i'), Some("family"), "string", Some("auto"), None, "IP Family ([auto], ipv4, ipv6)"),
    p("multicast_address", Some('a'), Some("address"), "string", None, None, "Multicast address (default=225.0.0.12 / ff05::3:1)"),
    p("serial_device", Some('D'), Some("device"), "string", Some("/dev/ttyS1"), None, "Serial device (default=/dev/ttyS1)"),
    p("serial_params", Some('P'), Some("param"), "string", Some("115200,8N1"), None, "Serial Parameters (default=115200,8N1)"),
    p("channel_address", Some('A'), Some("address"), "string", Some("10.0.2.179"), None, "VM Channel IP address (default=10.0.2.179)"),
    p("ipport", Some('p'), Some("port"), "string", Some("1229"), None, "TCP, Multicast, VMChannel, or VM socket port (default=1229)"),
    p("retrans", Some('r'), Some("retrans"), "string", Some("20"), None, "Multicast retransmit time (in 1/10sec; default=20)"),
    p("auth", Some('C'), Some("auth"), "string", Some("sha256"), None, "Authentication (none, sha1, [sha256], sha512)"),
    p("hash", Some('c'), Some("hash"), "string", Some("sha256"), None, "Packet hash strength (none, sha1, [sha256], sha512)"),
    p("key_file", Some('k'), Some("file"), "string", Some("/etc/cluster/fence_xvm.key"), None, "Shared key file (default=/etc/cluster/fence_xvm.key)"),
    p("plug", Some('n'), Some("domain"), "string", None, Some("obsoletes=\"port\""), "Virtual Machine (domain name) to fence"),
    p("port", Some('H'), Some("domain"), "string", None, Some("deprecated=\"1\""), "Virtual Machine (domain name) to fence"),
    p("use_uuid", Some('u'), None, "string", Some("0"), None, "Treat [domain] as UUID instead of domain name. This is provided for compatibility with older fence_xvmd installations."),
    p("action", Some('o'), Some("operation"), "string", Some("reboot"), None, "Fencing action (null, off, on, [reboot], status, list, list-status, monitor, validate-all, metadata)"),
    p("timeout", Some('t'), Some("timeout"), "string", Some("30"), None, "Fencing timeout (in seconds; default=30)"),
    p("ipaddr", Some('T'), Some("address"), "string", Some("127.0.0.1"), None, "IP address to connect to in TCP mode (default=127.0.0.1 / ::1)"),
    p("vsock", Some('S'), Some("cid"), "integer", Some("2"), None, "vm socket CID to connect to in vsock mode"),
    p("delay", Some('w'), Some("delay"), "string", Some("0"), None, "Fencing delay (in seconds; default=0)"),
    p("domain", None, Some("domain"), "string", None, Some("deprecated=\"1\""), "Virtual Machine (domain name) to fence (deprecated; use port)"),
];

/// Parameter names in the order each personality lists them.
pub fn order(personality: Personality) -> &'static [&'static str] {
    match personality {
        Personality::Xvm => &[
            "debug",
            "ip_family",
            "multicast_address",
            "ipport",
            "retrans",
            "auth",
            "hash",
            "key_file",
            "plug",
            "port",
            "use_uuid",
            "action",
            "timeout",
            "delay",
            "domain",
        ],
        Personality::Virt => &[
            "debug",
            "serial_device",
            "serial_params",
            "channel_address",
            "ipport",
            "plug",
            "port",
            "action",
            "timeout",
            "ipaddr",
            "vsock",
            "auth",
            "hash",
            "key_file",
            "delay",
            "domain",
        ],
    }
}

/// The parameters of one personality, in its order.
pub fn params_for(personality: Personality) -> impl Iterator<Item = &'static Param> {
    order(personality)
        .iter()
        .map(|name| PARAMS.iter().find(|p| p.name == *name).expect("every ordered name is in PARAMS"))
}

/// Looks a stdin key up (case-insensitive) among this personality's
/// parameters, including the stdin-only alias `option` for `action`.
pub fn stdin_param(personality: Personality, key: &str) -> Option<&'static str> {
    if key.eq_ignore_ascii_case("option") {
        return Some("action");
    }
    params_for(personality).find(|p| p.name.eq_ignore_ascii_case(key)).map(|p| p.name)
}

/// The actions advertised in metadata, in the original's order.
pub const ACTIONS: &[&str] =
    &["null", "on", "off", "reboot", "metadata", "status", "monitor", "list", "list-status", "validate-all"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ordered_parameter_exists() {
        assert_eq!(params_for(Personality::Xvm).count(), 15);
        assert_eq!(params_for(Personality::Virt).count(), 16);
    }

    #[test]
    fn personality_is_picked_from_the_exact_name() {
        assert_eq!(Personality::from_program_name("fence_xvm"), Personality::Xvm);
        assert_eq!(Personality::from_program_name("fence_virt"), Personality::Virt);
        assert_eq!(Personality::from_program_name("fence_xvm2"), Personality::Virt);
    }

    #[test]
    fn stdin_keys_follow_the_personality() {
        assert_eq!(stdin_param(Personality::Xvm, "PORT"), Some("port"));
        assert_eq!(stdin_param(Personality::Xvm, "option"), Some("action"));
        assert_eq!(stdin_param(Personality::Xvm, "ipaddr"), None);
        assert_eq!(stdin_param(Personality::Virt, "multicast_address"), None);
        assert_eq!(stdin_param(Personality::Virt, "vsock"), Some("vsock"));
    }
}
