#!/usr/bin/env bash
# Runs every test of the suite: unit tests, and end-to-end tests in network
# namespaces against the stock fence-virt binaries and libvirt's test driver.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/lint.sh
cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-fail-fast -- --test-threads=2
