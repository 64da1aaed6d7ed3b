//! Resolving a haresources resource to a program on this machine, and the
//! command line and environment each kind of program is called with.
//!
//! Resolution happens at each call, so scripts installed after start-up
//! are found.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::ResourceError;
use crate::config::haresources::{IpSpec, Resource, ResourceKind};

/// Where resource programs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaPaths {
    /// Heartbeat's directory (`/etc/ha.d`); scripts are in `resource.d/`.
    pub ha_dir: PathBuf,
    /// LSB init scripts (`/etc/init.d`), searched second.
    pub initd_dir: PathBuf,
    /// `OCF_ROOT` (`/usr/lib/ocf`); agents are in `resource.d/PROVIDER/`.
    pub ocf_root: PathBuf,
}

impl Default for HaPaths {
    fn default() -> Self {
        HaPaths { ha_dir: "/etc/ha.d".into(), initd_dir: "/etc/init.d".into(), ocf_root: "/usr/lib/ocf".into() }
    }
}

impl HaPaths {
    /// `HA_DIR/resource.d`.
    pub fn resource_dir(&self) -> PathBuf {
        self.ha_dir.join("resource.d")
    }

    /// `OCF_ROOT/resource.d/PROVIDER/AGENT`.
    pub fn ocf_agent(&self, provider: &str, agent: &str) -> PathBuf {
        self.ocf_root.join("resource.d").join(provider).join(agent)
    }
}

/// A resource operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Start (idempotent).
    Start,
    /// Stop (idempotent; succeeds when already stopped).
    Stop,
    /// Status; OCF agents get `monitor`.
    Status,
}

impl Operation {
    /// The word passed to scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Stop => "stop",
            Operation::Status => "status",
        }
    }

    /// The OCF action.
    fn ocf_action(self) -> &'static str {
        match self {
            Operation::Status => "monitor",
            op => op.as_str(),
        }
    }
}

/// A resource resolved to a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// A heartbeat-style script from `resource.d`: `PATH args… OP`; status
    /// by the v1 text rule.
    Heartbeat { path: PathBuf, args: Vec<String> },
    /// An init script: `PATH args… OP`; status by LSB exit code.
    Lsb { path: PathBuf, args: Vec<String> },
    /// An OCF agent: `PATH ACTION`, parameters in `OCF_RESKEY_*`.
    Ocf { path: PathBuf, provider: String, agent: String, params: Vec<(String, String)>, instance: String },
}

impl Agent {
    /// The program.
    pub fn path(&self) -> &Path {
        match self {
            Agent::Heartbeat { path, .. } | Agent::Lsb { path, .. } | Agent::Ocf { path, .. } => path,
        }
    }

    /// The command line as logged: `PATH args… OP`.
    pub fn command_line(&self, op: Operation) -> String {
        match self {
            Agent::Heartbeat { path, args } | Agent::Lsb { path, args } => {
                let mut line = path.display().to_string();
                for arg in args {
                    line.push(' ');
                    line.push_str(arg);
                }
                format!("{line} {}", op.as_str())
            }
            Agent::Ocf { path, .. } => format!("{} {}", path.display(), op.ocf_action()),
        }
    }

    /// The command to run for `op` (without stdio setup).
    pub(super) fn command(&self, op: Operation, paths: &HaPaths, timeout: Duration) -> Command {
        let mut command = Command::new(self.path());
        command.env("OCF_ROOT", &paths.ocf_root).env("HA_DIR", &paths.ha_dir);
        match self {
            Agent::Heartbeat { args, .. } | Agent::Lsb { args, .. } => {
                command.args(args).arg(op.as_str());
            }
            Agent::Ocf { provider, agent, params, instance, .. } => {
                command
                    .arg(op.ocf_action())
                    .env("OCF_RA_VERSION_MAJOR", "1")
                    .env("OCF_RA_VERSION_MINOR", "0")
                    .env("OCF_RESOURCE_INSTANCE", instance)
                    .env("OCF_RESOURCE_TYPE", agent)
                    .env("OCF_RESOURCE_PROVIDER", provider)
                    .env("OCF_RESKEY_CRM_meta_timeout", timeout.as_millis().to_string());
                if op == Operation::Status {
                    command.env("OCF_RESKEY_CRM_meta_interval", "0");
                }
                for (key, value) in params {
                    command.env(format!("OCF_RESKEY_{key}"), value);
                }
            }
        }
        command
    }
}

/// Finds the program for `resource`.
///
/// Scripts: `HA_DIR/resource.d/NAME`, then `INITD/NAME`; the first regular
/// executable file wins. A bare IP address runs the `IPaddr` script when
/// one is installed, else the OCF agent `heartbeat/IPaddr2`.
pub fn resolve(resource: &Resource, paths: &HaPaths) -> Result<Agent, ResourceError> {
    match &resource.kind {
        ResourceKind::Script { name, args } => find_script(name, args.clone(), paths),
        ResourceKind::Ocf { provider, agent, params } => ocf(provider, agent, params.clone(), paths),
        ResourceKind::IpAddr(spec) => match find_script("IPaddr", vec![resource.token.clone()], paths) {
            Ok(agent) => Ok(agent),
            Err(ResourceError::NotFound { .. }) => {
                ocf("heartbeat", "IPaddr2", ipaddr2_params(spec), paths).map_err(|_| ResourceError::NotFound {
                    name: "IPaddr".into(),
                    searched: vec![
                        paths.resource_dir().join("IPaddr"),
                        paths.initd_dir.join("IPaddr"),
                        paths.ocf_agent("heartbeat", "IPaddr2"),
                    ],
                })
            }
            Err(e) => Err(e),
        },
    }
}

fn find_script(name: &str, args: Vec<String>, paths: &HaPaths) -> Result<Agent, ResourceError> {
    let heartbeat = paths.resource_dir().join(name);
    if is_executable(&heartbeat) {
        return Ok(Agent::Heartbeat { path: heartbeat, args });
    }
    let lsb = paths.initd_dir.join(name);
    if is_executable(&lsb) {
        return Ok(Agent::Lsb { path: lsb, args });
    }
    Err(ResourceError::NotFound { name: name.to_string(), searched: vec![heartbeat, lsb] })
}

fn ocf(provider: &str, agent: &str, params: Vec<(String, String)>, paths: &HaPaths) -> Result<Agent, ResourceError> {
    let path = paths.ocf_agent(provider, agent);
    if !is_executable(&path) {
        return Err(ResourceError::NotFound { name: format!("ocf:{provider}:{agent}"), searched: vec![path] });
    }
    let instance = instance_name(agent, params.first().map(|(_, v)| v.as_str()));
    Ok(Agent::Ocf { path, provider: provider.to_string(), agent: agent.to_string(), params, instance })
}

/// `ip`, `cidr_netmask`, `nic`, `label`, `broadcast` for IPaddr2.
fn ipaddr2_params(spec: &IpSpec) -> Vec<(String, String)> {
    let mut params = vec![("ip".to_string(), spec.ip.to_string())];
    if let Some(bits) = spec.bits {
        params.push(("cidr_netmask".into(), bits.to_string()));
    }
    if let Some(nic) = &spec.nic {
        params.push(("nic".into(), nic.clone()));
    }
    if let Some(label) = &spec.label {
        params.push(("label".into(), label.clone()));
    }
    if let Some(broadcast) = spec.broadcast {
        params.push(("broadcast".into(), broadcast.to_string()));
    }
    params
}

/// `TYPE_firstvalue` as the v1 wrappers name instances (`IPaddr2_10.0.0.5`),
/// limited to characters safe in file names.
fn instance_name(agent: &str, first_value: Option<&str>) -> String {
    let raw = match first_value {
        Some(v) => format!("{agent}_{v}"),
        None => agent.to_string(),
    };
    raw.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect()
}

/// A regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn fixture() -> (tempfile::TempDir, HaPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = HaPaths {
            ha_dir: dir.path().join("ha.d"),
            initd_dir: dir.path().join("init.d"),
            ocf_root: dir.path().join("ocf"),
        };
        (dir, paths)
    }

    fn resource(token: &str) -> Resource {
        let text = format!("alpha {token}\n");
        let (r, _) = crate::config::haresources::HaResources::parse(Path::new("hr"), &text, &["alpha".into()]).unwrap();
        r.groups[0].resources[0].clone()
    }

    #[test]
    fn resource_d_is_searched_before_init_d() {
        let (_d, paths) = fixture();
        write(&paths.initd_dir.join("httpd"), 0o755);
        assert_eq!(
            resolve(&resource("httpd"), &paths).unwrap(),
            Agent::Lsb { path: paths.initd_dir.join("httpd"), args: vec![] }
        );
        write(&paths.resource_dir().join("httpd"), 0o755);
        assert_eq!(
            resolve(&resource("httpd"), &paths).unwrap(),
            Agent::Heartbeat { path: paths.resource_dir().join("httpd"), args: vec![] }
        );
    }

    #[test]
    fn non_executable_files_and_directories_are_skipped() {
        let (_d, paths) = fixture();
        write(&paths.resource_dir().join("nfs"), 0o644);
        std::fs::create_dir_all(paths.initd_dir.join("nfs")).unwrap();
        let err = resolve(&resource("nfs"), &paths).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Cannot locate resource script nfs (looked for {}, {})",
                paths.resource_dir().join("nfs").display(),
                paths.initd_dir.join("nfs").display()
            )
        );
    }

    #[test]
    fn command_lines_put_arguments_before_the_operation() {
        let agent = Agent::Heartbeat {
            path: "/etc/ha.d/resource.d/Filesystem".into(),
            args: vec!["/dev/sdb1".into(), "/data".into()],
        };
        assert_eq!(agent.command_line(Operation::Start), "/etc/ha.d/resource.d/Filesystem /dev/sdb1 /data start");
        let ocf = Agent::Ocf {
            path: "/usr/lib/ocf/resource.d/heartbeat/IPaddr2".into(),
            provider: "heartbeat".into(),
            agent: "IPaddr2".into(),
            params: vec![],
            instance: "IPaddr2".into(),
        };
        assert_eq!(ocf.command_line(Operation::Status), "/usr/lib/ocf/resource.d/heartbeat/IPaddr2 monitor");
    }

    #[test]
    fn bare_ip_uses_the_ipaddr_script_when_installed() {
        let (_d, paths) = fixture();
        write(&paths.resource_dir().join("IPaddr"), 0o755);
        write(&paths.ocf_agent("heartbeat", "IPaddr2"), 0o755);
        assert_eq!(
            resolve(&resource("10.0.0.5/24/eth0"), &paths).unwrap(),
            Agent::Heartbeat { path: paths.resource_dir().join("IPaddr"), args: vec!["10.0.0.5/24/eth0".into()] }
        );
    }

    #[test]
    fn bare_ip_falls_back_to_the_ocf_ipaddr2_agent() {
        let (_d, paths) = fixture();
        write(&paths.ocf_agent("heartbeat", "IPaddr2"), 0o755);
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            resolve(&resource("10.0.0.5/24/eth0:web/10.0.0.255"), &paths).unwrap(),
            Agent::Ocf {
                path: paths.ocf_agent("heartbeat", "IPaddr2"),
                provider: "heartbeat".into(),
                agent: "IPaddr2".into(),
                params: vec![
                    p("ip", "10.0.0.5"),
                    p("cidr_netmask", "24"),
                    p("nic", "eth0"),
                    p("label", "web"),
                    p("broadcast", "10.0.0.255")
                ],
                instance: "IPaddr2_10.0.0.5".into(),
            }
        );
        let Agent::Ocf { params, .. } = resolve(&resource("10.0.0.6"), &paths).unwrap() else { panic!() };
        assert_eq!(params, [p("ip", "10.0.0.6")]);
    }

    #[test]
    fn bare_ip_with_nothing_installed_names_every_place_looked() {
        let (_d, paths) = fixture();
        let err = resolve(&resource("10.0.0.5"), &paths).unwrap_err().to_string();
        assert!(err.starts_with("Cannot locate resource script IPaddr (looked for "), "{err}");
        assert!(err.contains("resource.d/heartbeat/IPaddr2"), "{err}");
    }

    #[test]
    fn ocf_agents_resolve_under_ocf_root() {
        let (_d, paths) = fixture();
        let err = resolve(&resource("ocf:pacemaker:Dummy"), &paths).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Cannot locate resource script ocf:pacemaker:Dummy (looked for {})",
                paths.ocf_agent("pacemaker", "Dummy").display()
            )
        );
        write(&paths.ocf_agent("pacemaker", "Dummy"), 0o755);
        let Agent::Ocf { instance, .. } = resolve(&resource("ocf:pacemaker:Dummy::state=/run/x"), &paths).unwrap()
        else {
            panic!()
        };
        assert_eq!(instance, "Dummy__run_x");
    }
}
