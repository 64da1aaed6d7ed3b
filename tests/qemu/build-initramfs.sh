#!/usr/bin/env bash
# Builds a busybox initramfs for QEMU guests: busybox-static, kernel
# modules (decompressed: busybox insmod wants plain .ko), our binaries
# (fence-watchdog, heartbeat, …) with the shared libraries they need, and
# an init script as /init. Used by the watchdog QEMU tests (defaults) and
# by scripts/vm-cluster.sh (the cluster guests).
#
# usage: build-initramfs.sh OUT.cpio.gz KERNEL_VERSION BINARY [BINARY…]
#
# Environment (all optional):
#   INIT=FILE        the guest's /init (default: init.sh beside this script)
#   MODULES="a b"    modules to carry (default: "watchdog softdog e1000"); their
#                    dependencies (modules.dep) are added. Each lands as
#                    /lib/modules/NAME.ko; /lib/modules/load-order lists
#                    them dependencies first, ready for insmod.
#   EXTRA="SRC=DEST …"  further files copied into the image (DEST absolute)
set -euo pipefail
out=$1 kver=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
init=${INIT:-$here/init.sh}
modules=${MODULES:-watchdog softdog e1000}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,proc,sys,dev,run,tmp,etc,lib/modules}
cp /bin/busybox "$stage/bin/busybox"

moddir=/lib/modules/$kver
# add_module NAME: its dependencies first, then itself (once).
declare -A added=()
order=()
add_module() {
  local name=$1 rel dep
  [[ -n ${added[$name]:-} ]] && return
  rel=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1 | cut -d: -f1 || true)
  [[ -n $rel ]] || { echo "no $name module for kernel $kver" >&2; exit 1; }
  added[$name]=1
  for dep in $(grep -E "^${rel}:" "$moddir/modules.dep" | cut -d: -f2); do
    dep=$(basename "$dep"); add_module "${dep%%.ko*}"
  done
  case $rel in
    *.xz) xz -dc "$moddir/$rel" ;;
    *.zst) zstd -dcq "$moddir/$rel" ;;
    *.gz) gzip -dc "$moddir/$rel" ;;
    *) cat "$moddir/$rel" ;;
  esac >"$stage/lib/modules/$name.ko"
  order+=("$name")
}
for module in $modules; do add_module "$module"; done
printf '%s\n' "${order[@]}" >"$stage/lib/modules/load-order"

for binary in "$@"; do
  name=$(basename "$binary")
  cp "$binary" "$stage/bin/$name"
  # Debug info only makes the image bigger and the boot slower.
  strip --strip-debug "$stage/bin/$name" 2>/dev/null || true
  # The dynamic loader and libraries, at the paths the binary asks for.
  ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
done

for pair in ${EXTRA:-}; do
  src=${pair%%=*} dest=${pair#*=}
  mkdir -p "$stage$(dirname "$dest")"
  cp -L "$src" "$stage$dest"
done

cp "$init" "$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
