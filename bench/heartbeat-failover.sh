#!/bin/bash
# Benchmark (run by hand, not a test): failover time of our `heartbeat`
# cluster core, and of stock Heartbeat 3.0.6 (Debian package `heartbeat`)
# in the same run, on two nodes made of network namespaces.
#
#   bench/heartbeat-failover.sh [options]        (as root, from the repository root)
#
# Measured: the primary (alpha) loses power (every process in its namespace
# is killed with SIGKILL and its links go down) -> time until an HTTP GET
# from a client namespace to the service address is answered by the backup
# (bravo). The client starts a request every 15 ms. Fast settings
# (keepalive 200ms / deadtime 1) and the classic ones (keepalive 2 /
# deadtime 30). Ours fences alpha first (test fence agent
# tests/heartbeat/fence_netns, after stonith_delay); stock runs without
# STONITH, so ours is also measured without it (unfenced_takeover yes) for a
# like-for-like ratio. --soak: both nodes with the fast settings under full
# CPU load, counting false failovers. See bench/README.md.
#
# Options:
#   --runs N             runs with the fast settings, per implementation (default 5)
#   --classic-runs N     runs with keepalive 2 / deadtime 30 (default 1; 0 skips)
#   --stonith-delay D    our stonith_delay for the measured runs (default 500ms)
#   --no-default-delay   skip the extra fast run of ours with the default stonith_delay (auto)
#   --no-stock           do not run stock Heartbeat
#   --soak [SECONDS]     instead of the failover runs: the soak (default 600 s)
#   --soak-stock         with --soak: soak stock Heartbeat too, after ours
#   --failover           with --soak: do the failover runs as well (first)
#   --ours PATH          our heartbeat binary (default target/release/heartbeat,
#                        else target/debug/heartbeat)
#   --keep-logs DIR      copy every log to DIR
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/netns.sh
. "$HERE/../scripts/lib/netns.sh"
ROOT=$(cd "$HERE/.." && pwd)
HELPERS=$HERE/heartbeat
FENCE_NETNS=$(cd "$HERE/../tests/heartbeat" && pwd)/fence_netns  # the test suite's agent, shared
STOCK_BIN=/usr/libexec/heartbeat/heartbeat

RUNS=5
CLASSIC_RUNS=1
STONITH_DELAY=500ms
DEFAULT_DELAY_RUN=1
STOCK=1
SOAK=0
SOAK_STOCK=0
FAILOVER=1
OURS=
KEEP_LOGS=

usage() {
    sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift ;;
    --classic-runs) CLASSIC_RUNS=$2; shift ;;
    --stonith-delay) STONITH_DELAY=$2; shift ;;
    --no-default-delay) DEFAULT_DELAY_RUN=0 ;;
    --no-stock) STOCK=0 ;;
    --soak)
        SOAK=600
        FAILOVER=0
        if [ $# -gt 1 ] && [[ $2 =~ ^[0-9]+$ ]]; then SOAK=$2; shift; fi
        ;;
    --soak-stock) SOAK_STOCK=1 ;;
    --failover) FORCE_FAILOVER=1 ;;
    --ours) OURS=$2; shift ;;
    --keep-logs) KEEP_LOGS=$2; shift ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
[ -n "${FORCE_FAILOVER:-}" ] && FAILOVER=1

die() {
    echo "heartbeat-failover: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
for tool in ip unshare python3 busybox; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
if [ -z "$OURS" ]; then
    if [ -x "$ROOT/target/release/heartbeat" ]; then OURS=$ROOT/target/release/heartbeat
    elif [ -x "$ROOT/target/debug/heartbeat" ]; then OURS=$ROOT/target/debug/heartbeat
    else die "no heartbeat binary: cargo build --release -p heartbeat"; fi
fi
[ -x "$OURS" ] || die "$OURS is not executable"
case "$OURS" in
*/release/*) BUILD=release ;;
*/debug/*) BUILD=debug ;;
*) BUILD="as given ($OURS)" ;;
esac
STOCK_WHY=
if [ "$STOCK" = 1 ] && [ ! -x "$STOCK_BIN" ]; then
    STOCK=0
    STOCK_WHY="not installed (apt-get install heartbeat)"
fi
[ "$STOCK" = 0 ] && [ -z "$STOCK_WHY" ] && STOCK_WHY="skipped (--no-stock)"

# ---------------------------------------------------------------- set-up --

P=hbf$$
NS_HUB=${P}h NS_CLIENT=${P}c NS_A=${P}a NS_B=${P}b
SERVICE_IP=198.18.0.100
WORK=$(mktemp -d /tmp/hbfailover.XXXXXX)
STATE=$WORK/state
# Background processes of ours still running (outside the node namespaces).
PROBE_PID=
HOGS=()
STAMP_PIDS=()

cleanup() {
    trap - EXIT INT TERM
    local ns pid
    for pid in $PROBE_PID "${HOGS[@]}" "${STAMP_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for ns in "$NS_A" "$NS_B" "$NS_CLIENT" "$NS_HUB"; do
        [ -e "/run/netns/$ns" ] || continue
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            pid=$(ip netns pids "$ns" 2>/dev/null)
            [ -z "$pid" ] && break
            kill -9 $pid 2>/dev/null
            sleep 0.05
        done
    done
    for pid in $PROBE_PID "${HOGS[@]}" "${STAMP_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    for ns in "$NS_A" "$NS_B" "$NS_CLIENT" "$NS_HUB"; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns"
    done
    if [ -n "$KEEP_LOGS" ]; then
        mkdir -p "$KEEP_LOGS" && cp -r "$WORK"/logs/. "$KEEP_LOGS"/ 2>/dev/null
        echo "logs kept in $KEEP_LOGS"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/logs" "$STATE"

# Hub namespace with bridge br0 (public network 198.18.0.0/24): alpha .1,
# bravo .2, client .254; alpha and bravo also share a dedicated veth link
# eth1 (198.18.1.1 - 198.18.1.2).
netns_hub "$NS_HUB" || die "setting up $NS_HUB"
netns_host "$NS_HUB" "$NS_CLIENT" pc 198.18.0.254/24 || die "setting up $NS_CLIENT"
netns_host "$NS_HUB" "$NS_A" pa 198.18.0.1/24 || die "setting up $NS_A"
netns_host "$NS_HUB" "$NS_B" pb 198.18.0.2/24 || die "setting up $NS_B"
ip -n "$NS_A" link add eth1 type veth peer name eth1 netns "$NS_B"
ip -n "$NS_A" addr add 198.18.1.1/24 dev eth1
ip -n "$NS_B" addr add 198.18.1.2/24 dev eth1
ip -n "$NS_A" link set eth1 up
ip -n "$NS_B" link set eth1 up

ns_of() { [ "$1" = alpha ] && echo "$NS_A" || echo "$NS_B"; }

# Timestamps every line read from stdin with the Unix time it arrived.
stamp() {
    local l
    while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

now() { echo "$EPOCHREALTIME"; }
# Float arithmetic.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

kill_ns() { # ns: every process in it, until none is left
    local pids
    for _ in $(seq 100); do
        pids=$(ip netns pids "$1")
        [ -z "$pids" ] && return 0
        kill -9 $pids 2>/dev/null
        sleep 0.02
    done
}

# Both nodes off, links up, no service address: ready for a fresh start.
reset_nodes() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        kill_ns "$ns"
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set eth1 up
        ip -n "$ns" addr del "$SERVICE_IP/24" dev eth0 2>/dev/null
    done
    rm -rf "${STATE:?}"/*
    # Stamp loops of the previous nodes end when their input closes.
    wait_bg_stamps
}

wait_bg_stamps() {
    local pid
    for pid in "${STAMP_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    STAMP_PIDS=()
}

# ------------------------------------------------------ configurations --

# ha.cf timing lines. $1 = fast|classic.
timings() {
    case "$1" in
    fast) printf 'keepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 2\n' ;;
    classic) printf 'keepalive 2\nwarntime 10\ndeadtime 30\ninitdead 60\n' ;;
    esac
}

HARESOURCES="alpha $SERVICE_IP/24/eth0 svc::$STATE::$SERVICE_IP"
AUTHKEYS='auth 1\n1 sha1 heartbeat-failover-bench\n'

# The ha.cf lines both implementations share: timing $1, media, nodes, policy.
cluster_lines() {
    timings "$1"
    echo "udpport 694"
    echo "bcast eth0"
    echo "ucast eth1 198.18.1.1"
    echo "ucast eth1 198.18.1.2"
    echo "node alpha bravo"
    echo "auto_failback off"
}

# authkeys, haresources and the resource scripts into config dir $1.
cluster_files() {
    printf "$AUTHKEYS" >"$1/authkeys"
    chmod 600 "$1/authkeys"
    echo "$HARESOURCES" >"$1/haresources"
    cp "$HELPERS/IPaddr" "$HELPERS/svc" "$1/resource.d/"
}

# Our configuration for node $1 in $2: timing $3, stonith_delay $4 ("" =
# default; "none" = no STONITH device and `unfenced_takeover yes`, i.e. the
# stock setup), fence log $5.
ours_config() {
    local node=$1 dir=$2 timing=$3 delay=$4 fence_log=$5
    mkdir -p "$dir/resource.d"
    {
        echo "# bench/heartbeat-failover.sh ($timing)"
        cluster_lines "$timing"
        if [ "$delay" = none ]; then
            echo "unfenced_takeover yes"
        else
            echo "stonith_host * $FENCE_NETNS host_map=alpha:$NS_A;bravo:$NS_B log=$fence_log"
            [ -n "$delay" ] && echo "stonith_delay $delay"
        fi
    } >"$dir/ha.cf"
    cluster_files "$dir"
}

# Stock node $1: a copy of /etc/ha.d with the same resource scripts, its own
# /var/lib/heartbeat and /run, all bind-mounted over the real ones in a
# private mount namespace. Timing $2.
stock_config() {
    local node=$1 timing=$2 root=$WORK/stock/$1
    if [ ! -d "$root" ]; then
        mkdir -p "$root"
        cp -a /etc/ha.d "$root/ha.d"
        cp -a /var/lib/heartbeat "$root/lib"
    fi
    # A fresh /run each start: a pid file left by the killed daemon would
    # make the next one exit with "already running" once its pid is reused.
    rm -rf "$root/run"
    mkdir -p "$root/run/heartbeat/ccm" "$root/run/heartbeat/crm" "$root/run/heartbeat/dopd" "$root/run/crm"
    chown -R hacluster:haclient "$root/run/heartbeat" "$root/run/crm" 2>/dev/null
    chmod 750 "$root/run/heartbeat" "$root/run/crm"
    {
        echo "# bench/heartbeat-failover.sh ($timing), stock Heartbeat 3.0.6"
        cluster_lines "$timing"
        echo "crm off"
        echo "use_logd no"
        echo "logfacility none"
        echo "logfile $root/ha-log"
        echo "debugfile /dev/null"
    } >"$root/ha.d/ha.cf"
    cluster_files "$root/ha.d"
    : >"$root/ha-log"
}

# ------------------------------------------------------------- nodes --

# Starts node $1 of implementation $2 (ours|stock); its stamped log is $3.
# Our config dir is $WORK/ours/NODE.
start_node() {
    local node=$1 impl=$2 log=$3 ns
    ns=$(ns_of "$node")
    if [ "$impl" = ours ]; then
        mkdir -p "$WORK/ours/$node/run"
        ip netns exec "$ns" "$OURS" run -c "$WORK/ours/$node/ha.d" --node "$node" \
            --run-dir "$WORK/ours/$node/run" </dev/null 2>&1 | stamp >"$log" &
        STAMP_PIDS+=($!)
    else
        local root=$WORK/stock/$node
        # tail -F follows the log file heartbeat writes; -s for the polling fallback.
        tail -n +1 -s 0.02 -F "$root/ha-log" 2>/dev/null > >(stamp >"$log") &
        STAMP_PIDS+=($!)
        ip netns exec "$ns" unshare --mount --uts --propagation private sh -c '
            mount --bind "$1/ha.d" /etc/ha.d &&
            mount --bind "$1/lib" /var/lib/heartbeat &&
            mount --bind "$1/run" /run &&
            hostname "$2" &&
            exec "$3"' sh "$root" "$node" "$STOCK_BIN" </dev/null >>"$root/start.out" 2>&1
    fi
}

# Waits until $1 (seconds) for a line matching ERE $2 in file $3.
wait_line() {
    local limit=$1 re=$2 file=$3 end
    end=$(calc "$(now) + $limit")
    while ! grep -Eq -- "$re" "$file" 2>/dev/null; do
        awk "BEGIN { exit !($(now) > $end) }" && return 1
        sleep 0.05
    done
}

# Starts the client's prober (output file $1).
start_probe() {
    : >"$1"
    ip netns exec "$NS_CLIENT" python3 "$HELPERS/probe.py" "$SERVICE_IP" "$1" 0.015 0.5 &
    PROBE_PID=$!
}
stop_probe() {
    [ -n "$PROBE_PID" ] || return 0
    kill "$PROBE_PID" 2>/dev/null
    wait "$PROBE_PID" 2>/dev/null
    PROBE_PID=
}

# Last answer (answered time and body) in probe file $1.
last_answer() { tail -n 1 "$1" 2>/dev/null; }

# Waits until the client has had answers from $2 for a while (limit $1 s).
wait_served_by() {
    local limit=$1 node=$2 file=$3 end
    end=$(calc "$(now) + $limit")
    while :; do
        if [ "$(last_answer "$file" | awk '{print $3}')" = "$node" ]; then
            return 0
        fi
        awk "BEGIN { exit !($(now) > $end) }" && return 1
        sleep 0.05
    done
}

# ------------------------------------------------------ failover runs --

RESULTS=$WORK/results # lines: label value(s)
: >"$RESULTS"

# One failover run: implementation $1, timing $2, our stonith_delay $3 ("" =
# default), label $4, run number $5. Prints one line, appends to RESULTS.
failover_run() {
    local impl=$1 timing=$2 delay=$3 label=$4 n=$5
    local dir=$WORK/logs/$label-$n fence_log probe t0 t_off answered first_bravo
    local settle limit
    mkdir -p "$dir"
    fence_log=$dir/fence.log
    probe=$dir/probe.txt
    : >"$fence_log"
    reset_nodes
    for node in alpha bravo; do
        if [ "$impl" = ours ]; then
            rm -rf "$WORK/ours/$node"
            ours_config "$node" "$WORK/ours/$node/ha.d" "$timing" "$delay" "$fence_log"
        else
            stock_config "$node" "$timing"
        fi
    done
    start_node alpha "$impl" "$dir/alpha.log"
    start_node bravo "$impl" "$dir/bravo.log"
    start_probe "$probe"
    # Steady: both finished their initial acquisition, alpha serves.
    if [ "$timing" = classic ]; then limit=120; settle=5; else limit=30; settle=1.5; fi
    local ok=1
    for node in alpha bravo; do
        wait_line "$limit" 'Initial resource acquisition complete' "$dir/$node.log" || ok=0
    done
    [ "$ok" = 1 ] && { wait_served_by "$limit" alpha "$probe" || ok=0; }
    if [ "$ok" != 1 ]; then
        echo "  $label run $n: cluster did not reach a steady state (alpha serving); logs in $dir" >&2
        [ -z "$KEEP_LOGS" ] && { echo "----- alpha"; tail -n 20 "$dir/alpha.log"; echo "----- bravo"; tail -n 20 "$dir/bravo.log"; } >&2
        stop_probe
        echo "$label FAIL" >>"$RESULTS"
        return 1
    fi
    sleep "$settle"
    # Power loss of alpha: what the fence agent does (SIGKILL to every
    # process in its namespace, then its links down). t0 = the first kill.
    local pids
    pids=$(ip netns pids "$NS_A")
    t0=$(now)
    kill -9 $pids 2>/dev/null
    printf 'action=off\nplug=%s\nnodename=alpha\nlog=%s\n' "$NS_A" "$dir/power-off.log" |
        "$FENCE_NETNS" >/dev/null
    t_off=$(now)
    # Wait for bravo's first answer.
    if [ "$timing" = classic ]; then limit=120; else limit=30; fi
    first_bravo=
    local end
    end=$(calc "$t0 + $limit")
    while :; do
        first_bravo=$(awk -v t0="$t0" '$1 >= t0 && $3 == "bravo" { print; exit }' "$probe")
        [ -n "$first_bravo" ] && break
        awk "BEGIN { exit !($(now) > $end) }" && break
        sleep 0.05
    done
    sleep 0.3
    stop_probe
    if [ -z "$first_bravo" ]; then
        echo "  $label run $n: bravo did not serve within $limit s; logs in $dir" >&2
        [ -z "$KEEP_LOGS" ] && { echo "----- bravo"; tail -n 30 "$dir/bravo.log"; } >&2
        echo "$label FAIL" >>"$RESULTS"
        return 1
    fi
    answered=$(echo "$first_bravo" | awk '{print $2}')
    local total dead fence_start fenced acquire
    total=$(calc "$answered - $t0")
    # Breakdown from bravo's stamped log (first matching line after t0).
    ev() { awk -v t0="$t0" -v re="$1" '$1 >= t0 && $0 ~ re { printf "%.3f", $1 - t0; exit }' "$dir/bravo.log"; }
    dead=$(ev 'node alpha: is dead')
    fence_start=$(ev 'Resetting node alpha')
    fenced=$(ev 'node alpha now reset')
    acquire=$(ev 'Acquiring resource group')
    local stale
    stale=$(awk -v t=0 -v t0="$t0" '$1 >= t0 && $3 == "alpha" { n++ } END { print n + 0 }' "$probe")
    printf '  %-24s run %d: kill -> bravo answers %6.3f s  (dead %s, fence %s..%s, acquire %s; links down after %.3f s)\n' \
        "$label" "$n" "$total" "${dead:--}" "${fence_start:--}" "${fenced:--}" "${acquire:--}" "$(calc "$t_off - $t0")"
    [ "$stale" -gt 0 ] && echo "    note: $stale request(s) sent after the kill were still answered by alpha"
    echo "$label $total ${dead:--} ${fence_start:--} ${fenced:--} ${acquire:--}" >>"$RESULTS"
    # Both must be stopped before the next run.
    reset_nodes
    cp "$WORK/stock/alpha/start.out" "$dir/alpha-start.out" 2>/dev/null
    cp "$WORK/stock/bravo/start.out" "$dir/bravo-start.out" 2>/dev/null
    return 0
}

median() { # values on stdin
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
stats() { # label -> "median min max n"
    local vals
    vals=$(awk -v l="$1" '$1 == l && $2 != "FAIL" { print $2 }' "$RESULTS")
    if [ -z "$vals" ]; then echo "- - - 0"; return; fi
    printf '%s %s %s %s\n' "$(echo "$vals" | median)" "$(echo "$vals" | sort -g | head -n1)" \
        "$(echo "$vals" | sort -g | tail -n1)" "$(echo "$vals" | wc -l)"
}
col_median() { # label column -> median of that column (skipping "-")
    awk -v l="$1" -v c="$2" '$1 == l && $2 != "FAIL" && $c != "-" { print $c }' "$RESULTS" | median
}

# ------------------------------------------------------------- soak --

# Soak of implementation $1 for $2 seconds. Appends to SOAK_RESULTS.
SOAK_RESULTS=$WORK/soak
: >"$SOAK_RESULTS"
soak() {
    local impl=$1 seconds=$2 dir=$WORK/logs/soak-$1 probe ncpu fence_log
    mkdir -p "$dir"
    fence_log=$dir/fence.log
    : >"$fence_log"
    probe=$dir/probe.txt
    reset_nodes
    for node in alpha bravo; do
        if [ "$impl" = ours ]; then
            rm -rf "$WORK/ours/$node"
            ours_config "$node" "$WORK/ours/$node/ha.d" fast "$STONITH_DELAY" "$fence_log"
        else
            stock_config "$node" fast
        fi
    done
    start_node alpha "$impl" "$dir/alpha.log"
    start_node bravo "$impl" "$dir/bravo.log"
    : >"$probe"
    # A slower client (every 200 ms) that watches who serves.
    ip netns exec "$NS_CLIENT" python3 "$HELPERS/probe.py" "$SERVICE_IP" "$probe" 0.2 1.0 &
    PROBE_PID=$!
    local ok=1
    for node in alpha bravo; do
        wait_line 30 'Initial resource acquisition complete' "$dir/$node.log" || ok=0
    done
    [ "$ok" = 1 ] && { wait_served_by 30 alpha "$probe" || ok=0; }
    if [ "$ok" != 1 ]; then
        echo "  soak ($impl): the cluster did not reach a steady state" >&2
        stop_probe
        echo "$impl FAIL" >>"$SOAK_RESULTS"
        return 1
    fi
    sleep 2
    local t_start t_end
    t_start=$(now)
    ncpu=$(nproc)
    if command -v stress-ng >/dev/null; then
        stress-ng --cpu "$ncpu" --timeout "${seconds}s" --quiet &
        HOGS+=($!)
        HOG_KIND="stress-ng --cpu $ncpu"
    else
        for _ in $(seq "$ncpu"); do
            sh -c 'while :; do :; done' &
            HOGS+=($!)
        done
        HOG_KIND="$ncpu busy shell loops"
    fi
    echo "  soak ($impl): both nodes up, $HOG_KIND for $seconds s ..."
    local load_sample=
    sleep "$((seconds < 5 ? seconds : 5))"
    load_sample=$(top -bn1 2>/dev/null | awk '/^%Cpu/ { print 100 - $8 "% busy"; exit }')
    sleep "$((seconds > 5 ? seconds - 5 : 0))"
    t_end=$(now)
    kill "${HOGS[@]}" 2>/dev/null
    wait "${HOGS[@]}" 2>/dev/null
    HOGS=()
    # Anything after the start of the load that means a failover.
    local re='is dead|Resetting node|now reset|Acquiring resource group|Resources being acquired|Taking over|returning after partition|STONITH'
    local events_a events_b late_a late_b max_late fences served_by_bravo alive_a alive_b
    events_a=$(awk -v t="$t_start" -v re="$re" '$1 >= t && $0 ~ re' "$dir/alpha.log" | wc -l)
    events_b=$(awk -v t="$t_start" -v re="$re" '$1 >= t && $0 ~ re' "$dir/bravo.log" | wc -l)
    late_a=$(awk -v t="$t_start" '$1 >= t && /Late heartbeat/' "$dir/alpha.log" | wc -l)
    late_b=$(awk -v t="$t_start" '$1 >= t && /Late heartbeat/' "$dir/bravo.log" | wc -l)
    max_late=$(awk -v t="$t_start" '$1 >= t && /Late heartbeat/ { for (i = 1; i < NF; i++) if ($i == "interval") { v = $(i + 1) + 0; if (v > m) m = v } } END { print m + 0 }' "$dir/alpha.log" "$dir/bravo.log")
    fences=$(wc -l <"$fence_log")
    served_by_bravo=$(awk '$3 == "bravo"' "$probe" | wc -l)
    local answered requests
    answered=$(awk -v a="$t_start" -v b="$t_end" '$1 >= a && $1 <= b' "$probe" | wc -l)
    requests=$(calc "($t_end - $t_start) / 0.2")
    [ -n "$(ip netns pids "$NS_A")" ] && alive_a=yes || alive_a=no
    [ -n "$(ip netns pids "$NS_B")" ] && alive_b=yes || alive_b=no
    stop_probe
    echo "  soak ($impl): $seconds s, CPU ${load_sample:-?}; failover events alpha $events_a, bravo $events_b;" \
        "fence calls $fences; answers from bravo $served_by_bravo; late-heartbeat warnings alpha $late_a, bravo $late_b" \
        "(longest interval ${max_late} ms); client answers $answered of ~${requests%.*}; nodes alive: alpha $alive_a, bravo $alive_b"
    if [ "$events_a" -gt 0 ] || [ "$events_b" -gt 0 ]; then
        echo "  soak ($impl): failover-related log lines:"
        awk -v t="$t_start" -v re="$re" '$1 >= t && $0 ~ re { print "    alpha: " $0 }' "$dir/alpha.log" | head -n 10
        awk -v t="$t_start" -v re="$re" '$1 >= t && $0 ~ re { print "    bravo: " $0 }' "$dir/bravo.log" | head -n 10
    fi
    echo "$impl $seconds $((events_a + events_b)) $fences $served_by_bravo $late_a $late_b $max_late $answered ${requests%.*}" >>"$SOAK_RESULTS"
    reset_nodes
}

# --------------------------------------------------------------- main --

echo "heartbeat failover benchmark"
echo "  ours:  $OURS ($BUILD build of $(date -r "$OURS" '+%F %T'); repository HEAD $(cd "$ROOT" && git log -1 --format=%h 2>/dev/null || echo '?'))"
if [ "$STOCK" = 1 ]; then
    echo "  stock: $STOCK_BIN ($(dpkg-query -W -f='${Version}' heartbeat 2>/dev/null)), v1 haresources mode (crm off), no STONITH"
else
    echo "  stock: $STOCK_WHY"
fi
echo "  machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  namespaces: $NS_HUB (bridge) $NS_CLIENT (client) $NS_A (alpha) $NS_B (bravo); work dir $WORK"
echo

if [ "$FAILOVER" = 1 ]; then
    echo "Failover: power loss of alpha -> first HTTP answer from bravo (client request every 15 ms)"
    echo "  our stonith_delay: $STONITH_DELAY; breakdown columns are seconds after the kill, from bravo's log"
    for n in $(seq "$RUNS"); do failover_run ours fast "$STONITH_DELAY" ours-fast "$n"; done
    if [ "$STOCK" = 1 ]; then
        for n in $(seq "$RUNS"); do failover_run stock fast "" stock-fast "$n"; done
    fi
    if [ "$STOCK" = 1 ]; then
        # Like for like with stock (which runs without STONITH here).
        for n in $(seq "$RUNS"); do failover_run ours fast none ours-fast-nostonith "$n"; done
    fi
    if [ "$DEFAULT_DELAY_RUN" = 1 ]; then
        failover_run ours fast "" ours-fast-default-delay 1
    fi
    for n in $(seq "$CLASSIC_RUNS"); do failover_run ours classic "$STONITH_DELAY" ours-classic "$n"; done
    if [ "$STOCK" = 1 ]; then
        for n in $(seq "$CLASSIC_RUNS"); do failover_run stock classic "" stock-classic "$n"; done
    fi
    echo
fi

if [ "$SOAK" -gt 0 ]; then
    echo "Soak: both nodes, fast settings, every CPU saturated"
    soak ours "$SOAK"
    [ "$SOAK_STOCK" = 1 ] && [ "$STOCK" = 1 ] && soak stock "$SOAK"
    echo
fi

# ------------------------------------------------------------ summary --

echo "================================ summary ================================"
echo "ours: $BUILD build; stock: ${STOCK_WHY:-Heartbeat 3.0.6 (Debian), no STONITH}"
if [ "$FAILOVER" = 1 ]; then
    printf '%-40s %8s %8s %8s %4s   %s\n' "kill -> bravo answers (s)" median min max runs "bravo's log: dead / fence done / acquire (medians)"
    row() { # label text
        local s
        s=$(stats "$1")
        set -- "$1" "$2" $s
        printf '%-40s %8s %8s %8s %4s   %s / %s / %s\n' "$2" "$3" "$4" "$5" "$6" \
            "$(col_median "$1" 3)" "$(col_median "$1" 5)" "$(col_median "$1" 6)"
    }
    row ours-fast "ours, fast, stonith_delay $STONITH_DELAY"
    [ "$STOCK" = 1 ] && row stock-fast "stock, fast (no STONITH)"
    [ "$STOCK" = 1 ] && row ours-fast-nostonith "ours, fast, no STONITH"
    [ "$DEFAULT_DELAY_RUN" = 1 ] && row ours-fast-default-delay "ours, fast, stonith_delay auto (dflt)"
    [ "$CLASSIC_RUNS" -gt 0 ] && row ours-classic "ours, classic, stonith_delay $STONITH_DELAY"
    [ "$STOCK" = 1 ] && [ "$CLASSIC_RUNS" -gt 0 ] && row stock-classic "stock, classic (no STONITH)"
    echo "  fast = keepalive 200ms / warntime 500ms / deadtime 1 / initdead 2"
    echo "  classic = keepalive 2 / warntime 10 / deadtime 30 / initdead 60"
    of() { stats "$1" | awk '{print $1}'; }
    ratio() {
        local a b
        a=$(of "$1") b=$(of "$2")
        if [ "$a" = - ] || [ "$b" = - ]; then echo "-"; else calc "$a / $b"; fi
    }
    if [ "$STOCK" = 1 ]; then
        echo "ratio ours/stock (medians): fast $(ratio ours-fast stock-fast)x (ours with STONITH," \
            "stonith_delay $STONITH_DELAY), fast like for like without STONITH $(ratio ours-fast-nostonith stock-fast)x" \
            "$([ "$CLASSIC_RUNS" -gt 0 ] && echo "; classic $(ratio ours-classic stock-classic)x (ours with STONITH)")"
    else
        echo "no stock figures measured in this run: $STOCK_WHY"
    fi
    fast_median=$(of ours-fast)
    if [ "$fast_median" != - ]; then
        if awk "BEGIN { exit !($fast_median < 2) }"; then verdict="met"; else verdict="NOT met"; fi
        echo "target: fast failover under 2 s: $verdict (median $fast_median s)"
    fi
    if grep -q ' FAIL' "$RESULTS"; then
        echo "FAILED runs: $(grep -c ' FAIL' "$RESULTS")"
    fi
fi
if [ "$SOAK" -gt 0 ]; then
    printf '%-8s %7s %16s %12s %14s %22s %16s\n' soak seconds failover-events fence-calls bravo-answers "late-hb warn (a/b)" "client answers"
    while read -r impl secs events fences bravo late_a late_b max_late answered requests; do
        [ "$secs" = FAIL ] && { printf '%-8s did not start\n' "$impl"; continue; }
        printf '%-8s %7s %16s %12s %14s %22s %16s\n' "$impl" "$secs" "$events" "$fences" "$bravo" \
            "$late_a/$late_b (max ${max_late}ms)" "$answered/~$requests"
    done <"$SOAK_RESULTS"
    echo "target: 0 false failovers (failover events, fence calls and answers from bravo all 0)"
fi
