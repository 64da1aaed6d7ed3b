#!/usr/bin/env bash
# The lint gate (run by scripts/test.sh before the tests): formatting,
# clippy with warnings as errors, rustdoc with warnings as errors (broken
# intra-doc links), shellcheck (warnings and errors) on every shell
# script, and every hand-written man page renders without a groff warning. Fails with the tool's own output on the first finding.
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
echo "lint: man pages (groff -ww: no warnings)"
for page in man/*.[1-8]; do
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || { echo "$page: $warnings" >&2; exit 1; }
    MANWIDTH=80 man -l -P cat "$page" >/dev/null
done
echo "lint: clean"
