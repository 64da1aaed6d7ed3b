#!/usr/bin/env bash
# Builds the initramfs of the watchdog QEMU tests: busybox-static, the
# kernel's watchdog and softdog modules and the e1000 network driver
# (decompressed: busybox insmod wants plain .ko), our binaries (fence-watchdog, heartbeat, …) with the
# shared libraries they need, and init.sh (beside this script) as /init.
#
# usage: build-initramfs.sh OUT.cpio.gz KERNEL_VERSION BINARY [BINARY…]
set -euo pipefail
out=$1 kver=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,proc,sys,dev,run,tmp,etc,lib/modules}
cp /bin/busybox "$stage/bin/busybox"
for module in watchdog softdog e1000; do
  found=$(find "/lib/modules/$kver/kernel/drivers/watchdog" "/lib/modules/$kver/kernel/drivers/net/ethernet/intel" \
    -name "$module.ko*" | head -n 1)
  [[ -n $found ]] || { echo "no $module module for kernel $kver" >&2; exit 1; }
  case $found in
    *.xz) xz -dc "$found" ;;
    *.zst) zstd -dcq "$found" ;;
    *.gz) gzip -dc "$found" ;;
    *) cat "$found" ;;
  esac >"$stage/lib/modules/$module.ko"
done

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

cp "$here/init.sh" "$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
