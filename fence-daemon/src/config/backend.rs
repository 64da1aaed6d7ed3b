//! `backends/*` sections (libvirt, cpg) and the `groups` static maps.

use super::error::ConfigError;
use super::fields::{integer, Ctx, Reader};
use super::tree::{ConfigTree, Value};
use crate::registry::{self, PluginId, PluginKind};

pub use plugins::backend::RebootMethod;

/// `backends/libvirt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibvirtConfig {
    /// `uri`, `uri1`, `uri2`, … in that order (scan stops at the first
    /// missing key); never empty.
    pub uris: Vec<String>,
    /// `reboot_method`: cycle (default) or reset.
    pub reboot_method: RebootMethod,
    /// `timeout` (our extension): seconds a libvirt call (lookup, off,
    /// status, monitor, list) may take before the request fails with
    /// "backend did not answer"; default 30, 1 to 3600.
    pub call_timeout: std::time::Duration,
}

/// How the cpg backend names domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameMode {
    /// By name (the original's default).
    #[default]
    Name,
    /// By UUID.
    Uuid,
}

/// `backends/cpg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpgConfig {
    /// `uri`, `uri1`, … (may be empty).
    pub uris: Vec<String>,
    /// `name_mode` (legacy location `fence_virtd/name_mode` also read).
    pub name_mode: NameMode,
}

/// The backend selected by `fence_virtd/backend`, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// Local libvirt connections.
    Libvirt(LibvirtConfig),
    /// Corosync CPG forwarding (accepted by the parser; the daemon decides
    /// whether it can run it).
    Cpg(CpgConfig),
}

impl BackendConfig {
    /// The plugin this configures.
    pub fn plugin(&self) -> PluginId {
        match self {
            BackendConfig::Libvirt(_) => PluginId::Libvirt,
            BackendConfig::Cpg(_) => PluginId::Cpg,
        }
    }

    /// The name used in `fence_virtd/backend`.
    pub fn name(&self) -> &'static str {
        self.plugin().name()
    }

    /// Reads the section of backend `name` (a backend of the
    /// [`registry`], case ignored); `None` for any other name.
    pub(crate) fn read(ctx: &mut Ctx<'_>, tree: &ConfigTree, name: &str) -> Option<Result<Self, ConfigError>> {
        let plugin = registry::find(PluginKind::Backend, name)?;
        Some(match plugin.id {
            PluginId::Libvirt => read_libvirt(ctx, &Reader::new(tree, "backends/libvirt")).map(Self::Libvirt),
            PluginId::Cpg => read_cpg(ctx, tree, &Reader::new(tree, "backends/cpg")).map(Self::Cpg),
            PluginId::Multicast | PluginId::Tcp | PluginId::Vsock | PluginId::Serial => {
                unreachable!("registry::find returned a listener for a backend")
            }
        })
    }
}

/// True for `uri1`, `uri2`, … (any case).
pub(crate) fn is_numbered_uri(name: &str) -> bool {
    name.len() > 3
        && name.is_char_boundary(3)
        && name[..3].eq_ignore_ascii_case("uri")
        && name[3..].bytes().all(|b| b.is_ascii_digit())
}

/// `uri`, `uri1`, `uri2`, … until the first missing one; later numbered
/// URIs are reported as ignored.
fn uris(ctx: &mut Ctx<'_>, r: &Reader<'_>) -> Vec<String> {
    let mut uris = Vec::new();
    let mut index = 0usize;
    loop {
        let key = if index == 0 { "uri".to_string() } else { format!("uri{index}") };
        match r.entry(&key) {
            Some(v) => uris.push(v.value().to_string()),
            None => {
                if let Some(section) = r.section {
                    for v in section.values().filter(|v| is_numbered_uri(v.name())) {
                        let read = (1..index).any(|i| v.name().eq_ignore_ascii_case(&format!("uri{i}")));
                        if !read {
                            ctx.warn(
                                v.line(),
                                format!(
                                    "{}/{} is ignored: URIs are read as uri, uri1, uri2, … up to the first \
                                     missing one ({key})",
                                    r.path,
                                    v.name()
                                ),
                            );
                        }
                    }
                }
                return uris;
            }
        }
        index += 1;
    }
}

fn read_libvirt(ctx: &mut Ctx<'_>, r: &Reader<'_>) -> Result<LibvirtConfig, ConfigError> {
    let uris = uris(ctx, r);
    if uris.is_empty() {
        return Err(ctx.error(r.line(), format!("{}/uri is not set: at least one libvirt URI is required", r.path)));
    }
    let reboot_method = r.parse(ctx, "reboot_method", |s| {
        if s.eq_ignore_ascii_case("cycle") {
            Ok(RebootMethod::Cycle)
        } else if s.eq_ignore_ascii_case("reset") {
            Ok(RebootMethod::Reset)
        } else {
            Err("unknown reboot method (expected cycle or reset)".to_string())
        }
    })?;
    let call_timeout = r.parse(ctx, "timeout", |s| {
        integer(s)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| (1..=3600).contains(n))
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| "not a timeout in seconds (1 to 3600)".to_string())
    })?;
    Ok(LibvirtConfig {
        uris,
        reboot_method: reboot_method.unwrap_or_default(),
        call_timeout: call_timeout.unwrap_or(plugins::backend::libvirt::DEFAULT_CALL_TIMEOUT),
    })
}

fn read_cpg(ctx: &mut Ctx<'_>, tree: &ConfigTree, r: &Reader<'_>) -> Result<CpgConfig, ConfigError> {
    let parse_mode = |s: &str| {
        if s.eq_ignore_ascii_case("name") {
            Ok(NameMode::Name)
        } else if s.eq_ignore_ascii_case("uuid") {
            Ok(NameMode::Uuid)
        } else {
            Err("unknown name mode (expected name or uuid)".to_string())
        }
    };
    let mut name_mode = r.parse(ctx, "name_mode", parse_mode)?;
    if name_mode.is_none() {
        name_mode = Reader::new(tree, "fence_virtd").parse(ctx, "name_mode", parse_mode)?;
    }
    Ok(CpgConfig { uris: uris(ctx, r), name_mode: name_mode.unwrap_or_default() })
}

/// One `groups/group` section: who (`ip`) may fence what (`uuid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `name` (informational).
    pub name: Option<String>,
    /// Every `ip` entry in file order: requester addresses (vsock: CIDs).
    pub ips: Vec<String>,
    /// Every `uuid` entry in file order: domain names or UUIDs.
    pub uuids: Vec<String>,
    /// Line of the `group` keyword.
    pub line: Option<usize>,
}

/// Every `group` of the last `groups` section, in file order. Empty groups
/// are kept: they grant nothing (fail closed), where the original let a
/// trailing empty group disable all maps.
pub(crate) fn read_groups(ctx: &mut Ctx<'_>, tree: &ConfigTree) -> Vec<GroupConfig> {
    let Some(groups) = tree.section("groups") else {
        return Vec::new();
    };
    let owned = |v: &Value| v.value().to_string();
    let list: Vec<GroupConfig> = groups
        .sections_named("group")
        .map(|g| GroupConfig {
            name: g.get("name").map(str::to_string),
            ips: g.values_named("ip").map(owned).collect(),
            uuids: g.values_named("uuid").map(owned).collect(),
            line: g.line(),
        })
        .collect();
    for g in &list {
        if g.ips.is_empty() || g.uuids.is_empty() {
            ctx.warn(g.line, "group has no 'ip' or no 'uuid' entries: it allows nothing");
        }
        for ip in g.ips.iter().filter(|ip| crate::permissions::Requester::parse(ip).is_none()) {
            ctx.warn(g.line, format!("'ip' entry \"{ip}\" is neither an address nor a vsock CID: it matches nobody"));
        }
    }
    if list.is_empty() {
        ctx.warn(groups.line(), "'groups' has no 'group' sections: static maps are off and every request is allowed");
    }
    list
}
