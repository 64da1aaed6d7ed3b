//! The programs' man pages, generated from what defines their command
//! lines, so a page can never disagree with `--help`:
//!
//! * `fence_virtd(8)`, `fence-watchdog(8)`, `fence_virt_key(8)`, `heartbeat(8)` from their
//!   clap definitions (`clap_mangen`);
//! * `fence_xvm(8)` and `fence_virt(8)` from the agent's parameter table
//!   (`fence_client::params`), which also drives their option parser and
//!   `-o metadata`.
//!
//! `cargo run -p mangen -- DIR` writes them to DIR; the configuration
//! files' pages are hand-written (`man/*.5`).

use std::io;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command, CommandFactory};
use fence_client::params::{params_for, Arity, Personality};

/// One page: its file name and its command.
pub fn pages() -> Vec<(String, Command)> {
    vec![
        ("fence_virtd.8".into(), fence_daemon::cli::Cli::command()),
        ("fence-watchdog.8".into(), watchdog::cli::Cli::command()),
        ("fence_virt_key.8".into(), keys::cli::Cli::command()),
        ("heartbeat.8".into(), heartbeat::cli::Cli::command()),
        ("fence_xvm.8".into(), agent_command(Personality::Xvm, "fence_xvm")),
        ("fence_virt.8".into(), agent_command(Personality::Virt, "fence_virt")),
    ]
}

/// The fence agent's command line as a clap `Command`, for the page only
/// (the agent parses its options itself, fence-agents style).
fn agent_command(personality: Personality, name: &'static str) -> Command {
    let about = match personality {
        Personality::Xvm => "Fence agent for virtual machines over multicast (fence_virtd's multicast listener)",
        Personality::Virt => "Fence agent for virtual machines over TCP (fence_virtd's tcp listener)",
    };
    let mut command = Command::new(name)
        .about(about)
        .long_about(format!(
            "{about}.\n\nWith no options at all, {name} reads key=value lines on stdin as Pacemaker's fencer \
             sends them (the names below in parentheses), e.g. action=reboot and port=NODE; `-o metadata` \
             prints the fence-agents XML description."
        ))
        .disable_help_flag(true)
        .disable_version_flag(true);
    for param in params_for(personality) {
        let Some(letter) = param.letter else { continue };
        let mut help = format!("{} ({})", param.description, param.name);
        if let Some(default) = param.default {
            help.push_str(&format!(" [default: {default}]"));
        }
        let mut arg = Arg::new(param.name).short(letter).help(help);
        arg = match param.arity {
            Arity::Value => arg.value_name(param.value_name.unwrap_or("VALUE")).action(ArgAction::Set),
            Arity::OptionalValue => {
                arg.value_name(param.value_name.unwrap_or("VALUE")).num_args(0..=1).action(ArgAction::Set)
            }
            Arity::Flag => arg.action(ArgAction::SetTrue),
            Arity::Count => arg.action(ArgAction::Count),
        };
        command = command.arg(arg);
    }
    command
}

/// Writes every page into `dir`; returns the paths written.
pub fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (file, command) in pages() {
        let mut roff = Vec::new();
        clap_mangen::Man::new(command).section("8").render(&mut roff)?;
        let path = dir.join(file);
        std::fs::write(&path, roff)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::process::Command as Process;

    use super::*;

    #[test]
    fn every_page_renders_without_a_groff_warning_and_lists_its_options() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_all(dir.path()).unwrap();
        assert_eq!(written.len(), 6);
        for path in &written {
            let out = Process::new("groff").args(["-man", "-Tutf8", "-ww"]).arg(path).output();
            let Ok(out) = out else {
                assert!(std::env::var_os("CI").is_none(), "groff is missing (scripts/setup.sh installs groff-base)");
                eprintln!("SKIP: groff is not installed");
                return;
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && stderr.is_empty(), "{}: {stderr}", path.display());
            let text = String::from_utf8_lossy(&out.stdout);
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(text.contains(&name), "{}: no NAME section for {name}", path.display());
        }
        let virtd = std::fs::read_to_string(dir.path().join("fence_virtd.8")).unwrap();
        assert!(virtd.contains("check\\-config"), "fence_virtd.8 lacks --check-config");
        let xvm = std::fs::read_to_string(dir.path().join("fence_xvm.8")).unwrap();
        assert!(xvm.contains("multicast_address"), "fence_xvm.8 lacks -a (multicast_address)");
        assert!(xvm.contains("\\-H"), "fence_xvm.8 lacks -H (the domain to fence)");
        let virt = std::fs::read_to_string(dir.path().join("fence_virt.8")).unwrap();
        assert!(virt.contains("ipaddr"), "fence_virt.8 lacks -T (ipaddr)");
    }
}
