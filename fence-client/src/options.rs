//! Agent options: defaults, command-line parsing (clap) and stdin
//! `key=value` parsing driven by the parameter table, the checks of
//! combinations, and the transport the complete options select.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, Command};
use keys::HashAlgorithm;
use protocol::defaults;

use crate::params::{params_for, stdin_param, Arity, ParamId, Personality};
use crate::transport::multicast::MulticastTarget;
use crate::transport::Transport;
use crate::values;

/// What the agent is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `null`
    Null,
    /// `off`
    Off,
    /// `on`
    On,
    /// `reboot` (default)
    Reboot,
    /// `status`
    Status,
    /// `monitor`
    Monitor,
    /// `list`
    List,
    /// `list-status`
    ListStatus,
    /// `metadata` (local)
    Metadata,
    /// `validate-all` (local)
    ValidateAll,
}

impl Action {
    /// Reads an action name in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "null" => Self::Null,
            "off" => Self::Off,
            "on" => Self::On,
            "reboot" => Self::Reboot,
            "status" => Self::Status,
            "monitor" => Self::Monitor,
            "list" => Self::List,
            "list-status" => Self::ListStatus,
            "metadata" => Self::Metadata,
            "validate-all" => Self::ValidateAll,
            _ => return None,
        })
    }

    /// Whether the action needs a target domain.
    pub fn needs_domain(self) -> bool {
        matches!(self, Self::Null | Self::Off | Self::On | Self::Reboot | Self::Status | Self::ValidateAll)
    }

    /// Whether `delay` applies before contacting the daemon.
    pub fn is_delayed(self) -> bool {
        matches!(self, Self::Null | Self::Off | Self::On | Self::Reboot)
    }
}

/// Address family for multicast mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Inferred from the multicast address (IPv4 unless it is an IPv6 address).
    Auto,
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// The fully parsed options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Program personality.
    pub personality: Personality,
    /// Debug level.
    pub debug: u32,
    /// `-i`
    pub family: Family,
    /// `-a`
    pub multicast_address: Option<IpAddr>,
    /// `-T`: TCP mode target.
    pub ipaddr: Option<IpAddr>,
    /// `-S`: vsock mode CID.
    pub vsock_cid: Option<u32>,
    /// `-A`
    pub channel_address: String,
    /// `-p`
    pub port: u16,
    /// `-r`, tenths of a second.
    pub retrans: u32,
    /// `-c`
    pub hash: HashAlgorithm,
    /// `-C`
    pub auth: HashAlgorithm,
    /// `-k`
    pub key_file: PathBuf,
    /// `-D`
    pub serial_device: Option<String>,
    /// `-P`
    pub serial_params: String,
    /// `-o`
    pub action: Action,
    /// `-n` / `-H` / `domain=`
    pub domain: Option<String>,
    /// `-u`
    pub use_uuid: bool,
    /// `-t`, seconds.
    pub timeout: u32,
    /// `-w`, seconds.
    pub delay: u32,
    /// `-h`
    pub help: bool,
    /// `-V`
    pub version: bool,
}

/// A bad option or value: one line, naming the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, OptionError> {
    Err(OptionError(msg.into()))
}

impl Options {
    /// The defaults of the original.
    pub fn defaults(personality: Personality) -> Self {
        Options {
            personality,
            debug: 0,
            family: Family::Auto,
            multicast_address: None,
            ipaddr: None,
            vsock_cid: None,
            channel_address: defaults::VMCHANNEL_ADDRESS.to_string(),
            port: defaults::PORT,
            retrans: 20,
            hash: HashAlgorithm::Sha256,
            auth: HashAlgorithm::Sha256,
            key_file: PathBuf::from(defaults::KEY_FILE),
            serial_device: None,
            serial_params: "115200,8N1".to_string(),
            action: Action::Reboot,
            domain: None,
            use_uuid: false,
            timeout: 30,
            delay: 0,
            help: false,
            version: false,
        }
    }

    /// Applies one parameter. `value` is `None` for a flag (and for a stdin
    /// key without `=`, which only parameters whose [`Arity`] allows it get).
    pub fn set(&mut self, id: ParamId, value: Option<&str>) -> Result<(), OptionError> {
        let text = value.unwrap_or("");
        match id {
            ParamId::Debug => self.debug = values::debug(self.debug, value)?,
            ParamId::IpFamily => self.family = values::family(text)?,
            ParamId::MulticastAddress => self.multicast_address = Some(values::multicast_address(text)?),
            ParamId::IpAddr => self.ipaddr = Some(values::ip_address(text)?),
            ParamId::Vsock => self.vsock_cid = Some(values::vsock_cid(value)?),
            ParamId::ChannelAddress => self.channel_address = values::channel_address(text)?,
            ParamId::IpPort => self.port = values::port(text)?,
            ParamId::Retrans => self.retrans = values::retrans(text)?,
            ParamId::Hash => self.hash = values::algorithm(text, "hash")?,
            ParamId::Auth => self.auth = values::algorithm(text, "auth")?,
            ParamId::KeyFile => self.key_file = values::key_file(text)?,
            ParamId::SerialDevice => self.serial_device = Some(text.to_string()),
            ParamId::SerialParams => self.serial_params = text.to_string(),
            ParamId::Action => self.action = values::action(text)?,
            ParamId::Plug | ParamId::Port | ParamId::Domain => {
                let domain = values::domain(text)?;
                if self.domain.is_some() {
                    return err("Domain/UUID may not be specified more than once");
                }
                self.domain = Some(domain);
            }
            ParamId::UseUuid => self.use_uuid = values::use_uuid(value)?,
            ParamId::Timeout => self.timeout = values::timeout(text)?,
            ParamId::Delay => self.delay = values::delay(text)?,
        }
        Ok(())
    }

    /// The clap command of one personality, built from the parameter table.
    fn command(personality: Personality, program: &str) -> Command {
        let mut cmd = Command::new("fence_agent")
            .bin_name(program.to_string())
            .no_binary_name(true)
            .disable_help_flag(true)
            .disable_version_flag(true)
            .arg(Arg::new("help").short('h').short_alias('?').action(ArgAction::SetTrue))
            .arg(Arg::new("version").short('V').action(ArgAction::SetTrue));
        for param in params_for(personality) {
            let Some(letter) = param.letter else { continue };
            let arg = Arg::new(param.name).short(letter);
            cmd = cmd.arg(match param.arity {
                Arity::Count => arg.action(ArgAction::Count),
                Arity::Flag => arg.action(ArgAction::SetTrue),
                Arity::OptionalValue => arg.num_args(0..=1).default_missing_value("").action(ArgAction::Set),
                Arity::Value => arg.num_args(1).action(ArgAction::Append),
            });
        }
        cmd
    }

    /// Parses command-line arguments (without the program name).
    pub fn from_args(personality: Personality, program: &str, args: &[String]) -> Result<Self, OptionError> {
        let matches = Self::command(personality, program).try_get_matches_from(args).map_err(|e| {
            let text = e.render().to_string();
            OptionError(text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_string())
        })?;
        let mut opts = Options::defaults(personality);
        opts.help = matches.get_flag("help");
        opts.version = matches.get_flag("version");
        for param in params_for(personality).filter(|p| p.letter.is_some()) {
            match param.arity {
                Arity::Count => {
                    for _ in 0..matches.get_count(param.name) {
                        opts.set(param.id, None)?;
                    }
                }
                Arity::Flag => {
                    if matches.get_flag(param.name) {
                        opts.set(param.id, None)?;
                    }
                }
                Arity::OptionalValue | Arity::Value => {
                    for value in matches.get_many::<String>(param.name).into_iter().flatten() {
                        opts.set(param.id, Some(value))?;
                    }
                }
            }
        }
        Ok(opts)
    }

    /// Parses `key=value` lines as Pacemaker sends them on stdin. Spaces
    /// around `=` and at line ends are trimmed; `#` lines and blank lines
    /// are skipped; the last duplicate wins (except a second target, which is
    /// an error as in the original). Unknown keys are reported through
    /// `warn` and ignored.
    pub fn from_stdin_text(
        personality: Personality,
        text: &str,
        warn: &mut dyn FnMut(String),
    ) -> Result<Self, OptionError> {
        let mut opts = Options::defaults(personality);
        let mut target_key: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (line, None),
            };
            if ["agent", "self", "nodename"].iter().any(|k| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let Some(id) = stdin_param(personality, key) else {
                warn(format!("Parse error: Ignoring unknown option '{key}'"));
                continue;
            };
            if id.is_target() {
                if let Some(first) = &target_key {
                    if value.is_some_and(|v| opts.domain.as_deref() == Some(v)) {
                        continue;
                    }
                    return err(format!("stdin line {}: domain already given by '{first}'", index + 1));
                }
                target_key = Some(key.to_string());
            }
            if value.is_none() && !id.param().arity.value_optional() {
                return err(format!("stdin line {}: '{key}' needs a value ({key}=...)", index + 1));
            }
            opts.set(id, value).map_err(|e| OptionError(format!("stdin line {}: {}", index + 1, e.0)))?;
        }
        Ok(opts)
    }

    /// Resolved multicast family.
    pub fn resolved_family(&self) -> Family {
        match (self.family, self.multicast_address) {
            (Family::Auto, Some(IpAddr::V6(_))) => Family::V6,
            (Family::Auto, _) => Family::V4,
            (f, _) => f,
        }
    }

    /// Resolved multicast group.
    pub fn group(&self) -> IpAddr {
        match (self.multicast_address, self.resolved_family()) {
            (Some(a), _) => a,
            (None, Family::V6) => IpAddr::V6(defaults::IPV6_GROUP),
            (None, _) => IpAddr::V4(defaults::IPV4_GROUP),
        }
    }

    /// Checks combinations after all values are in: a target for actions
    /// that need one, and a family that matches the group.
    pub fn validate(&self) -> Result<(), OptionError> {
        if self.action.needs_domain() && self.domain.is_none() {
            return err("No domain specified!");
        }
        match (self.resolved_family(), self.group()) {
            (Family::V4, IpAddr::V6(_)) | (Family::V6, IpAddr::V4(_)) => {
                err(format!("Multicast address {} does not match the address family", self.group()))
            }
            _ => Ok(()),
        }
    }

    /// The transport the complete options select, chosen once: fence_xvm
    /// always multicasts; fence_virt uses vsock with `-S`, else TCP with
    /// `-T`, else serial (`-D`) or VMChannel.
    pub fn transport(&self) -> Transport {
        match self.personality {
            Personality::Xvm => Transport::Multicast(MulticastTarget {
                group: self.group(),
                port: self.port,
                retrans: Duration::from_millis(u64::from(self.retrans) * 100),
            }),
            Personality::Virt => match (self.vsock_cid, self.ipaddr) {
                (Some(cid), _) => Transport::Vsock { cid, port: self.port },
                (None, Some(address)) => Transport::Tcp { address, port: self.port },
                (None, None) => match &self.serial_device {
                    Some(device) => Transport::Serial { device: device.clone(), params: self.serial_params.clone() },
                    None => Transport::VmChannel { address: self.channel_address.clone(), port: self.port },
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn stdin(text: &str) -> Result<Options, OptionError> {
        Options::from_stdin_text(Personality::Xvm, text, &mut |_| {})
    }

    #[test]
    fn defaults_match_the_original() {
        let o = Options::defaults(Personality::Xvm);
        assert_eq!((o.port, o.retrans, o.timeout, o.delay), (1229, 20, 30, 0));
        assert_eq!(o.action, Action::Reboot);
        assert_eq!(o.group(), "225.0.0.12".parse::<IpAddr>().unwrap());
        assert_eq!(o.key_file, PathBuf::from("/etc/cluster/fence_xvm.key"));
    }

    #[test]
    fn command_line_letters() {
        let o = Options::from_args(
            Personality::Xvm,
            "fence_xvm",
            &args(&["-dd", "-o", "STATUS", "-H", "vm1", "-t5", "-c", "sha512", "-u"]),
        )
        .unwrap();
        assert_eq!(o.debug, 2);
        assert_eq!(o.action, Action::Status);
        assert_eq!(o.domain.as_deref(), Some("vm1"));
        assert_eq!(o.timeout, 5);
        assert_eq!(o.hash, HashAlgorithm::Sha512);
        assert!(o.use_uuid);
        let o = Options::from_args(Personality::Xvm, "fence_xvm", &args(&["-p", "0x4cd", "-a", "ff05::3:1"])).unwrap();
        assert_eq!(o.port, 1229);
        assert_eq!(o.resolved_family(), Family::V6);
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let bad = |a: &[&str]| Options::from_args(Personality::Xvm, "fence_xvm", &args(a)).unwrap_err().0;
        assert_eq!(bad(&["-o", "explode"]), "Unsupported operation: explode");
        assert!(bad(&["-t", "abc"]).contains("Invalid timeout 'abc'"));
        assert!(bad(&["-c", "md5"]).contains("Invalid hash type 'md5'"));
        assert!(bad(&["-p", "70000"]).contains("Invalid port"));
        assert!(bad(&["-r", "0"]).contains("Invalid retransmit"));
        assert!(bad(&["-k", "/nonexistent/key"]).starts_with("Invalid key file: '/nonexistent/key'"));
        assert!(bad(&["-n", "a", "-H", "b"]).contains("more than once"));
        assert!(bad(&["-T", "127.0.0.1"]).contains("-T"), "fence_xvm has no -T");
        assert!(bad(&["-M"]).contains("-M"));
        assert!(bad(&["-n", &"x".repeat(64)]).contains("Invalid domain name"));
        for e in [bad(&["-o", "explode"]), bad(&["-T", "1.2.3.4"])] {
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn fence_virt_letters_select_modes() {
        let o = Options::from_args(Personality::Virt, "fence_virt", &args(&["-T", "::1", "-o", "list"])).unwrap();
        assert_eq!(o.ipaddr, Some("::1".parse().unwrap()));
        let o = Options::from_args(Personality::Virt, "fence_virt", &args(&["-S3", "-o", "list"])).unwrap();
        assert_eq!(o.vsock_cid, Some(3));
        let o = Options::from_args(Personality::Virt, "fence_virt", &args(&["-S", "-o", "list"])).unwrap();
        assert_eq!(o.vsock_cid, Some(2));
        assert!(Options::from_args(Personality::Virt, "fence_virt", &args(&["-S1"])).is_err());
    }

    #[test]
    fn stdin_trims_spaces_instead_of_losing_the_value() {
        let o = stdin("action = off\nport = vm1 \n").unwrap();
        assert_eq!(o.action, Action::Off, "the original silently turned this into a reboot");
        assert_eq!(o.domain.as_deref(), Some("vm1"));
    }

    #[test]
    fn stdin_pacemaker_style() {
        let o =
            stdin("# comment\n\naction=status\nplug=vm1\nnodename=guest1\nagent=fence_xvm\nACTION=monitor\n").unwrap();
        assert_eq!(o.action, Action::Monitor, "last duplicate wins");
        assert_eq!(o.domain.as_deref(), Some("vm1"));
        let o = stdin("option=off\ndomain=vm2\nuse_uuid\ndebug\ndebug=3\n").unwrap();
        assert_eq!((o.action, o.use_uuid, o.debug), (Action::Off, true, 3));
        assert_eq!(o.domain.as_deref(), Some("vm2"));
    }

    #[test]
    fn stdin_reports_unknown_keys_and_bad_values() {
        let mut warnings = Vec::new();
        let o =
            Options::from_stdin_text(Personality::Xvm, "ipaddr=1.2.3.4\nfoo=bar\nport=vm\n", &mut |w| warnings.push(w))
                .unwrap();
        assert_eq!(o.domain.as_deref(), Some("vm"));
        assert_eq!(
            warnings,
            vec!["Parse error: Ignoring unknown option 'ipaddr'", "Parse error: Ignoring unknown option 'foo'"]
        );
        assert_eq!(stdin("timeout=x\n").unwrap_err().0, "stdin line 1: Invalid timeout 'x' (seconds, > 0)");
        assert!(stdin("port=\n").unwrap_err().0.contains("Invalid domain name"));
        assert!(stdin("port=a\nplug=b\n").unwrap_err().0.contains("domain already given"));
        assert!(stdin("port=a\nplug=a\n").is_ok(), "Pacemaker sends port and plug with the same value");
        assert!(stdin("action\n").unwrap_err().0.contains("needs a value"));
    }

    #[test]
    fn the_transport_follows_personality_and_options() {
        let virt = |a: &[&str]| Options::from_args(Personality::Virt, "fence_virt", &args(a)).unwrap().transport();
        assert_eq!(virt(&["-T", "::1", "-p", "1230"]), Transport::Tcp { address: "::1".parse().unwrap(), port: 1230 });
        assert_eq!(virt(&["-S", "-T", "::1"]), Transport::Vsock { cid: 2, port: 1229 }, "-S wins over -T");
        assert_eq!(
            virt(&["-D", "/dev/ttyS0"]),
            Transport::Serial { device: "/dev/ttyS0".into(), params: "115200,8N1".into() }
        );
        assert_eq!(virt(&[]), Transport::VmChannel { address: "10.0.2.179".into(), port: 1229 });
        let o = Options::from_args(Personality::Xvm, "fence_xvm", &args(&["-a", "ff05::3:1", "-r", "5"])).unwrap();
        let target =
            MulticastTarget { group: "ff05::3:1".parse().unwrap(), port: 1229, retrans: Duration::from_millis(500) };
        assert_eq!(o.transport(), Transport::Multicast(target));
        let o = Options::from_stdin_text(Personality::Virt, "vsock\n", &mut |_| {}).unwrap();
        assert_eq!(o.transport(), Transport::Vsock { cid: 2, port: 1229 });
    }

    #[test]
    fn advertised_defaults_are_the_parser_defaults() {
        let plain = format!("{:?}", Options::defaults(Personality::Xvm));
        let checked = [
            ParamId::IpFamily,
            ParamId::IpPort,
            ParamId::Retrans,
            ParamId::Auth,
            ParamId::Hash,
            ParamId::UseUuid,
            ParamId::Action,
            ParamId::Timeout,
            ParamId::Delay,
        ];
        for id in checked {
            let mut o = Options::defaults(Personality::Xvm);
            o.set(id, id.param().default).unwrap();
            assert_eq!(format!("{o:?}"), plain, "{} default {:?}", id.param().name, id.param().default);
        }
    }

    #[test]
    fn validation_requires_a_domain() {
        let mut o = Options::defaults(Personality::Xvm);
        assert_eq!(o.validate().unwrap_err().0, "No domain specified!");
        o.action = Action::List;
        assert!(o.validate().is_ok());
        o.family = Family::V6;
        o.multicast_address = Some("225.0.0.12".parse().unwrap());
        assert!(o.validate().is_err());
    }
}
