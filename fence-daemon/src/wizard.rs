//! `fence_virtd -c`: the interactive configuration wizard (spec §12).
//!
//! It asks the original's questions in the original's order with the same
//! prompts and explanations, takes defaults from the existing file when it
//! parses (built-in values otherwise), shows the result in the dump format
//! and, once confirmed, replaces the file atomically. An empty answer or
//! the end of input takes the default, so answers can be piped in.
//!
//! Differences from the original, all deliberate: the module search path is
//! still asked but only the built-in modules are listed; the TCP listen
//! address defaults to 127.0.0.1; a multicast address must be a multicast
//! group; port errors show what was typed; the serial listener's libvirt
//! URI is stored; a missing key file can be generated on the spot; values
//! containing `"` are refused (the format cannot write them).

use std::fs;
use std::io::{self, BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::config::{ConfigTree, TreeError};
use crate::registry::{self, PluginId, PluginKind};

const DEFAULT_LISTENER: PluginId = PluginId::Multicast;
const DEFAULT_BACKEND: PluginId = PluginId::Libvirt;
const DEFAULT_URI: &str = "qemu:///system";
const DEFAULT_MULTICAST_ADDRESS: &str = "225.0.0.12";
const DEFAULT_TCP_ADDRESS: &str = "127.0.0.1";

const LISTENER_INTRO: &str = "\nListener modules are responsible for accepting requests\nfrom fencing clients.\n\n";
const MULTICAST_INTRO: &str = "\nThe multicast listener module is designed for use environments\nwhere the guests and \
hosts may communicate over a network using\nmulticast.\n\nThe multicast address is the address that a client will \
use to\nsend fencing requests to fence_virtd.\n\n";
const TCP_INTRO: &str = "\nThe TCP listener module is designed for use in environments\nwhere the guests and hosts \
communicate over viosproxy.\n\nThe IP address is the address that a client will use to\nsend fencing requests to \
fence_virtd.\n\n";
const INTERFACE_INTRO: &str = "\nSetting a preferred interface causes fence_virtd to listen only\non that interface.  \
Normally, it listens on all interfaces.\nIn environments where the virtual machines are using the host\nmachine as a \
gateway, this *must* be set (typically to virbr0).\nSet to 'none' for no interface.\n\n";
const KEY_INTRO: &str = "\nThe key file is the shared key information which is used to\nauthenticate fencing \
requests.  The contents of this file must\nbe distributed to each physical host and virtual machine within\na \
cluster.\n\n";
const SERIAL_INTRO: &str = "\nThe serial plugin allows fence_virtd to communicate with\nguests using serial or \
guest-forwarding VMChannel instead\nof using TCP/IP networking.\n\nSpecial configuration of virtual machines is \
required. See\nfence_virt.conf(5) for more details.\n\n";
const SOCKET_INTRO: &str = "\nSetting a socket path prevents fence_virtd from taking\nhold of all Unix domain \
sockets created when the guest\nis started.  A value like /var/run/cluster/fence might\nbe a good value.  Don't \
forget to create the directory!\n\n";
const MODE_INTRO: &str = "\nThe serial plugin allows two types of guest to host\nconfigurations.  One is via a \
serial port; the other is\nutilizing the newer VMChannel.\n\n";
const BACKEND_INTRO: &str =
    "\nBackend modules are responsible for routing requests to\nthe appropriate hypervisor or management layer.\n\n";
const LIBVIRT_INTRO: &str = "\nThe libvirt backend module is designed for single desktops or\nservers.  Do not use in \
environments where virtual machines\nmay be migrated between hosts.\n\n";
const CPG_INTRO: &str = "\nThe CPG backend module is designed for use in clusters\nrunning corosync and libvirt. It \
utilizes the CPG API to \nroute fencing requests, finally utilizing libvirt to perform\nfencing actions.\n\n";
const NAME_MODE_INTRO: &str = "\nThe name mode is how the cpg plugin stores and \nreferences virtual machines.  Since \
virtual machine names\nare not guaranteed to be unique cluster-wide, use of UUIDs\nis strongly recommended.  \
However, for compatibility with \nfence_xvmd, the use of 'name' mode is also supported.\n\n";
const NAME_MODE_WARNING: &str = "This can be dangerous if you do not take care toensure that\nvirtual machine names \
are unique cluster-wide.\n";

/// Why the wizard stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    /// Reading answers or writing prompts failed.
    #[error("wizard input/output failed: {0}")]
    Io(#[from] io::Error),
    /// The input ended while a question still had no acceptable answer
    /// (e.g. the default itself is invalid); nothing was written.
    #[error("input ended without an acceptable answer to \"{0}\"; nothing was written")]
    InputEnded(String),
    /// A value could not be stored in the configuration tree.
    #[error("{0}")]
    Tree(#[from] TreeError),
    /// The configuration file could not be replaced.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The configuration file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// The compiled-in module path of Debian's fence_virtd, offered as the
/// default answer to "Module search path" (only written back to the file).
pub fn default_module_path() -> String {
    format!("/usr/lib/{}-linux-gnu/fence-virt/", std::env::consts::ARCH)
}

/// Runs the wizard on `path`, reading answers from `input` and writing
/// prompts to `output`. Returns the exit status: 0 when the file was
/// written, 1 when the user declined (start from scratch or replace).
pub fn run(path: &Path, input: &mut dyn BufRead, output: &mut dyn Write) -> Result<i32, WizardError> {
    let mut p = Prompter { input, output, at_eof: false };
    let mut tree = match ConfigTree::load(path) {
        Ok(tree) => tree,
        Err(e) => {
            if !e.is_not_found() {
                p.say(&format!("{e}\n"))?;
            }
            p.say(&format!("Parsing of {} failed.\n", path.display()))?;
            if !p.yes_no("Start from scratch", false)? {
                return Ok(1);
            }
            ConfigTree::new()
        }
    };
    let mut w = Wizard { p, tree: &mut tree };
    w.module_path()?;
    let listener = w.module(PluginKind::Listener, "Listener module", LISTENER_INTRO, DEFAULT_LISTENER)?;
    match registry::find(PluginKind::Listener, &listener).map(|p| p.id) {
        Some(PluginId::Multicast) => w.multicast()?,
        Some(PluginId::Tcp) => w.tcp()?,
        Some(PluginId::Serial) => w.serial()?,
        _ => w.p.say(&format!("Unable to configure unknown listner module '{listener}'\n"))?,
    }
    let backend = w.module(PluginKind::Backend, "Backend module", BACKEND_INTRO, DEFAULT_BACKEND)?;
    match registry::find(PluginKind::Backend, &backend).map(|p| p.id) {
        Some(PluginId::Libvirt) => w.libvirt()?,
        Some(PluginId::Cpg) => w.cpg()?,
        _ => {}
    }
    let dump = w.tree.dump();
    w.p.say("\nConfiguration complete.\n\n=== Begin Configuration ===\n")?;
    w.p.say(&dump)?;
    w.p.say("=== End Configuration ===\n")?;
    if !w.p.yes_no(&format!("Replace {} with the above", path.display()), false)? {
        return Ok(1);
    }
    plumbing::fs::write_atomic(path, dump.as_bytes(), 0o600)
        .map_err(|source| WizardError::Write { path: path.to_path_buf(), source })?;
    Ok(0)
}

/// Question/answer plumbing.
struct Prompter<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
    at_eof: bool,
}

impl Prompter<'_> {
    fn say(&mut self, text: &str) -> io::Result<()> {
        self.output.write_all(text.as_bytes())?;
        self.output.flush()
    }

    /// One line of input without surrounding whitespace; `None` at the end.
    fn read_answer(&mut self) -> io::Result<Option<String>> {
        if self.at_eof {
            return Ok(None);
        }
        let mut line = Vec::new();
        if self.input.read_until(b'\n', &mut line)? == 0 {
            self.at_eof = true;
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&line).trim().to_string()))
    }

    /// Called before asking a question again: at the end of input the same
    /// (default) answer would be rejected forever.
    fn again(&self, question: &str) -> Result<(), WizardError> {
        if self.at_eof {
            Err(WizardError::InputEnded(question.to_string()))
        } else {
            Ok(())
        }
    }

    /// `Question [default]: `; empty answer or end of input → default.
    fn text(&mut self, question: &str, default: &str) -> Result<String, WizardError> {
        loop {
            self.say(&format!("{question} [{default}]: "))?;
            let answer = match self.read_answer()? {
                Some(a) if !a.is_empty() => a,
                _ => default.to_string(),
            };
            if !answer.contains('"') {
                return Ok(answer);
            }
            self.say("Values may not contain '\"'.\n")?;
            self.again(question)?;
        }
    }

    /// `Question [Y/n]? ` or `[y/N]? `; the first character decides,
    /// anything else or end of input → default.
    fn yes_no(&mut self, question: &str, default_yes: bool) -> Result<bool, WizardError> {
        self.say(&format!("{question} {}? ", if default_yes { "[Y/n]" } else { "[y/N]" }))?;
        let answer = self.read_answer()?.unwrap_or_default();
        Ok(match answer.chars().next() {
            Some('y' | 'Y') => true,
            Some('n' | 'N') => false,
            _ => default_yes,
        })
    }
}

/// The questions, editing one tree.
struct Wizard<'a, 'p> {
    p: Prompter<'p>,
    tree: &'a mut ConfigTree,
}

impl Wizard<'_, '_> {
    /// Current value at `path`, or `default`.
    fn current(&self, path: &str, default: &str) -> String {
        self.tree.get(path).unwrap_or(default).to_string()
    }

    fn module_path(&mut self) -> Result<(), WizardError> {
        let default = self.current("fence_virtd/module_path", &default_module_path());
        let answer = self.p.text("Module search path", &default)?;
        self.tree.set("fence_virtd/module_path", &answer)?;
        let mut list = String::from("\nAvailable backends:\n");
        for plugin in registry::implemented(PluginKind::Backend) {
            list.push_str(&format!("    {} {}\n", plugin.name, plugin.version));
        }
        list.push_str("Available listeners:\n");
        for plugin in registry::implemented(PluginKind::Listener) {
            list.push_str(&format!("    {} {}\n", plugin.name, plugin.version));
        }
        self.p.say(&list)?;
        Ok(())
    }

    /// Listener or backend choice; a name that is not an implemented
    /// plugin needs confirmation.
    fn module(
        &mut self,
        kind: PluginKind,
        question: &str,
        intro: &str,
        default: PluginId,
    ) -> Result<String, WizardError> {
        self.p.say(intro)?;
        let path = format!("fence_virtd/{}", kind.as_str());
        let default = self.current(&path, default.name());
        let answer = loop {
            let answer = self.p.text(question, &default)?;
            if registry::find(kind, &answer).is_some_and(|p| p.implemented) {
                break answer;
            }
            self.p.say(&format!("No {} module named {answer} found!\n", kind.as_str()))?;
            if self.p.yes_no("Use this value anyway", false)? {
                break answer;
            }
            self.p.again(question)?;
        };
        self.tree.set(&path, &answer)?;
        Ok(answer)
    }

    /// Address question; writes `family` then `address`.
    fn address(&mut self, section: &str, question: &str, default: &str, multicast: bool) -> Result<(), WizardError> {
        let default = self.current(&format!("{section}/address"), default);
        loop {
            let answer = self.p.text(question, &default)?;
            match answer.parse::<IpAddr>() {
                Ok(ip) if multicast && !ip.is_multicast() => {
                    self.p.say(&format!("'{answer}' is not a multicast address!\n"))?;
                }
                Ok(ip) => {
                    let family = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
                    self.p.say(&format!("\nUsing {family} as family.\n\n"))?;
                    self.tree.set(&format!("{section}/family"), family)?;
                    self.tree.set(&format!("{section}/address"), &answer)?;
                    return Ok(());
                }
                Err(_) => self.p.say(&format!("'{answer}' is not a valid IP address!\n"))?,
            }
            self.p.again(question)?;
        }
    }

    fn port(&mut self, section: &str, question: &str) -> Result<(), WizardError> {
        let path = format!("{section}/port");
        let default = self.current(&path, &protocol::defaults::PORT.to_string());
        loop {
            let answer = self.p.text(question, &default)?;
            match answer.parse::<u16>() {
                Ok(port) if port != 0 => return Ok(self.tree.set(&path, &port.to_string())?),
                _ => self.p.say(&format!("Port value '{answer}' is out of range\n"))?,
            }
            self.p.again(question)?;
        }
    }

    /// Free text where `none` removes the key.
    fn optional(&mut self, path: &str, question: &str) -> Result<(), WizardError> {
        let default = self.current(path, "none");
        let answer = self.p.text(question, &default)?;
        if answer.eq_ignore_ascii_case("none") {
            self.tree.remove(path);
        } else {
            self.tree.set(path, &answer)?;
        }
        Ok(())
    }

    fn key_file(&mut self, section: &str) -> Result<(), WizardError> {
        self.p.say(KEY_INTRO)?;
        let path = format!("{section}/key_file");
        let default = self.current(&path, keys::DEFAULT_KEY_FILE);
        let answer = loop {
            let answer = self.p.text("Key File", &default)?;
            if answer.eq_ignore_ascii_case("none") {
                self.tree.remove(&path);
                return Ok(());
            }
            if answer.starts_with('/') {
                break answer;
            }
            self.p.say(&format!("Invalid key file: {answer}\n"))?;
            if self.p.yes_no("Use anyway", true)? {
                break answer;
            }
            self.p.again("Key File")?;
        };
        self.offer_key_generation(Path::new(&answer))?;
        self.tree.set(&path, &answer)?;
        Ok(())
    }

    /// Our addition: create a missing key file right away.
    fn offer_key_generation(&mut self, key: &Path) -> Result<(), WizardError> {
        if fs::symlink_metadata(key).is_ok() {
            return Ok(());
        }
        let question = format!("Key file {} does not exist. Generate it now", key.display());
        if self.p.yes_no(&question, true)? {
            match keys::generate_key_file(key, keys::DEFAULT_GENERATED_KEY_LEN, false) {
                Ok(k) => self.p.say(&format!("Wrote a {}-byte random key to {}.\n", k.len(), key.display()))?,
                Err(e) => self.p.say(&format!("Could not generate the key: {e}\n"))?,
            }
        }
        Ok(())
    }

    fn multicast(&mut self) -> Result<(), WizardError> {
        const SECTION: &str = "listeners/multicast";
        self.p.say(MULTICAST_INTRO)?;
        self.address(SECTION, "Multicast IP Address", DEFAULT_MULTICAST_ADDRESS, true)?;
        self.port(SECTION, "Multicast IP Port")?;
        self.p.say(INTERFACE_INTRO)?;
        self.optional(&format!("{SECTION}/interface"), "Interface")?;
        self.key_file(SECTION)
    }

    fn tcp(&mut self) -> Result<(), WizardError> {
        const SECTION: &str = "listeners/tcp";
        self.p.say(TCP_INTRO)?;
        self.address(SECTION, "TCP Listen IP Address", DEFAULT_TCP_ADDRESS, false)?;
        self.port(SECTION, "TCP Listen Port")?;
        self.key_file(SECTION)
    }

    fn serial(&mut self) -> Result<(), WizardError> {
        self.p.say(SERIAL_INTRO)?;
        let default = self.current("listeners/serial/uri", DEFAULT_URI);
        let uri = self.p.text("Libvirt URI", &default)?;
        // The original discarded this answer; we keep it.
        self.tree.set("listeners/serial/uri", &uri)?;
        self.p.say(SOCKET_INTRO)?;
        self.optional("listeners/serial/path", "Socket directory")?;
        self.p.say(MODE_INTRO)?;
        let question = "Mode (serial or vmchannel)";
        let default = self.current("listeners/serial/mode", "serial");
        let mode = loop {
            let mode = self.p.text(question, &default)?;
            if mode.eq_ignore_ascii_case("serial") || mode.eq_ignore_ascii_case("vmchannel") {
                break mode;
            }
            self.p.say(&format!("Invalid mode: {mode}\n"))?;
            if self.p.yes_no("Use anyway", true)? {
                break mode;
            }
            self.p.again(question)?;
        };
        Ok(self.tree.set("listeners/serial/mode", &mode)?)
    }

    fn libvirt(&mut self) -> Result<(), WizardError> {
        self.p.say(LIBVIRT_INTRO)?;
        let default = self.current("backends/libvirt/uri", DEFAULT_URI);
        let uri = self.p.text("Libvirt URI", &default)?;
        Ok(self.tree.set("backends/libvirt/uri", &uri)?)
    }

    fn cpg(&mut self) -> Result<(), WizardError> {
        self.p.say(CPG_INTRO)?;
        let default = self.current("backends/cpg/uri", DEFAULT_URI);
        let uri = self.p.text("Libvirt URI", &default)?;
        self.tree.set("backends/cpg/uri", &uri)?;
        self.p.say(NAME_MODE_INTRO)?;
        let question = "VM naming/tracking mode (name or uuid)";
        let default = self.current("backends/cpg/name_mode", "uuid");
        let mode = loop {
            let mode = self.p.text(question, &default)?;
            if mode.eq_ignore_ascii_case("uuid") {
                break mode;
            }
            if mode.eq_ignore_ascii_case("name") {
                self.p.say(NAME_MODE_WARNING)?;
                if self.p.yes_no("Use name mode anyway", true)? {
                    break mode;
                }
            }
            self.p.again(question)?;
        };
        Ok(self.tree.set("backends/cpg/name_mode", &mode)?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::config::{BackendConfig, DaemonConfig, ListenerConfig, SerialMode};

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Runs the wizard on `path` with `answers`; returns (exit, transcript).
    fn drive(path: &Path, answers: &str) -> (Result<i32, WizardError>, String) {
        let mut input = Cursor::new(answers.as_bytes().to_vec());
        let mut output = Vec::new();
        let result = run(path, &mut input, &mut output);
        (result, String::from_utf8(output).expect("UTF-8 transcript"))
    }

    fn expected_transcript(name: &str, path: &Path) -> String {
        read(&testdata(name))
            .replace("@FILE@", &path.display().to_string())
            .replace("@MODPATH@", &default_module_path())
    }

    /// Asserts that `needles` occur in `haystack` in this order.
    fn in_order(haystack: &str, needles: &[&str]) {
        let mut rest = haystack;
        for needle in needles {
            match rest.find(needle) {
                Some(i) => rest = &rest[i + needle.len()..],
                None => panic!("{needle:?} missing or out of order in:\n{haystack}"),
            }
        }
    }

    #[test]
    fn existing_file_matches_the_original_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virt.conf");
        fs::copy(testdata("wizard-existing.input.conf"), &path).unwrap();
        let answers = "/usr/lib/x86_64-linux-gnu/fence-virt/\n\n\n\neth1\n/dev/null\n\n\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0);
        assert_eq!(transcript, expected_transcript("wizard-existing.transcript.txt", &path));
        assert_eq!(read(&path), read(&testdata("wizard-existing.expected.conf")));
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn scratch_tcp_matches_the_original_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.conf");
        let answers =
            "y\n/usr/lib/x86_64-linux-gnu/fence-virt/\ntcp\n192.0.2.1\n1300\n/dev/null\n\nqemu:///session\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0);
        assert_eq!(transcript, expected_transcript("wizard-scratch-tcp.transcript.txt", &path));
        assert_eq!(read(&path), read(&testdata("wizard-scratch-tcp.expected.conf")));

        let (config, warnings) = DaemonConfig::load(&path).unwrap();
        let ListenerConfig::Tcp(tcp) = &config.listener else { panic!("{:?}", config.listener) };
        assert_eq!((tcp.address.to_string(), tcp.port), ("192.0.2.1".to_string(), 1300));
        assert_eq!(tcp.auth.key_file, Path::new("/dev/null"));
        let BackendConfig::Libvirt(libvirt) = &config.backend else { panic!("{:?}", config.backend) };
        assert_eq!(libvirt.uris, ["qemu:///session"]);
        assert_eq!(warnings.len(), 1, "only module_path is reported: {warnings:?}");
    }

    #[test]
    fn scratch_multicast_generates_key_and_writes_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virt.conf");
        let key = dir.path().join("fence_xvm.key");
        let answers = format!("y\n\n\nff05::3:1\n1230\nlo\n{}\n\n\n\ny\n", key.display());
        let (result, transcript) = drive(&path, &answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(
            &transcript,
            &[
                "Start from scratch [y/N]? ",
                "Module search path [",
                "Available backends:\n    libvirt 0.3\nAvailable listeners:\n    multicast 1.3\n    tcp 0.2\n",
                "Listener module [multicast]: ",
                "Multicast IP Address [225.0.0.12]: ",
                "Using ipv6 as family.",
                "Multicast IP Port [1229]: ",
                "Interface [none]: ",
                "Key File [/etc/cluster/fence_xvm.key]: ",
                &format!("Key file {} does not exist. Generate it now [Y/n]? ", key.display()),
                &format!("Wrote a 4096-byte random key to {}.", key.display()),
                "Backend module [libvirt]: ",
                "Libvirt URI [qemu:///system]: ",
                "Configuration complete.",
                "=== Begin Configuration ===",
                "=== End Configuration ===",
                &format!("Replace {} with the above [y/N]? ", path.display()),
            ],
        );
        assert!(!transcript.contains("Use this value anyway"));
        let meta = fs::metadata(&key).unwrap();
        assert_eq!((meta.len(), meta.permissions().mode() & 0o777), (4096, 0o600));

        let (config, _) = DaemonConfig::load(&path).unwrap();
        let ListenerConfig::Multicast(m) = &config.listener else { panic!("{:?}", config.listener) };
        assert_eq!(m.address.to_string(), "ff05::3:1");
        assert_eq!(m.port, 1230);
        assert_eq!(m.interface.as_deref(), Some("lo"));
        assert_eq!(m.auth.key_file, key);
        config.check_host().unwrap();
        // Re-running on the written file with piped defaults offers the
        // current values and asks no key question.
        let (result, transcript) = drive(&path, "");
        assert_eq!(result.unwrap(), 1);
        in_order(
            &transcript,
            &["Multicast IP Address [ff05::3:1]: ", "Multicast IP Port [1230]: ", "Interface [lo]: "],
        );
        assert!(!transcript.contains("Generate it now"));
    }

    #[test]
    fn declining_at_the_end_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fence_virt.conf");
        let key = dir.path().join("k");
        let original = format!(
            "fence_virtd {{ listener = \"multicast\"; backend = \"libvirt\"; }}\nlisteners {{ multicast {{ key_file = \
             \"{}\"; }} }}\n",
            key.display()
        );
        fs::write(&path, &original).unwrap();
        // End of input: every default, including "generate the key" (yes)
        // and "replace" (no).
        let (result, transcript) = drive(&path, "");
        assert_eq!(result.unwrap(), 1);
        assert!(transcript.ends_with(&format!("Replace {} with the above [y/N]? ", path.display())));
        assert_eq!(read(&path), original);
        assert!(key.exists(), "the key is generated before the final question");
        // An explicit N behaves the same.
        let (result, _) = drive(&path, "\n\n\n\n\n\n\n\nN\n");
        assert_eq!(result.unwrap(), 1);
        assert_eq!(read(&path), original);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn refusing_to_start_from_scratch() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.conf");
        let (result, transcript) = drive(&missing, "n\n");
        assert_eq!(result.unwrap(), 1);
        assert_eq!(transcript, format!("Parsing of {} failed.\nStart from scratch [y/N]? ", missing.display()));
        assert!(!missing.exists());

        let broken = dir.path().join("broken.conf");
        fs::write(&broken, "garbage {\n").unwrap();
        let (result, transcript) = drive(&broken, "");
        assert_eq!(result.unwrap(), 1);
        assert_eq!(
            transcript,
            format!(
                "{0}:2:1: unexpected end of file: section 'garbage' (opened on line 1) is not closed\nParsing of {0} \
                 failed.\nStart from scratch [y/N]? ",
                broken.display()
            )
        );
        assert_eq!(read(&broken), "garbage {\n");
    }

    #[test]
    fn invalid_answers_are_asked_again_showing_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        let answers = "y\n\n\nbadip\n192.0.2.1\n225.0.0.13\n70000\nabc\n0\n1300\nnone\n/dev/null\n\n\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(
            &transcript,
            &[
                "Multicast IP Address [225.0.0.12]: 'badip' is not a valid IP address!\n",
                "Multicast IP Address [225.0.0.12]: '192.0.2.1' is not a multicast address!\n",
                "Multicast IP Address [225.0.0.12]: \nUsing ipv4 as family.\n\n",
                "Multicast IP Port [1229]: Port value '70000' is out of range\n",
                "Multicast IP Port [1229]: Port value 'abc' is out of range\n",
                "Multicast IP Port [1229]: Port value '0' is out of range\n",
                "Multicast IP Port [1229]: \nSetting a preferred interface",
            ],
        );
        let tree = ConfigTree::load(&path).unwrap();
        assert_eq!(tree.get("listeners/multicast/address"), Some("225.0.0.13"));
        assert_eq!(tree.get("listeners/multicast/port"), Some("1300"));
        assert_eq!(tree.get("listeners/multicast/interface"), None);
    }

    #[test]
    fn none_removes_interface_and_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        fs::copy(testdata("debian-fence_virt.conf"), &path).unwrap();
        let (result, transcript) = drive(&path, "\n\n\n\nnone\nNONE\n\n\ny\n");
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(&transcript, &["Interface [virbr0]: ", "Key File [/etc/fence_virt.key]: "]);
        let tree = ConfigTree::load(&path).unwrap();
        assert_eq!(tree.get("listeners/multicast/interface"), None);
        assert_eq!(tree.get("listeners/multicast/key_file"), None);
        assert_eq!(tree.get("listeners/multicast/address"), Some("225.0.0.12"));
    }

    #[test]
    fn relative_key_file_needs_confirmation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        let answers = "y\n\n\n\n\n\nrel.key\nn\n/dev/null\n\n\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(
            &transcript,
            &["Key File [/etc/cluster/fence_xvm.key]: Invalid key file: rel.key\nUse anyway [Y/n]? Key File ["],
        );
        assert_eq!(ConfigTree::load(&path).unwrap().get("listeners/multicast/key_file"), Some("/dev/null"));
    }

    #[test]
    fn unknown_modules_serial_and_cpg_branches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        let answers = "y\n\nfoo\nn\nvsock\ny\ncpg\ny\nqemu:///session\nfoo\nname\nn\nname\ny\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(
            &transcript,
            &[
                "Listener module [multicast]: No listener module named foo found!\nUse this value anyway [y/N]? ",
                "Listener module [multicast]: No listener module named vsock found!\nUse this value anyway [y/N]? ",
                "Unable to configure unknown listner module 'vsock'\n\nBackend modules",
                "Backend module [libvirt]: No backend module named cpg found!\nUse this value anyway [y/N]? \nThe CPG",
                "Libvirt URI [qemu:///system]: \nThe name mode",
                "VM naming/tracking mode (name or uuid) [uuid]: VM naming/tracking mode (name or uuid) [uuid]: This \
                 can be dangerous",
                "Use name mode anyway [Y/n]? VM naming/tracking mode (name or uuid) [uuid]: This can be dangerous",
                "Use name mode anyway [Y/n]? \nConfiguration complete.",
            ],
        );
        let tree = ConfigTree::load(&path).unwrap();
        assert_eq!(tree.get("fence_virtd/listener"), Some("vsock"));
        assert_eq!(tree.get("backends/cpg/uri"), Some("qemu:///session"));
        assert_eq!(tree.get("backends/cpg/name_mode"), Some("name"));

        let serial = dir.path().join("s.conf");
        let answers = "y\n\nserial\ny\nqemu:///session\n/run/fence\nbogus\nn\nvmchannel\n\n\ny\n";
        let (result, transcript) = drive(&serial, answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        in_order(
            &transcript,
            &[
                "The serial plugin allows fence_virtd",
                "Libvirt URI [qemu:///system]: ",
                "Socket directory [none]: ",
                "Mode (serial or vmchannel) [serial]: Invalid mode: bogus\nUse anyway [Y/n]? Mode (serial or \
                 vmchannel) [serial]: \nBackend modules",
            ],
        );
        let (config, _) = DaemonConfig::load(&serial).unwrap();
        let ListenerConfig::Serial(s) = &config.listener else { panic!("{:?}", config.listener) };
        assert_eq!(s.uri.as_deref(), Some("qemu:///session"));
        assert_eq!(s.path.as_deref(), Some(Path::new("/run/fence")));
        assert_eq!(s.mode, SerialMode::VmChannel);
    }

    #[test]
    fn end_of_input_with_an_invalid_default_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        let original = "fence_virtd { listener = \"multicast\"; }\nlisteners { multicast { port = \"x\"; } }\n";
        fs::write(&path, original).unwrap();
        let (result, transcript) = drive(&path, "");
        assert!(matches!(result, Err(WizardError::InputEnded(ref q)) if q == "Multicast IP Port"), "{result:?}");
        assert!(transcript.ends_with("Multicast IP Port [x]: Port value 'x' is out of range\n"));
        assert_eq!(read(&path), original);
    }

    #[test]
    fn quotes_in_answers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        let answers = "y\n\n\n\n\n\n/dev/null\n\nqemu\"x\nqemu:///system\ny\n";
        let (result, transcript) = drive(&path, answers);
        assert_eq!(result.unwrap(), 0, "{transcript}");
        assert!(transcript.contains("Libvirt URI [qemu:///system]: Values may not contain '\"'.\n"));
        assert!(DaemonConfig::load(&path).is_ok());
    }
}
