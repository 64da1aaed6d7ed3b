#!/usr/bin/env bash
# The main job on the embedded default: our fence_virtd fencing the guest
# `test` of libvirt's test driver (test:///default, no hypervisor needed),
# inside a private network namespace, asked by our fence_xvm and by the
# stock fence_xvm from Debian. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --workspace --bins --locked
bin=$PWD/target/debug

work=$(mktemp -d)
ns=fvdemo$$
cleanup() {
  [[ -n ${daemon_pid:-} ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/fence_virt_key" generate "$work/fence_xvm.key"
cat > "$work/fence_virt.conf" <<CONF
fence_virtd {
	listener = "multicast";
	backend = "libvirt";
}

listeners {
	multicast {
		key_file = "$work/fence_xvm.key";
		address = "225.0.0.12";
	}
}

backends {
	libvirt {
		uri = "test:///default";
	}
}
CONF

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on
ip -n "$ns" route add 224.0.0.0/4 dev lo

ip netns exec "$ns" "$bin/fence_virtd" -F -f "$work/fence_virt.conf" -p "$work/fence_virtd.pid" 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do grep -q ready "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/daemon.log" || { cat "$work/daemon.log"; exit 1; }

run() { echo "\$ $*"; ip netns exec "$ns" "$@"; echo "(exit $?)"; }
xvm=("$bin/fence_xvm" -k "$work/fence_xvm.key" -t 5)
stock=(/usr/sbin/fence_xvm -k "$work/fence_xvm.key" -t 5)
set +e
run "${xvm[@]}" -o list
run "${xvm[@]}" -o status -H test
run "${xvm[@]}" -o off -H test
run "${xvm[@]}" -o status -H test
run "${xvm[@]}" -o on -H test
start=$(date +%s%N)
run "${stock[@]}" -o reboot -H test
echo "stock fence_xvm reboot through our daemon took $(( ($(date +%s%N) - start) / 1000000 )) ms"
run "${xvm[@]}" -o status -H test
set -e
echo "--- daemon log"
cat "$work/daemon.log"
