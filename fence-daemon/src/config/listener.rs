//! `listeners/*` sections (spec §11.5): multicast, tcp, vsock, serial.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use keys::HashAlgorithm;
use protocol::defaults;

use super::error::ConfigError;
use super::fields::{port, Ctx, Reader};
use super::tree::ConfigTree;
use crate::registry::{self, PluginId, PluginKind};

/// Key and algorithms of a listener that authenticates requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `key_file` (default [`keys::DEFAULT_KEY_FILE`]).
    pub key_file: PathBuf,
    /// Line of `key_file` when it was set in the file, for messages.
    pub key_file_line: Option<usize>,
    /// `hash`: weakest accepted request signature (default sha256).
    pub hash: HashAlgorithm,
    /// `auth`: challenge/response algorithm (default sha256).
    pub auth: HashAlgorithm,
}

impl AuthSettings {
    /// Whether a usable key file is needed: true unless both `hash` and
    /// `auth` are `none`. The daemon refuses to start when it is needed and
    /// the file is missing or empty (fail closed, unlike the original).
    pub fn key_required(&self) -> bool {
        !(self.hash == HashAlgorithm::None && self.auth == HashAlgorithm::None)
    }

    fn read(ctx: &Ctx<'_>, r: &Reader<'_>) -> Result<Self, ConfigError> {
        let key_entry = r.entry("key_file");
        Ok(AuthSettings {
            key_file: PathBuf::from(key_entry.map_or(keys::DEFAULT_KEY_FILE, |v| v.value())),
            key_file_line: key_entry.and_then(|v| v.line()),
            hash: r.hash(ctx, "hash")?.unwrap_or_default(),
            // The original let `auth` set the hash minimum for tcp and vsock;
            // here it always sets the challenge/response algorithm.
            auth: r.hash(ctx, "auth")?.unwrap_or_default(),
        })
    }
}

/// `listeners/multicast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MulticastConfig {
    /// Key and algorithms.
    pub auth: AuthSettings,
    /// Group to join (225.0.0.12 or ff05::3:1 by `family`); always multicast.
    pub address: IpAddr,
    /// UDP port (default 1229).
    pub port: u16,
    /// `interface` to listen on; `None` means all. Existence is checked by
    /// `DaemonConfig::check_host`, not when parsing.
    pub interface: Option<String>,
    /// Line of `interface`, for messages.
    pub interface_line: Option<usize>,
    /// `check_source` (our extension, default yes): the callback address in
    /// a request must be the address it was sent from. Set to "no" only when
    /// requests pass through NAT.
    pub require_source_match: bool,
}

/// `listeners/tcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Key and algorithms.
    pub auth: AuthSettings,
    /// Listen address (default 127.0.0.1, or ::1 with `family = "ipv6"`).
    pub address: IpAddr,
    /// TCP port (default 1229).
    pub port: u16,
}

/// `listeners/vsock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsockConfig {
    /// Key and algorithms.
    pub auth: AuthSettings,
    /// vsock port (default 1229).
    pub port: u32,
}

/// How the serial listener talks to guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialMode {
    /// A virtio serial port per guest (default).
    #[default]
    Serial,
    /// Guest-forwarded VMChannel.
    VmChannel,
}

/// `listeners/serial`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SerialConfig {
    /// `uri`: libvirt URI watched for guests.
    pub uri: Option<String>,
    /// `path`: only sockets under this directory are used.
    pub path: Option<PathBuf>,
    /// `mode`: serial (default) or vmchannel.
    pub mode: SerialMode,
}

/// The listener selected by `fence_virtd/listener`, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerConfig {
    /// Multicast requests with TCP call-back (fence_xvm).
    Multicast(MulticastConfig),
    /// Direct TCP (fence_virt -T).
    Tcp(TcpConfig),
    /// AF_VSOCK (fence_virt -S).
    Vsock(VsockConfig),
    /// Serial / VMChannel sockets of guests (fence_virt default mode).
    Serial(SerialConfig),
}

impl ListenerConfig {
    /// The plugin this configures.
    pub fn plugin(&self) -> PluginId {
        match self {
            ListenerConfig::Multicast(_) => PluginId::Multicast,
            ListenerConfig::Tcp(_) => PluginId::Tcp,
            ListenerConfig::Vsock(_) => PluginId::Vsock,
            ListenerConfig::Serial(_) => PluginId::Serial,
        }
    }

    /// The name used in `fence_virtd/listener`.
    pub fn name(&self) -> &'static str {
        self.plugin().name()
    }

    /// Key and algorithms; `None` for the serial listener, which has no
    /// authentication.
    pub fn auth(&self) -> Option<&AuthSettings> {
        match self {
            ListenerConfig::Multicast(c) => Some(&c.auth),
            ListenerConfig::Tcp(c) => Some(&c.auth),
            ListenerConfig::Vsock(c) => Some(&c.auth),
            ListenerConfig::Serial(_) => None,
        }
    }

    /// Key and algorithms, to change them (a reload).
    pub fn auth_mut(&mut self) -> Option<&mut AuthSettings> {
        match self {
            ListenerConfig::Multicast(c) => Some(&mut c.auth),
            ListenerConfig::Tcp(c) => Some(&mut c.auth),
            ListenerConfig::Vsock(c) => Some(&mut c.auth),
            ListenerConfig::Serial(_) => None,
        }
    }

    /// Reads the section of listener `name` (a listener of the
    /// [`registry`], case ignored); `None` for any other name.
    pub(crate) fn read(ctx: &Ctx<'_>, tree: &ConfigTree, name: &str) -> Option<Result<Self, ConfigError>> {
        let plugin = registry::find(PluginKind::Listener, name)?;
        Some(match plugin.id {
            PluginId::Multicast => read_multicast(ctx, &Reader::new(tree, "listeners/multicast")).map(Self::Multicast),
            PluginId::Tcp => read_tcp(ctx, &Reader::new(tree, "listeners/tcp")).map(Self::Tcp),
            PluginId::Vsock => read_vsock(ctx, &Reader::new(tree, "listeners/vsock")).map(Self::Vsock),
            PluginId::Serial => read_serial(ctx, &Reader::new(tree, "listeners/serial")).map(Self::Serial),
            PluginId::Libvirt | PluginId::Cpg => unreachable!("registry::find returned a backend for a listener"),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// `family` and `address` together: the address defaults by family, the
/// family follows the address when not given, and both must agree.
fn address(ctx: &Ctx<'_>, r: &Reader<'_>, defaults: (IpAddr, IpAddr)) -> Result<IpAddr, ConfigError> {
    let family = r.parse(ctx, "family", |s| {
        if s.eq_ignore_ascii_case("ipv4") {
            Ok(Family::V4)
        } else if s.eq_ignore_ascii_case("ipv6") {
            Ok(Family::V6)
        } else {
            Err("unknown family (expected ipv4 or ipv6)".to_string())
        }
    })?;
    let address = r.parse(ctx, "address", |s| {
        s.parse::<IpAddr>().map_err(|_| "not a numeric IP address (host names are not resolved)".to_string())
    })?;
    match (family, address) {
        (None | Some(Family::V4), None) => Ok(defaults.0),
        (Some(Family::V6), None) => Ok(defaults.1),
        (None, Some(a)) => Ok(a),
        (Some(f), Some(a)) => {
            if (f == Family::V4) == a.is_ipv4() {
                Ok(a)
            } else {
                let (name, wanted) = if f == Family::V4 { ("ipv4", "IPv4") } else { ("ipv6", "IPv6") };
                let problem = format!("not an {wanted} address, but family is {name}");
                match r.entry("address") {
                    Some(v) => Err(r.bad_value(ctx, v, &problem)),
                    None => Err(ctx.error(r.line(), problem)),
                }
            }
        }
    }
}

fn read_multicast(ctx: &Ctx<'_>, r: &Reader<'_>) -> Result<MulticastConfig, ConfigError> {
    let address = address(ctx, r, (IpAddr::V4(defaults::IPV4_GROUP), IpAddr::V6(defaults::IPV6_GROUP)))?;
    if !address.is_multicast() {
        if let Some(v) = r.entry("address") {
            return Err(r.bad_value(ctx, v, "not a multicast address"));
        }
    }
    let interface = r.entry("interface");
    Ok(MulticastConfig {
        auth: AuthSettings::read(ctx, r)?,
        address,
        port: r.parse(ctx, "port", port)?.unwrap_or(defaults::PORT),
        interface: interface.map(|v| v.value().to_string()),
        interface_line: interface.and_then(|v| v.line()),
        require_source_match: r.parse(ctx, "check_source", yes_no)?.unwrap_or(true),
    })
}

/// A yes/no value (`yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`).
fn yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err("expected yes or no".to_string()),
    }
}

fn read_tcp(ctx: &Ctx<'_>, r: &Reader<'_>) -> Result<TcpConfig, ConfigError> {
    Ok(TcpConfig {
        auth: AuthSettings::read(ctx, r)?,
        address: address(ctx, r, (IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)))?,
        port: r.parse(ctx, "port", port)?.unwrap_or(defaults::PORT),
    })
}

fn read_vsock(ctx: &Ctx<'_>, r: &Reader<'_>) -> Result<VsockConfig, ConfigError> {
    let vsock_port = |s: &str| match s.parse::<u32>() {
        Ok(p) if p != 0 && p != u32::MAX => Ok(p),
        _ => Err(format!("not a vsock port (expected 1 to {})", u32::MAX - 1)),
    };
    Ok(VsockConfig {
        auth: AuthSettings::read(ctx, r)?,
        port: r.parse(ctx, "port", vsock_port)?.unwrap_or(u32::from(defaults::PORT)),
    })
}

fn read_serial(ctx: &Ctx<'_>, r: &Reader<'_>) -> Result<SerialConfig, ConfigError> {
    let mode = r.parse(ctx, "mode", |s| {
        if s.eq_ignore_ascii_case("serial") {
            Ok(SerialMode::Serial)
        } else if s.eq_ignore_ascii_case("vmchannel") {
            Ok(SerialMode::VmChannel)
        } else {
            // As in the original, a number also works: nonzero = vmchannel.
            match s.parse::<i64>() {
                Ok(0) => Ok(SerialMode::Serial),
                Ok(_) => Ok(SerialMode::VmChannel),
                Err(_) => Err("unknown mode (expected serial or vmchannel)".to_string()),
            }
        }
    })?;
    Ok(SerialConfig {
        uri: r.entry("uri").map(|v| v.value().to_string()),
        path: r.entry("path").map(|v| PathBuf::from(v.value())),
        mode: mode.unwrap_or_default(),
    })
}
