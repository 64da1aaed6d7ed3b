#!/usr/bin/env bash
# bench/compare.sh - our fence_virtd against the stock (Debian 4.12.1) one.
#
# Usage (as root, from anywhere):
#   bench/compare.sh [--runs N] [--flood-seconds S] [--ours DIR] [--keep-logs DIR] [--qemu]
#
#   --runs N         repetitions of the latency measurements (default 7, min 5;
#                    --qemu: default 5)
#   --flood-seconds S  length of the bad-packet flood (default 15)
#   --ours DIR       directory holding our fence_virtd (default:
#                    <repo>/target/release; build it with
#                    `cargo build --release -p fence-daemon -p fence-client`)
#   --keep-logs DIR  copy the daemon, client and peer logs to DIR at the end
#   --qemu           instead of the test-driver scenarios: single-reboot
#                    comparison on a real QEMU (TCG) guest under libvirtd
#                    (qemu:///system), for both of our reboot methods; needs
#                    apt packages libvirt-daemon-system qemu-system-x86
#                    linux-image-amd64 busybox-static cpio. About 3-4 minutes.
#
# What it does:
#   * Creates two isolated LANs of network namespaces, one per daemon (nothing
#     is added to the root namespace): a hub namespace holding bridge br0
#     (mcast_snooping off) and 9 host namespaces attached by veth pairs.
#       ours : daemon 198.18.1.1, clients 198.18.1.2 .. 198.18.1.9
#       stock: daemon 198.18.2.1, clients 198.18.2.2 .. 198.18.2.9
#     Every host routes 224.0.0.0/4 over its eth0.
#   * Starts our fence_virtd and /usr/sbin/fence_virtd side by side, each on
#     its LAN, multicast listener (225.0.0.12:1229, sha256, 4 KiB random key),
#     libvirt backend on a test-driver node file (test:///TMP/node.xml) with
#     the domains test and vm1 .. vm8 (all running).
#   * Drives both with the STOCK /usr/sbin/fence_xvm (default options except
#     -t), one scenario at a time, ours first then stock, and prints a table.
#     Scenarios: idle RSS, reboot latency, status latency, 8-client reboot
#     storm, status while 3 stalling requesters hold callbacks, status during
#     a flood of badly signed packets, peak RSS. See bench/README.md.
#   * The stalling requesters and the flooder are bench/fvpeer.py (stdlib
#     Python 3).
#
# With --qemu (see bench/README.md, "Real QEMU guest"): one LAN per daemon
# (hub + 2 hosts: ours with reboot_method "cycle" on 198.18.1.0/24, stock on
# 198.18.2.0/24, ours with reboot_method "reset" on 198.18.3.0/24), all three
# daemons on uri qemu:///system; virtlogd + libvirtd are started in the
# foreground by the script unless a libvirtd already answers on
# qemu:///system; one persistent TCG domain (128 MiB, no disk, no NIC,
# Debian kernel + busybox initramfs, serial console to a file) is defined,
# rebooted RUNS times by each of: virsh destroy + start, stock, ours cycle,
# ours reset (interleaved, round by round), and destroyed + undefined at exit.
#
# Every process it starts is stopped and every namespace it creates is
# deleted on exit (trap), also on Ctrl-C or error. All loops are bounded;
# every client call is wrapped in `timeout`. A full run takes 1-2 minutes.

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/lib/netns.sh
. "$REPO/scripts/lib/netns.sh"
RUNS=7
FLOOD_SECONDS=15
OURS_DIR="$REPO/target/release"
KEEP_LOGS=""
MODE=testdriver
RUNS_SET=""
STOCK_DAEMON=/usr/sbin/fence_virtd
XVM=/usr/sbin/fence_xvm
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
PEER="$HERE/fvpeer.py"

usage() { sed -n '2,/^# What it does/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?}; RUNS_SET=1; shift 2 ;;
        --flood-seconds) FLOOD_SECONDS=${2:?}; shift 2 ;;
        --ours) OURS_DIR=${2:?}; shift 2 ;;
        --keep-logs) KEEP_LOGS=${2:?}; shift 2 ;;
        --qemu) MODE=qemu; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*) echo "--runs needs a number" >&2; exit 2 ;; esac
[ "$MODE" = qemu ] && [ -z "$RUNS_SET" ] && RUNS=5
[ "$RUNS" -ge 5 ] || RUNS=5
[ "$RUNS" -le 50 ] || RUNS=50
case "$FLOOD_SECONDS" in ''|*[!0-9]*) echo "--flood-seconds needs a number" >&2; exit 2 ;; esac
[ "$FLOOD_SECONDS" -ge 5 ] || FLOOD_SECONDS=5
[ "$FLOOD_SECONDS" -le 120 ] || FLOOD_SECONDS=120

die() { echo "compare.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
command -v ip >/dev/null || die "iproute2 (ip) is not installed"
command -v ss >/dev/null || die "ss (iproute2) is not installed"
command -v timeout >/dev/null || die "timeout (coreutils) is not installed"
[ -x "$STOCK_DAEMON" ] || die "$STOCK_DAEMON missing (apt-get install fence-virtd)"
[ -x "$XVM" ] || die "$XVM missing (apt-get install fence-virt)"
[ -x "$OURS_DIR/fence_virtd" ] || die "$OURS_DIR/fence_virtd missing; run: cargo build --release -p fence-daemon -p fence-client"
[ -n "$PY" ] && [ -x "$PY" ] || die "python3 missing"
[ -r "$PEER" ] || die "$PEER missing"
"$PY" "$PEER" selftest >/dev/null || die "fvpeer.py selftest failed"

TAG="fvb$$"                    # namespace prefix, unique per run
TMP=$(mktemp -d /tmp/fvbench.XXXXXX)
chmod 755 "$TMP"
NSLIST=()                      # namespaces created (deleted on exit)
PIDS=()                        # background processes started (killed on exit)

cleanup() {
    local rc=$? pid ns p
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 30); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    # Anything still inside our namespaces was started by this script.
    for ns in "${NSLIST[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    # --qemu: destroy + undefine our domain, then stop the libvirt daemons
    # this script started (after the fence daemons, which could otherwise
    # restart the domain).
    declare -F qemu_cleanup >/dev/null && qemu_cleanup
    for ns in "${NSLIST[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ -n "$KEEP_LOGS" ]; then
        mkdir -p "$KEEP_LOGS"
        for f in "$TMP"/*.log; do
            [ -e "$f" ] || continue
            # The stock daemon writes ~100 MB of 'Hash mismatch' lines
            # during the flood: keep only the start and the end of big logs.
            if [ "$(stat -c %s "$f")" -gt 10000000 ]; then
                { head -n 20000 "$f"; echo "[... $(wc -l < "$f") lines in all; middle omitted by compare.sh ...]"; tail -n 20000 "$f"; } \
                    > "$KEEP_LOGS/$(basename "$f")"
            else
                cp "$f" "$KEEP_LOGS"/
            fi
        done
        echo "logs kept in $KEEP_LOGS"
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note() { echo "  $*"; }

# forget PID...: drop reaped processes from PIDS so that cleanup never
# signals a recycled process id.
forget() {
    local x p keep=()
    for x in "${PIDS[@]}"; do
        for p in "$@"; do [ "$x" = "$p" ] && continue 2; done
        keep+=("$x")
    done
    PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- network

# setup_lan SIDE NET [HOSTS]: hub ${TAG}${SIDE}h with br0; hosts
# ${TAG}${SIDE}1..HOSTS (default 9) at 198.18.NET.1..HOSTS (host 1 = daemon,
# the others = clients).
setup_lan() {
    local side=$1 net=$2 hub="${TAG}${1}h" i ns
    NSLIST+=("$hub")
    netns_hub "$hub" || die "setting up $hub"
    for i in $(seq 1 "${3:-9}"); do
        ns="${TAG}${side}${i}"
        NSLIST+=("$ns")
        netns_host "$hub" "$ns" "v$i" "198.18.$net.$i/24" || die "setting up $ns"
    done
}

addr_of() { # SIDE HOST
    local net=1; [ "$1" = s ] && net=2; [ "$1" = r ] && net=3
    echo "198.18.$net.$2"
}

# ---------------------------------------------------------------- files

KEY="$TMP/fence_xvm.key"
head -c 4096 /dev/urandom > "$KEY"
chmod 600 "$KEY"

NODE="$TMP/node.xml"
{
    echo "<node>"
    echo "  <domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    for k in 1 2 3 4 5 6 7 8; do
        echo "  <domain type='test'><name>vm$k</name><uuid>5e1f0000-0000-4000-8000-00000000000$k</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    done
    echo "</node>"
} > "$NODE"

write_conf() { # FILE [URI [REBOOT_METHOD]]
    local uri=${2:-test://$NODE} extra=""
    [ -n "${3:-}" ] && extra="
		reboot_method = \"$3\";"
    cat > "$1" <<EOF
fence_virtd {
	listener = "multicast";
	backend = "libvirt";
}

listeners {
	multicast {
		key_file = "$KEY";
		hash = "sha256";
	}
}

backends {
	libvirt {
		uri = "$uri";$extra
	}
}
EOF
}
write_conf "$TMP/ours.conf"
write_conf "$TMP/stock.conf"

# ---------------------------------------------------------------- helpers

declare -A R                   # results: R[side,figure]
declare -A DPID                # daemon pid per side
sidename() { # o: ours, s: stock, r: ours with reboot_method "reset" (--qemu)
    case "$1" in o) echo ours ;; r) echo ours-reset ;; *) echo stock ;; esac
}

now_ns() { date +%s%N; }
ms_since() { # START_NS -> milliseconds with one decimal
    local t1; t1=$(now_ns)
    awk -v a="$1" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'
}

median() { # values... -> median (or n/a)
    printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "n/a";
              else if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
              else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# xvm SIDE HOST TIMEOUT ARGS... : one stock fence_xvm run; sets LAST_MS, LAST_RC
xvm() {
    local side=$1 host=$2 t=$3; shift 3
    local log t0
    log="$TMP/xvm-$(sidename "$side").log"
    echo "--- host $host: fence_xvm -t $t $*" >> "$log"
    t0=$(now_ns)
    timeout -k 2 $((t + 20)) ip netns exec "${TAG}${side}${host}" "$XVM" -k "$KEY" -t "$t" "$@" >> "$log" 2>&1
    LAST_RC=$?
    LAST_MS=$(ms_since "$t0")
    echo "--- rc=$LAST_RC ${LAST_MS} ms" >> "$log"
}

rss_kb() { # PID FIELD -> kB
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}
cpu_ticks() { # PID -> utime+stime in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null
}

daemon_alive() { kill -0 "${DPID[$1]}" 2>/dev/null; }

start_daemon() { # SIDE
    local side=$1 ns="${TAG}${1}1" name log bin i
    name=$(sidename "$side")
    log="$TMP/daemon-$name.log"
    if [ "$side" = s ]; then bin=${STOCK_EXEC:-$STOCK_DAEMON}; else bin=${OURS_EXEC:-$OURS_DIR/fence_virtd}; fi
    ip netns exec "$ns" "$bin" -F -f "$TMP/$name.conf" -p "$TMP/$name.pid" > "$log" 2>&1 &
    DPID[$side]=$!
    PIDS+=("${DPID[$side]}")
    for i in $(seq 1 100); do
        daemon_alive "$side" || { cat "$log"; die "$name fence_virtd exited at start"; }
        if [ "$side" != s ]; then
            grep -q ready "$log" && break
        else
            [ -n "$(ip netns exec "$ns" ss -Hlun 'sport = :1229' 2>/dev/null)" ] && break
        fi
        sleep 0.1
    done
    [ "$i" -lt 100 ] || { cat "$log"; die "$name fence_virtd did not become ready in 10 s"; }
    sleep 0.5   # let it settle before the idle RSS reading
}

# ---------------------------------------------------------------- scenarios

scenario_latency() { # SIDE OP DOMAIN FIGURE
    local side=$1 op=$2 dom=$3 fig=$4 i vals=() fails=0
    for i in $(seq 1 "$RUNS"); do
        xvm "$side" 2 10 -o "$op" -H "$dom"
        vals+=("$LAST_MS")
        [ "$LAST_RC" = 0 ] || fails=$((fails + 1))
    done
    R[$side,$fig]=$(median "${vals[@]}")
    R[$side,$fig.fail]=$fails
    note "$(sidename "$side") $op x$RUNS: ms = ${vals[*]}  (failures $fails)"
}

scenario_storm() { # SIDE
    local side=$1 k pids=() t0 fails=0 per=() line
    t0=$(now_ns)
    for k in 1 2 3 4 5 6 7 8; do
        (
            xvm "$side" $((k + 1)) 30 -o reboot -H "vm$k"
            echo "$LAST_RC $LAST_MS" > "$TMP/storm-$side-$k"
        ) &
        pids+=($!)
    done
    PIDS+=("${pids[@]}")
    wait "${pids[@]}" 2>/dev/null
    forget "${pids[@]}"
    R[$side,storm]=$(ms_since "$t0")
    for k in 1 2 3 4 5 6 7 8; do
        line=$(cat "$TMP/storm-$side-$k" 2>/dev/null || echo "? ?")
        set -- $line
        [ "$1" = 0 ] || fails=$((fails + 1))
        per+=("vm$k:rc=$1/${2}ms")
    done
    R[$side,storm.fail]=$fails
    note "$(sidename "$side") storm: wall ${R[$side,storm]} ms, failures $fails; ${per[*]}"
}

scenario_stall() { # SIDE
    local side=$1 k st=() i sent called held name
    name=$(sidename "$side")
    for k in 1 2 3; do
        ip netns exec "${TAG}${side}$((k + 1))" "$PY" "$PEER" stall --key "$KEY" \
            --addr "$(addr_of "$side" $((k + 1)))" --port 40000 --op status --domain "vm$k" --hold 60 \
            > "$TMP/staller-$name-$k.log" 2>&1 &
        st+=($!)
    done
    PIDS+=("${st[@]}")
    # Wait (max 5 s) until all three have sent and the daemon called one back.
    for i in $(seq 1 50); do
        sent=$(cat "$TMP"/staller-"$name"-*.log 2>/dev/null | grep -c '^sent')
        called=$(cat "$TMP"/staller-"$name"-*.log 2>/dev/null | grep -c '^callback')
        [ "$sent" -ge 3 ] && [ "$called" -ge 1 ] && break
        sleep 0.1
    done
    held=$called
    xvm "$side" 5 25 -o status -H test
    R[$side,stall]=$LAST_MS
    R[$side,stall.rc]=$LAST_RC
    called=$(cat "$TMP"/staller-"$name"-*.log 2>/dev/null | grep -c '^callback')
    note "$name stall: $sent stalling requests sent, $held callback(s) held when timing started;" \
         "status rc=$LAST_RC in $LAST_MS ms; callbacks received by the stallers by then: $called"
    for k in "${st[@]}"; do kill -TERM "$k" 2>/dev/null; done
    for k in "${st[@]}"; do wait "$k" 2>/dev/null; done
    forget "${st[@]}"
    for k in 1 2 3; do sed "s/^/    staller $k: /" "$TMP/staller-$name-$k.log"; done
    # Let the daemon drain what is queued (the stock one serves one at a
    # time) before the next scenario: one status with a generous timeout.
    xvm "$side" 5 40 -o status -H test
    note "$name after the stall: status rc=$LAST_RC in $LAST_MS ms"
}

scenario_flood() { # SIDE
    local side=$1 name fl i vals=() fails=0 c0 c1 t0 tf cap spacing el wall cpu
    name=$(sidename "$side")
    # The flood lasts FLOOD_SECONDS for both daemons (same packet budget);
    # it is stretched only while status calls are still running, up to a
    # hard cap, and stopped as soon as both are done.
    cap=$((FLOOD_SECONDS + RUNS * 12))
    tf=$(now_ns)
    ip netns exec "${TAG}${side}9" "$PY" "$PEER" flood --addr "$(addr_of "$side" 9)" --seconds "$cap" \
        > "$TMP/flooder-$name.log" 2>&1 &
    fl=$!
    PIDS+=("$fl")
    sleep 1   # let the flood reach steady state (socket buffers full)
    c0=$(cpu_ticks "${DPID[$side]}")
    t0=$(now_ns)
    spacing=$(( (FLOOD_SECONDS - 2) * 1000 / RUNS ))   # ms between call starts
    for i in $(seq 1 "$RUNS"); do
        kill -0 "$fl" 2>/dev/null || { note "flooder ended early"; break; }
        el=$(ms_since "$t0")
        awk -v e="$el" -v t=$(( (i - 1) * spacing )) 'BEGIN { exit !(e < t) }' &&
            sleep "$(awk -v e="$el" -v t=$(( (i - 1) * spacing )) 'BEGIN { printf "%.3f", (t - e) / 1000 }')"
        xvm "$side" 2 10 -o status -H test
        vals+=("$LAST_MS")
        [ "$LAST_RC" = 0 ] || fails=$((fails + 1))
    done
    for i in $(seq 1 $((FLOOD_SECONDS * 10))); do
        awk -v e="$(ms_since "$tf")" -v f="$FLOOD_SECONDS" 'BEGIN { exit !(e < f * 1000) }' || break
        kill -0 "$fl" 2>/dev/null || break
        sleep 0.1
    done
    c1=$(cpu_ticks "${DPID[$side]}")
    wall=$(ms_since "$t0")
    kill -INT "$fl" 2>/dev/null
    for i in $(seq 1 30); do kill -0 "$fl" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$fl" 2>/dev/null
    wait "$fl" 2>/dev/null
    forget "$fl"
    R[$side,flood]=$(median "${vals[@]}")
    R[$side,flood.max]=$(printf '%s\n' "${vals[@]}" | sort -g | tail -1)
    R[$side,flood.fail]=$fails
    R[$side,flood.slow]=$(printf '%s\n' "${vals[@]}" | awk '$1 > 1000 { n++ } END { print n + 0 }')
    R[$side,flood.n]=${#vals[@]}
    R[$side,flood.sent]=$(sed -n 's/^flood sent \([0-9]*\) packets.*/\1/p' "$TMP/flooder-$name.log")
    cpu=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v w="$wall" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (w > 0) printf "%.0f", (b - a) / hz * 100000 / w; else print "?" }')
    note "$name flood: status ms = ${vals[*]} (failures $fails); daemon CPU ${cpu}% of one core; $(cat "$TMP/flooder-$name.log")"
    sleep 0.5
}

# ---------------------------------------------------------------- run

if [ "$MODE" = qemu ]; then
    # shellcheck source=bench/qemu-mode.sh
    . "$HERE/qemu-mode.sh"
    qemu_main
    exit $?
fi

echo "fence_virtd benchmark: ours ($OURS_DIR/fence_virtd) vs stock ($STOCK_DAEMON), client $XVM"
echo "runs per latency figure: $RUNS; $(nproc) CPU(s); $(uname -r)"
setup_lan o 1
setup_lan s 2
start_daemon o
start_daemon s
for side in o s; do
    R[$side,idle]=$(rss_kb "${DPID[$side]}" VmRSS)
done
note "daemons up: ours pid ${DPID[o]} (idle RSS ${R[o,idle]} kB), stock pid ${DPID[s]} (idle RSS ${R[s,idle]} kB)"

# Warm-up (not counted): proves each setup works and fills ARP caches.
for side in o s; do
    xvm "$side" 2 10 -o status -H test
    [ "$LAST_RC" = 0 ] || { tail -20 "$TMP/xvm-$(sidename $side).log"; tail -20 "$TMP/daemon-$(sidename $side).log"; die "warm-up status against $(sidename $side) failed (rc $LAST_RC)"; }
done

echo "[1/5] reboot latency"
for side in o s; do scenario_latency "$side" reboot test reboot; done
echo "[2/5] status latency"
for side in o s; do scenario_latency "$side" status test status; done
echo "[3/5] storm: 8 simultaneous reboots (vm1..vm8 from 8 hosts)"
for side in o s; do scenario_storm "$side"; done
echo "[4/5] status while 3 stalling requesters hold callbacks"
for side in o s; do scenario_stall "$side"; done
echo "[5/5] status during a flood of badly signed packets"
for side in o s; do scenario_flood "$side"; done

for side in o s; do
    if daemon_alive "$side"; then
        R[$side,peak]=$(rss_kb "${DPID[$side]}" VmHWM)
        R[$side,rss_end]=$(rss_kb "${DPID[$side]}" VmRSS)
    else
        R[$side,peak]="dead"
        note "$(sidename "$side") fence_virtd DIED during the benchmark:"
        tail -20 "$TMP/daemon-$(sidename "$side").log"
    fi
done
note "RSS at the end: ours ${R[o,rss_end]:-?} kB, stock ${R[s,rss_end]:-?} kB"

# Stop the daemons now (not only in the trap) to show their own summaries.
for side in o s; do kill -TERM "${DPID[$side]}" 2>/dev/null; done
for i in $(seq 1 50); do
    daemon_alive o || daemon_alive s || break
    sleep 0.1
done
for side in o s; do
    if ! daemon_alive "$side"; then
        wait "${DPID[$side]}" 2>/dev/null
        note "$(sidename "$side") fence_virtd exited with status $? on SIGTERM"
        forget "${DPID[$side]}"
    fi
done
summary=$(grep -E 'served [0-9]+ request' "$TMP/daemon-ours.log" | tail -1)
[ -n "$summary" ] && note "ours at exit: ${summary##*INFO }"
# Bad packets the daemon actually read and verified (the rest were dropped
# by the kernel because the socket buffer was full).
seen_o=$(sed -n 's/.*dropped \([0-9]*\) bad.*/\1/p' <<< "$summary")
seen_s=$(grep -c 'Hash mismatch' "$TMP/daemon-stock.log")
for side in o s; do
    if [ "$side" = o ]; then seen=$seen_o; else seen=$seen_s; fi
    note "$(sidename "$side") verified ${seen:-?} of ${R[$side,flood.sent]:-?} flood packets" \
         "($(awk -v a="${seen:-0}" -v b="${R[$side,flood.sent]:-0}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "?" }'))"
done
note "stock log: $(wc -l < "$TMP/daemon-stock.log") lines ($(du -h "$TMP/daemon-stock.log" | cut -f1)), mostly 'Hash mismatch' reports"

# ---------------------------------------------------------------- table

fmt_ms() { # SIDE FIG -> "12.3 ms" (+ failures)
    local v=${R[$1,$2]:-n/a} f=${R[$1,$2.fail]:-0}
    if [ "$f" != 0 ]; then echo "$v ms ($f fail)"; else echo "$v ms"; fi
}
fmt_flood() { # SIDE
    local v="${R[$1,flood]:-n/a} ms (max ${R[$1,flood.max]:-?}, ${R[$1,flood.slow]:-?} >1 s)" f=${R[$1,flood.fail]:-0}
    if [ "$f" != 0 ]; then echo "$v, $f fail"; else echo "$v"; fi
}
fmt_stall() {
    local v=${R[$1,stall]:-n/a} rc=${R[$1,stall.rc]:-?}
    case "$rc" in
        0) echo "$v ms" ;;
        1) echo "TIMEOUT ($v ms)" ;;
        124|137) echo "KILLED ($v ms)" ;;
        *) echo "rc=$rc ($v ms)" ;;
    esac
}
ratio() { # STOCK OURS -> stock/ours
    awk -v s="$1" -v o="$2" 'BEGIN { if (o + 0 > 0 && s + 0 > 0) printf "%.1fx", s / o; else print "n/a" }'
}
verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }' && echo 1 || echo 0; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }' && echo 1 || echo 0; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }' && echo 1 || echo 0; }
and() { [ "$1" = 1 ] && [ "$2" = 1 ] && echo 1 || echo 0; }

r_reboot=$(ratio "${R[s,reboot]}" "${R[o,reboot]}")
r_status=$(ratio "${R[s,status]}" "${R[o,status]}")
r_storm=$(ratio "${R[s,storm]}" "${R[o,storm]}")
r_stall=$(ratio "${R[s,stall]}" "${R[o,stall]}")
[ "${R[s,stall.rc]}" != 0 ] && [ "$r_stall" != n/a ] && r_stall=">$r_stall"
r_flood=$(ratio "${R[s,flood]}" "${R[o,flood]}")
r_idle=$(ratio "${R[s,idle]}" "${R[o,idle]}")
r_peak=$(ratio "${R[s,peak]}" "${R[o,peak]}")

v_reboot=$(verdict "$(and "$(le "${R[o,reboot]}" 50)" "$(ge "${r_reboot%x}" 20)")")
[ "${R[o,reboot.fail]}" = 0 ] || v_reboot=FAIL
v_storm=$(verdict "$(ge "${r_storm%x}" 20)")
[ "${R[o,storm.fail]}" = 0 ] || v_storm=FAIL
v_stall=$(verdict "$(lt "${R[o,stall]}" 250)")
[ "${R[o,stall.rc]}" = 0 ] || v_stall=FAIL
v_flood=$(verdict "$(lt "${R[o,flood]}" 100)")
[ "${R[o,flood.fail]}" = 0 ] || v_flood=FAIL
v_idle=$(verdict "$(le "${R[o,idle]}" "${R[s,idle]}")")

echo
echo "RESULTS (client: stock fence_xvm; times are wall-clock per fence_xvm run incl. process start)"
row() { printf '%-38s %-28s %-30s %-11s %-18s %s\n' "$@"; }
row "figure" "ours" "stock" "stock/ours" "target" "verdict"
row "------" "----" "-----" "----------" "------" "-------"
row "1 reboot 'test', median of $RUNS" "$(fmt_ms o reboot)" "$(fmt_ms s reboot)" "$r_reboot" "<=50 ms and >=20x" "$v_reboot"
row "2 status 'test', median of $RUNS" "$(fmt_ms o status)" "$(fmt_ms s status)" "$r_status" "-" "-"
row "3 storm: 8 parallel reboots, wall" "$(fmt_ms o storm)" "$(fmt_ms s storm)" "$r_storm" ">=20x" "$v_storm"
row "4 status with 3 stalled callbacks" "$(fmt_stall o)" "$(fmt_stall s)" "$r_stall" "<250 ms" "$v_stall"
row "5 status during flood, median of $RUNS" "$(fmt_flood o)" "$(fmt_flood s)" "$r_flood" "<100 ms" "$v_flood"
row "6a idle RSS (VmRSS before requests)" "${R[o,idle]} kB" "${R[s,idle]} kB" "$r_idle" "ours <= stock" "$v_idle"
row "6b peak RSS (VmHWM at the end)" "${R[o,peak]} kB" "${R[s,peak]} kB" "$r_peak" "-" "-"
