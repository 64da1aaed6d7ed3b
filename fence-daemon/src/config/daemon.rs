//! The typed, validated configuration of `fence_virtd`.

use std::path::{Path, PathBuf};

use super::backend::{is_numbered_uri, read_groups, BackendConfig, GroupConfig};
use super::error::{ConfigError, ConfigErrorKind, Warning};
use super::fields::{flag, integer, Ctx, KeyCheck, Reader};
use super::listener::{AuthSettings, ListenerConfig};
use super::tree::ConfigTree;
use crate::registry::{self, PluginKind};

/// Everything `fence_virtd` needs from fence_virt.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The file this came from (for messages).
    pub path: PathBuf,
    /// `fence_virtd/listener` and its section.
    pub listener: ListenerConfig,
    /// `fence_virtd/backend` and its section.
    pub backend: BackendConfig,
    /// `fence_virtd/debug` (default 0); `-d` overrides it.
    pub debug: u32,
    /// `fence_virtd/foreground` (nonzero: do not daemonise).
    pub foreground: bool,
    /// `fence_virtd/wait_for_init` (legacy `wait_for_backend`): retry
    /// initialisation instead of exiting.
    pub wait_for_init: bool,
    /// `groups/group` entries in file order. Empty means no static maps
    /// (everything allowed, as the original); a non-empty list restricts
    /// every request, and an empty group grants nothing.
    pub groups: Vec<GroupConfig>,
    /// The parsed tree, e.g. for the debug dump.
    pub tree: ConfigTree,
}

impl DaemonConfig {
    /// Reads, parses and validates a configuration file. Warnings (unknown
    /// keys, shadowed duplicates, ignored settings) do not stop loading.
    pub fn load(path: &Path) -> Result<(Self, Vec<Warning>), ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::io(path, &e))?;
        Self::from_tree(ConfigTree::parse(&bytes, path)?, path)
    }

    /// Reads the configuration as the daemon must: a regular file, opened
    /// without following a symbolic link and without waiting on a FIFO, not
    /// writable by group or others and owned by root or this process's
    /// user. With `allow_insecure` the owner and mode findings are returned
    /// as warnings instead of refusing the file.
    pub fn load_trusted(path: &Path, allow_insecure: bool) -> Result<(Self, Vec<Warning>), ConfigError> {
        use std::io::Read;
        let (mut file, meta) = keys::open_regular(path).map_err(|e| ConfigError::io(path, &e))?;
        let mut findings = Vec::new();
        for problem in keys::file_problems(path, &meta, keys::FileRule::Config) {
            let text = format!("{}; run: {}", problem.finding, problem.fix);
            if !allow_insecure {
                let kind = ConfigErrorKind::Io(std::io::ErrorKind::PermissionDenied);
                let message = format!("{text}, or start fence_virtd with --allow-insecure-permissions");
                return Err(ConfigError::new(kind, path, None, None, message));
            }
            findings.push(Warning::new(path, None, format!("{text} (accepted: --allow-insecure-permissions)")));
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| ConfigError::io(path, &e))?;
        let (config, warnings) = Self::from_tree(ConfigTree::parse(&bytes, path)?, path)?;
        findings.extend(warnings);
        Ok((config, findings))
    }

    /// Parses and validates configuration text; `path` names it in messages.
    pub fn from_str(text: &str, path: &Path) -> Result<(Self, Vec<Warning>), ConfigError> {
        Self::from_tree(ConfigTree::parse(text.as_bytes(), path)?, path)
    }

    /// Validates a parsed tree.
    pub fn from_tree(tree: ConfigTree, path: &Path) -> Result<(Self, Vec<Warning>), ConfigError> {
        let mut ctx = Ctx::new(path);
        check_known_keys(&mut ctx, &tree);
        let main = Reader::new(&tree, "fence_virtd");

        let listener_names = registry::known_names(PluginKind::Listener);
        let backend_names = registry::known_names(PluginKind::Backend);
        let listener_entry = main.entry("listener").ok_or_else(|| {
            ctx.error(main.line(), format!("fence_virtd/listener is not set (expected {})", one_of(&listener_names)))
        })?;
        let listener = ListenerConfig::read(&ctx, &tree, listener_entry.value()).ok_or_else(|| {
            main.bad_value(&ctx, listener_entry, &format!("unknown listener (expected {})", one_of(&listener_names)))
        })??;

        let backend_entry = main.entry("backend").ok_or_else(|| {
            ctx.error(main.line(), format!("fence_virtd/backend is not set (expected {})", one_of(&backend_names)))
        })?;
        let backend = match BackendConfig::read(&mut ctx, &tree, backend_entry.value()) {
            Some(result) => result?,
            None => {
                let problem = format!("unknown backend (expected {})", one_of(&backend_names));
                return Err(main.bad_value(&ctx, backend_entry, &problem));
            }
        };

        let debug = main.parse(&ctx, "debug", |s| {
            integer(s).ok().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| "not a debug level (0 or more)".into())
        })?;
        let foreground = main.parse(&ctx, "foreground", flag)?;
        let wait = match main.parse(&ctx, "wait_for_init", flag)? {
            Some(w) => Some(w),
            None => main.parse(&ctx, "wait_for_backend", flag)?,
        };
        if let Some(v) = main.entry("module_path") {
            ctx.warn(v.line(), "fence_virtd/module_path is ignored: listeners and backends are built in");
        }
        let groups = read_groups(&mut ctx, &tree);

        let config = DaemonConfig {
            path: path.to_path_buf(),
            listener,
            backend,
            debug: debug.unwrap_or(0),
            foreground: foreground.unwrap_or(false),
            wait_for_init: wait.unwrap_or(false),
            groups,
            tree,
        };
        Ok((config, ctx.warnings))
    }

    /// Key file and algorithms of the selected listener; `None` for the
    /// serial listener (no authentication).
    pub fn auth(&self) -> Option<&AuthSettings> {
        self.listener.auth()
    }

    /// Whether the selected listener needs a usable key: true unless it has
    /// no authentication at all (serial) or both `hash` and `auth` are
    /// `none`. The daemon must refuse to start when a required key file is
    /// missing or empty.
    pub fn key_required(&self) -> bool {
        self.auth().is_some_and(AuthSettings::key_required)
    }

    /// Checks the parts of the configuration that depend on this host and
    /// are not checked when parsing: the multicast `interface` must exist.
    /// Call once at start-up.
    pub fn check_host(&self) -> Result<(), ConfigError> {
        if let ListenerConfig::Multicast(m) = &self.listener {
            if let Some(name) = &m.interface {
                if let Err(errno) = nix::net::if_::if_nametoindex(name.as_str()) {
                    return Err(ConfigError::new(
                        ConfigErrorKind::Host,
                        &self.path,
                        m.interface_line,
                        None,
                        format!("listeners/multicast/interface = \"{name}\": no such network interface ({errno})"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

const AUTH_KEYS: [&str; 3] = ["key_file", "hash", "auth"];

/// Warnings for everything that is accepted but not used.
fn check_known_keys(ctx: &mut Ctx<'_>, tree: &ConfigTree) {
    let root_check = KeyCheck { sections: &["fence_virtd", "listeners", "backends", "groups"], ..KeyCheck::default() };
    root_check.run(ctx, tree.root(), "");
    let main_keys =
        ["listener", "backend", "module_path", "debug", "foreground", "wait_for_init", "wait_for_backend", "name_mode"];
    let multicast_keys = [&AUTH_KEYS[..], &["family", "address", "port", "interface", "check_source"]].concat();
    let tcp_keys = [&AUTH_KEYS[..], &["family", "address", "port"]].concat();
    let listener_names = registry::known_names(PluginKind::Listener);
    let backend_names = registry::known_names(PluginKind::Backend);
    let vsock_keys = [&AUTH_KEYS[..], &["port"]].concat();
    let checks: [(&str, KeyCheck<'_>); 10] = [
        ("fence_virtd", KeyCheck { keys: &main_keys, ..KeyCheck::default() }),
        ("listeners", KeyCheck { sections: &listener_names, ..KeyCheck::default() }),
        ("listeners/multicast", KeyCheck { keys: &multicast_keys, ..KeyCheck::default() }),
        ("listeners/tcp", KeyCheck { keys: &tcp_keys, ..KeyCheck::default() }),
        ("listeners/vsock", KeyCheck { keys: &vsock_keys, ..KeyCheck::default() }),
        ("listeners/serial", KeyCheck { keys: &["uri", "path", "mode"], ..KeyCheck::default() }),
        ("backends", KeyCheck { sections: &backend_names, ..KeyCheck::default() }),
        (
            "backends/libvirt",
            KeyCheck {
                keys: &["uri", "reboot_method", "timeout"],
                key_pattern: is_numbered_uri,
                ..KeyCheck::default()
            },
        ),
        ("backends/cpg", KeyCheck { keys: &["uri", "name_mode"], key_pattern: is_numbered_uri, ..KeyCheck::default() }),
        ("groups", KeyCheck { sections: &["group"], repeatable_sections: &["group"], ..KeyCheck::default() }),
    ];
    for (path, check) in &checks {
        if let Some(section) = tree.section(path) {
            check.run(ctx, section, path);
        }
    }
    if let Some(groups) = tree.section("groups") {
        let group_check =
            KeyCheck { keys: &["name", "ip", "uuid"], repeatable: &["ip", "uuid"], ..KeyCheck::default() };
        for group in groups.sections_named("group") {
            group_check.run(ctx, group, "groups/group");
        }
    }
}
