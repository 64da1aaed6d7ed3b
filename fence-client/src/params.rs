//! The table of agent parameters: the one source for option letters, stdin
//! keys, how each takes its value, help text and metadata, in the order the
//! original prints them.

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

/// Every parameter either personality knows, in the order of [`PARAMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamId {
    /// `debug` / `-d`
    Debug,
    /// `ip_family` / `-i`
    IpFamily,
    /// `multicast_address` / `-a`
    MulticastAddress,
    /// `serial_device` / `-D`
    SerialDevice,
    /// `serial_params` / `-P`
    SerialParams,
    /// `channel_address` / `-A`
    ChannelAddress,
    /// `ipport` / `-p`
    IpPort,
    /// `retrans` / `-r`
    Retrans,
    /// `auth` / `-C`
    Auth,
    /// `hash` / `-c`
    Hash,
    /// `key_file` / `-k`
    KeyFile,
    /// `plug` / `-n`
    Plug,
    /// `port` / `-H` (the target, not the network port)
    Port,
    /// `use_uuid` / `-u`
    UseUuid,
    /// `action` / `-o` (stdin also `option`)
    Action,
    /// `timeout` / `-t`
    Timeout,
    /// `ipaddr` / `-T`
    IpAddr,
    /// `vsock` / `-S`
    Vsock,
    /// `delay` / `-w`
    Delay,
    /// `domain` (stdin only)
    Domain,
}

impl ParamId {
    /// This parameter's row of the table.
    pub fn param(self) -> &'static Param {
        &PARAMS[self as usize]
    }

    /// Whether the parameter names the target domain (`plug`, `port`, `domain`).
    pub fn is_target(self) -> bool {
        matches!(self, Self::Plug | Self::Port | Self::Domain)
    }
}

/// How a parameter takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Always a value.
    Value,
    /// A value that may be left out (`-S`, `-S3`, `vsock`).
    OptionalValue,
    /// A flag on the command line (`-u`); on stdin a value may follow.
    Flag,
    /// A flag counted on the command line (`-dd`); on stdin a value may follow.
    Count,
}

impl Arity {
    /// Whether a stdin line may give the key without `=value`.
    pub fn value_optional(self) -> bool {
        self != Self::Value
    }
}

/// One parameter of the agent.
#[derive(Debug)]
pub struct Param {
    /// Which parameter this row describes.
    pub id: ParamId,
    /// stdin key and metadata name.
    pub name: &'static str,
    /// Command-line letter (`None`: stdin only).
    pub letter: Option<char>,
    /// Name of the value in help (`None`: a flag without value).
    pub value_name: Option<&'static str>,
    /// How the value is given.
    pub arity: Arity,
    /// Metadata content type.
    pub content_type: &'static str,
    /// Metadata default (`None`: no default attribute).
    pub default: Option<&'static str>,
    /// Extra metadata attribute (`obsoletes="port"`, `deprecated="1"`).
    pub extra: Option<&'static str>,
    /// Metadata `required="1"`.
    pub required: bool,
    /// Listed in `-h` (the deprecated `port` alias is not).
    pub in_help: bool,
    /// Description for help and metadata.
    pub description: &'static str,
}

/// A row with a value, no default, no extra attribute, not required and listed in help.
const fn p(
    id: ParamId,
    name: &'static str,
    letter: Option<char>,
    value_name: Option<&'static str>,
    content_type: &'static str,
    description: &'static str,
) -> Param {
    Param {
        id,
        name,
        letter,
        value_name,
        arity: Arity::Value,
        content_type,
        default: None,
        extra: None,
        required: false,
        in_help: true,
        description,
    }
}

impl Param {
    const fn default(self, default: &'static str) -> Self {
        Param { default: Some(default), ..self }
    }

    const fn extra(self, extra: &'static str) -> Self {
        Param { extra: Some(extra), ..self }
    }

    const fn arity(self, arity: Arity) -> Self {
        Param { arity, ..self }
    }

    const fn required(self) -> Self {
        Param { required: true, ..self }
    }

    const fn hidden_in_help(self) -> Self {
        Param { in_help: false, ..self }
    }
}

use ParamId as Id;

/// Every parameter of either personality, indexed by [`ParamId`].
pub const PARAMS: &[Param] = &[
    p(Id::Debug, "debug", Some('d'), None, "boolean", "Specify (stdin) or increment (command line) debug level")
        .arity(Arity::Count),
    p(Id::IpFamily, "ip_family", Some('i'), Some("family"), "string", "IP Family ([auto], ipv4, ipv6)").default("auto"),
    p(
        Id::MulticastAddress,
        "multicast_address",
        Some('a'),
        Some("address"),
        "string",
        "Multicast address (default=225.0.0.12 / ff05::3:1)",
    ),
    p(Id::SerialDevice, "serial_device", Some('D'), Some("device"), "string", "Serial device (default=/dev/ttyS1)")
        .default("/dev/ttyS1"),
    p(Id::SerialParams, "serial_params", Some('P'), Some("param"), "string", "Serial Parameters (default=115200,8N1)")
        .default("115200,8N1"),
    p(
        Id::ChannelAddress,
        "channel_address",
        Some('A'),
        Some("address"),
        "string",
        "VM Channel IP address (default=10.0.2.179)",
    )
    .default("10.0.2.179"),
    p(
        Id::IpPort,
        "ipport",
        Some('p'),
        Some("port"),
        "string",
        "TCP, Multicast, VMChannel, or VM socket port (default=1229)",
    )
    .default("1229"),
    p(Id::Retrans, "retrans", Some('r'), Some("retrans"), "string", "Multicast retransmit time (in 1/10sec; default=20)")
        .default("20"),
    p(Id::Auth, "auth", Some('C'), Some("auth"), "string", "Authentication (none, sha1, [sha256], sha512)")
        .default("sha256"),
    p(Id::Hash, "hash", Some('c'), Some("hash"), "string", "Packet hash strength (none, sha1, [sha256], sha512)")
        .default("sha256"),
    p(Id::KeyFile, "key_file", Some('k'), Some("file"), "string", "Shared key file (default=/etc/cluster/fence_xvm.key)")
        .default("/etc/cluster/fence_xvm.key"),
    p(Id::Plug, "plug", Some('n'), Some("domain"), "string", "Virtual Machine (domain name) to fence")
        .extra("obsoletes=\"port\"")
        .required(),
    p(Id::Port, "port", Some('H'), Some("domain"), "string", "Virtual Machine (domain name) to fence")
        .extra("deprecated=\"1\"")
        .required()
        .hidden_in_help(),
    p(
        Id::UseUuid,
        "use_uuid",
        Some('u'),
        None,
        "string",
        "Treat [domain] as UUID instead of domain name. This is provided for compatibility with older fence_xvmd installations.",
    )
    .default("0")
    .arity(Arity::Flag),
    p(
        Id::Action,
        "action",
        Some('o'),
        Some("operation"),
        "string",
        "Fencing action (null, off, on, [reboot], status, list, list-status, monitor, validate-all, metadata)",
    )
    .default("reboot"),
    p(Id::Timeout, "timeout", Some('t'), Some("timeout"), "string", "Fencing timeout (in seconds; default=30)")
        .default("30"),
    p(
        Id::IpAddr,
        "ipaddr",
        Some('T'),
        Some("address"),
        "string",
        "IP address to connect to in TCP mode (default=127.0.0.1 / ::1)",
    )
    .default("127.0.0.1"),
    p(Id::Vsock, "vsock", Some('S'), Some("cid"), "integer", "vm socket CID to connect to in vsock mode")
        .default("2")
        .arity(Arity::OptionalValue),
    p(Id::Delay, "delay", Some('w'), Some("delay"), "string", "Fencing delay (in seconds; default=0)").default("0"),
    p(Id::Domain, "domain", None, Some("domain"), "string", "Virtual Machine (domain name) to fence (deprecated; use port)")
        .extra("deprecated=\"1\""),
];

/// Parameters in the order fence_xvm lists them.
const XVM_ORDER: &[ParamId] = &[
    Id::Debug,
    Id::IpFamily,
    Id::MulticastAddress,
    Id::IpPort,
    Id::Retrans,
    Id::Auth,
    Id::Hash,
    Id::KeyFile,
    Id::Plug,
    Id::Port,
    Id::UseUuid,
    Id::Action,
    Id::Timeout,
    Id::Delay,
    Id::Domain,
];

/// Parameters in the order fence_virt lists them.
const VIRT_ORDER: &[ParamId] = &[
    Id::Debug,
    Id::SerialDevice,
    Id::SerialParams,
    Id::ChannelAddress,
    Id::IpPort,
    Id::Plug,
    Id::Port,
    Id::Action,
    Id::Timeout,
    Id::IpAddr,
    Id::Vsock,
    Id::Auth,
    Id::Hash,
    Id::KeyFile,
    Id::Delay,
    Id::Domain,
];

/// Parameter ids in the order each personality lists them.
pub fn order(personality: Personality) -> &'static [ParamId] {
    match personality {
        Personality::Xvm => XVM_ORDER,
        Personality::Virt => VIRT_ORDER,
    }
}

/// The parameters of one personality, in its order.
pub fn params_for(personality: Personality) -> impl Iterator<Item = &'static Param> {
    order(personality).iter().map(|id| id.param())
}

/// Looks a stdin key up (case-insensitive) among this personality's
/// parameters, including the stdin-only alias `option` for `action`.
pub fn stdin_param(personality: Personality, key: &str) -> Option<ParamId> {
    if key.eq_ignore_ascii_case("option") {
        return Some(ParamId::Action);
    }
    params_for(personality).find(|p| p.name.eq_ignore_ascii_case(key)).map(|p| p.id)
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
    fn the_table_is_indexed_by_id() {
        for (index, param) in PARAMS.iter().enumerate() {
            assert_eq!(param.id as usize, index, "{} is out of place", param.name);
            assert_eq!(param.id.param().name, param.name);
        }
    }

    #[test]
    fn personality_is_picked_from_the_exact_name() {
        assert_eq!(Personality::from_program_name("fence_xvm"), Personality::Xvm);
        assert_eq!(Personality::from_program_name("fence_virt"), Personality::Virt);
        assert_eq!(Personality::from_program_name("fence_xvm2"), Personality::Virt);
    }

    #[test]
    fn stdin_keys_follow_the_personality() {
        assert_eq!(stdin_param(Personality::Xvm, "PORT"), Some(ParamId::Port));
        assert_eq!(stdin_param(Personality::Xvm, "option"), Some(ParamId::Action));
        assert_eq!(stdin_param(Personality::Xvm, "ipaddr"), None);
        assert_eq!(stdin_param(Personality::Virt, "multicast_address"), None);
        assert_eq!(stdin_param(Personality::Virt, "vsock"), Some(ParamId::Vsock));
    }
}
