#!/usr/bin/env bash
# The lint gate (run by scripts/test.sh before the tests): formatting,
# clippy with warnings as errors, rustdoc with warnings as errors (broken
# intra-doc links), and shellcheck (warnings and errors) on every shell
# script. Fails with the tool's own output on the first finding.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "lint: cargo fmt --check"
cargo fmt --all -- --check
echo "lint: cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
echo "lint: cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "lint: shellcheck"
mapfile -t scripts < <(git ls-files '*.sh' tests/heartbeat/fence_netns tests/heartbeat/httpd-test scripts/vm-cluster/vip)
shellcheck -S warning -x "${scripts[@]}"
echo "lint: clean"
