//! `mangen DIR`: writes the programs' man pages into DIR (see the library).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!(
            "usage: mangen DIR (writes fence_virtd.8, fence-watchdog.8, fence_virt_key.8, heartbeat.8, fence_xvm.8, fence_virt.8)"
        );
        return ExitCode::from(2);
    };
    match mangen::write_all(&dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mangen: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
