//! What Pacemaker and admins read from the agent: metadata XML and usage
//! text identical to the stock fence_xvm / fence_virt 4.12.

use std::process::Command;

use tests::*;

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn metadata_and_usage_match_the_stock_agents() {
    if !std::path::Path::new(STOCK_XVM).exists() || !std::path::Path::new(STOCK_VIRT).exists() {
        tests::skip("the stock fence-virt package is not installed (scripts/setup.sh installs it)");
        return;
    }
    for (ours, stock) in [("fence_xvm", STOCK_XVM), ("fence_virt", STOCK_VIRT)] {
        let ours_path = our_bin(ours);
        let ours_path = ours_path.to_str().unwrap();
        assert_eq!(output(ours_path, &["-o", "metadata"]), output(stock, &["-o", "metadata"]), "{ours} metadata");
        // Usage names the program as typed; compare with both typed the same way.
        let ours_help = output(ours_path, &["-h"]).replacen(ours_path, ours, 1);
        let stock_help = output(stock, &["-h"]).replacen(stock, ours, 1);
        assert_eq!(ours_help, stock_help, "{ours} -h");
    }
}
