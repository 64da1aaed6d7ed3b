#!/usr/bin/env bash
# Installs what building and testing the suite needs on Debian 12 (as root):
# libvirt headers for the `virt` crate, the stock fence-virt binaries (the
# compatibility oracle), iproute2 for network namespaces. Idempotent.
set -euo pipefail
packages=(libvirt-dev libvirt0 pkg-config gcc fence-virt fence-virtd iproute2 procps)
packages+=(qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils)  # watchdog tests: a QEMU guest with softdog
packages+=(libvirt-daemon)  # a real libvirtd (hung with SIGSTOP) for the daemon's deadline tests
packages+=(resource-agents iptables)  # heartbeat cluster tests: IPaddr2 for the service address; cutting heartbeat links
packages+=(libvirt-daemon-system libvirt-clients python3)  # vm_cluster test: two guests under libvirtd (scripts/vm-cluster.sh)
packages+=(shellcheck man-db groff-base)  # lint gate of scripts/test.sh (scripts, man pages)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # fence-virtd's maintainer scripts try to start the service; there is no
  # init system to start it in a container, which is what we want.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is not installed (install Rust with rustup, then re-run)" >&2
  exit 1
fi
# rustfmt and clippy for the lint gate (part of rustup's default profile).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
