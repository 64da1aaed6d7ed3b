# shellcheck shell=bash
# bench/qemu-mode.sh - the --qemu mode of bench/compare.sh (sourced by it,
# not run on its own): single-reboot comparison on a real QEMU guest under
# libvirtd (qemu:///system), for both of our reboot methods.
#
# Uses from compare.sh: TAG TMP KEY RUNS OURS_DIR STOCK_DAEMON XVM PIDS
# NSLIST R DPID, and die note now_ns ms_since median setup_lan write_conf
# start_daemon xvm sidename daemon_alive forget. Its own cleanup
# (qemu_cleanup) is called by compare.sh's exit trap after the fence daemons
# are stopped.
#
# Sides: o = ours, reboot_method "cycle" (198.18.1.0/24); s = stock
# (198.18.2.0/24); r = ours, reboot_method "reset" (198.18.3.0/24). Each LAN
# is a hub plus 2 hosts (1 = daemon, 2 = fence_xvm).

VIRSH_URI=qemu:///system
QDOM="fvb$$q"                  # our domain; destroyed + undefined on exit
QDEFINED=0
LVDIR="$TMP/libvirt"           # pid files of a virtlogd / libvirtd started by us (stopped last)
BOOT_MARK="FVBENCH-GUEST-UP"
CONSOLE="$TMP/console.log"
BOOT_WAIT_S=60                 # max wait for the guest's init after a reboot
# virDomainDestroy sends SIGTERM and then checks every 200 ms whether QEMU
# has gone (virProcessKillPainfully), so every destroy takes a multiple of
# 200 ms, and single destroys land one step apart at random. "No slower
# than (a)" allows this one step. (QEMU's exit looked like 1.2-1.8 s here
# until libvirtd ran under a subreaper: that was the zombie waiting for a
# slow PID 1 to reap it; see scripts/lib/libvirt.sh.)
CYCLE_SLACK_MS=200

vsh() { timeout -k 2 30 virsh -q -c "$VIRSH_URI" "$@"; }
# shellcheck source=scripts/lib/libvirt.sh
. "$REPO/scripts/lib/libvirt.sh"
qemu_pid() { cat "/run/libvirt/qemu/$QDOM.pid" 2>/dev/null; }
boots() { # how many times the guest's /init has printed its marker
    local n
    n=$(grep -c "$BOOT_MARK" "$CONSOLE" 2>/dev/null)
    echo "${n:-0}"
}

qemu_cleanup() {
    local qp
    if [ "$QDEFINED" = 1 ]; then
        qp=$(qemu_pid)
        vsh destroy "$QDOM" >/dev/null 2>&1
        vsh undefine "$QDOM" >/dev/null 2>&1 || note "warning: could not undefine domain $QDOM"
        # Last resort if libvirtd could not destroy it: our QEMU only.
        if [ -n "$qp" ] && [ -r "/proc/$qp/cmdline" ] &&
            tr '\0' ' ' 2>/dev/null < "/proc/$qp/cmdline" | grep -q "guest=$QDOM,"; then
            kill -KILL "$qp" 2>/dev/null
        fi
        rm -f "/var/log/libvirt/qemu/$QDOM.log"
        QDEFINED=0
    fi
    libvirt_stop "$LVDIR"
}

qemu_checks() {
    local c
    for c in virsh qemu-system-x86_64 cpio gzip ldd; do
        command -v "$c" >/dev/null || die "--qemu: $c missing (apt-get install libvirt-daemon-system qemu-system-x86 cpio)"
    done
    command -v libvirtd >/dev/null || command -v virtqemud >/dev/null ||
        die "--qemu: neither libvirtd nor virtqemud installed (apt-get install libvirt-daemon-system)"
    command -v virtlogd >/dev/null || die "--qemu: virtlogd missing (apt-get install libvirt-daemon-system)"
    [ -x /bin/busybox ] || die "--qemu: /bin/busybox missing (apt-get install busybox-static)"
    case "$(ldd /bin/busybox 2>&1)" in *"not a dynamic"*) ;; *) false ;; esac ||
        die "--qemu: /bin/busybox is dynamically linked (apt-get install busybox-static)"
    ls /boot/vmlinuz-* >/dev/null 2>&1 || die "--qemu: no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
}

# start_libvirt: a libvirtd on qemu:///system (scripts/lib/libvirt.sh; its
# own session, so Ctrl-C reaches the script's trap first and the domain is
# destroyed before libvirtd goes away).
start_libvirt() {
    libvirt_start "$LVDIR" || die "libvirt: see above"
    LV_NOTE=$LIBVIRT_NOTE
}

# build_guest: kernel copy (readable by the libvirt-qemu user), busybox
# initramfs whose /init mounts proc + devtmpfs, prints the boot marker on
# the console and sleeps forever; domain XML.
build_guest() {
    local root="$TMP/initramfs"
    KERNEL_SRC=$(ls -1 /boot/vmlinuz-* | sort -V | tail -1)
    cp "$KERNEL_SRC" "$TMP/vmlinuz" || die "cannot copy $KERNEL_SRC"
    mkdir -p "$root/bin" "$root/dev" "$root/proc"
    cp /bin/busybox "$root/bin/busybox"
    mknod "$root/dev/console" c 5 1 2>/dev/null || true
    cat > "$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
echo "$BOOT_MARK \$(/bin/busybox cut -d' ' -f1 /proc/uptime)" > /dev/console
while :; do /bin/busybox sleep 3600; done
EOF
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$TMP/initrd.gz" || die "cpio/gzip failed"
    chmod 644 "$TMP/vmlinuz" "$TMP/initrd.gz"
    cat > "$TMP/domain.xml" <<EOF
<domain type='qemu'>
  <name>$QDOM</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$TMP/vmlinuz</kernel>
    <initrd>$TMP/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='$CONSOLE' append='on'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# wait_boot BEFORE T0: wait (max BOOT_WAIT_S) until the marker count exceeds
# BEFORE; sets BOOT_MS (ms since T0) or "-" on timeout.
wait_boot() {
    local before=$1 t0=$2 i
    BOOT_MS="-"
    for i in $(seq 1 $((BOOT_WAIT_S * 10))); do
        if [ "$(boots)" -gt "$before" ]; then BOOT_MS=$(ms_since "$t0"); return 0; fi
        sleep 0.1
    done
    return 1
}

KINDS="a s o r"
kind_name() {
    case "$1" in
        a) echo "virsh destroy + start" ;;
        s) echo "stock fence_virtd" ;;
        o) echo "ours, cycle" ;;
        r) echo "ours, reset" ;;
    esac
}

# q_reboot KIND ROUND: one reboot by KIND, then domstate + qemu pid + boot.
q_reboot() {
    local k=$1 round=$2 t0 pid0 pid1 before state rc1 rc2 fresh
    if [ "$k" != a ] && ! daemon_alive "$k"; then
        # Do not wait 30 s for a daemon that is gone; report it once.
        if [ -z "${Q[$k.dead]:-}" ]; then
            wait "${DPID[$k]}" 2>/dev/null
            Q[$k.dead]=$?
            forget "${DPID[$k]}"
            note "$(sidename "$k") fence_virtd (pid ${DPID[$k]}) is GONE (exit status ${Q[$k.dead]}); last lines of its log:"
            tail -n 3 "$TMP/daemon-$(sidename "$k").log" | sed 's/^/      /'
        fi
        Q[$k.fail]=$((${Q[$k.fail]:-0} + 1))
        printf '  round %d/%d  %-22s   skipped: daemon gone\n' "$round" "$RUNS" "$(kind_name "$k")"
        return
    fi
    pid0=$(qemu_pid)
    before=$(boots)
    t0=$(now_ns)
    if [ "$k" = a ]; then
        vsh destroy "$QDOM" >> "$TMP/virsh.log" 2>&1; rc1=$?
        vsh start "$QDOM" >> "$TMP/virsh.log" 2>&1; rc2=$?
        LAST_MS=$(ms_since "$t0")
        LAST_RC=$rc1; [ "$rc2" = 0 ] || LAST_RC=$rc2
    else
        xvm "$k" 2 30 -o reboot -H "$QDOM"
    fi
    state=$(vsh domstate "$QDOM" 2>&1 | head -1)
    pid1=$(qemu_pid)
    if [ -n "$pid1" ] && [ "$pid1" != "$pid0" ]; then fresh=1; else fresh=0; fi
    # A failed request that did not touch QEMU reboots nothing: no boot wait.
    BOOT_MS="-"
    if [ "$LAST_RC" = 0 ] || [ "$fresh" = 1 ]; then wait_boot "$before" "$t0"; fi
    if [ "$LAST_RC" = 0 ]; then Q[$k]+="$LAST_MS "; else Q[$k.fail]=$((${Q[$k.fail]:-0} + 1)); fi
    [ "$state" = running ] || Q[$k.notrun]=$((${Q[$k.notrun]:-0} + 1))
    Q[$k.fresh]=$((${Q[$k.fresh]:-0} + fresh))
    [ "$BOOT_MS" = "-" ] || Q[$k.boot]+="$BOOT_MS "
    printf '  round %d/%d  %-22s %9s ms  rc=%s  domstate=%s  qemu pid %s -> %s (%s)  guest /init after %s ms\n' \
        "$round" "$RUNS" "$(kind_name "$k")" "$LAST_MS" "$LAST_RC" "${state:-?}" "${pid0:-?}" "${pid1:-?}" \
        "$([ "$fresh" = 1 ] && echo new process || echo same process)" "$BOOT_MS"
    if [ "$state" != running ]; then
        # Leave the guest running for the next measurement.
        vsh start "$QDOM" >> "$TMP/virsh.log" 2>&1 && wait_boot "$(boots)" "$(now_ns)"
    fi
}

qemu_main() {
    local side i k ns_check t0 qv
    declare -gA Q=()
    qemu_checks
    echo "fence_virtd benchmark, real QEMU guest: ours ($OURS_DIR/fence_virtd) vs stock ($STOCK_DAEMON), client $XVM"
    qv=$(qemu-system-x86_64 --version | head -1)
    echo "reboots per method: $RUNS; $(nproc) CPU(s); $(uname -r); $qv; TCG (domain type 'qemu')"

    start_libvirt
    note "libvirt: $(virsh -c "$VIRSH_URI" version 2>/dev/null | sed -n 's/^Running hypervisor: //p'), daemon $LV_NOTE"

    build_guest
    vsh define "$TMP/domain.xml" > "$TMP/virsh.log" 2>&1 || { cat "$TMP/virsh.log"; die "virsh define failed"; }
    QDEFINED=1
    t0=$(now_ns)
    vsh start "$QDOM" >> "$TMP/virsh.log" 2>&1 || { cat "$TMP/virsh.log"; die "virsh start $QDOM failed"; }
    wait_boot 0 "$t0" || { tail -20 "$CONSOLE" 2>/dev/null; die "guest did not print $BOOT_MARK within $BOOT_WAIT_S s"; }
    note "guest $QDOM: persistent, 128 MiB, 1 vCPU, machine pc, kernel $(basename "$KERNEL_SRC")," \
         "initramfs $(($(stat -c %s "$TMP/initrd.gz") / 1024)) KiB; first boot to /init: $BOOT_MS ms; qemu pid $(qemu_pid)"

    setup_lan o 1 2
    setup_lan s 2 2
    setup_lan r 3 2
    ns_check=$(ip netns exec "${TAG}o1" timeout 10 virsh -q -c "$VIRSH_URI" domstate "$QDOM" 2>&1 | head -1)
    [ "$ns_check" = running ] || die "libvirt is not reachable from network namespace ${TAG}o1: $ns_check"
    note "libvirt socket reachable from inside a network namespace: 'virsh domstate' there says '$ns_check'"

    # Run the daemons through symlinks with other names: `pkill -x fence_virtd`
    # elsewhere on a shared machine (scripts/setup.sh does one) would
    # otherwise stop them in the middle of the measurements.
    mkdir -p "$TMP/bin"
    ln -s "$(readlink -f "$OURS_DIR/fence_virtd")" "$TMP/bin/fvb-ours-virtd"
    ln -s "$(readlink -f "$STOCK_DAEMON")" "$TMP/bin/fvb-stock-virtd"
    # shellcheck disable=SC2034 # read by compare.sh start_daemon
    OURS_EXEC="$TMP/bin/fvb-ours-virtd"
    # shellcheck disable=SC2034 # likewise
    STOCK_EXEC="$TMP/bin/fvb-stock-virtd"
    write_conf "$TMP/ours.conf" "$VIRSH_URI" cycle
    write_conf "$TMP/ours-reset.conf" "$VIRSH_URI" reset
    write_conf "$TMP/stock.conf" "$VIRSH_URI"
    for side in o s r; do start_daemon "$side"; done
    note "daemons up: ours/cycle pid ${DPID[o]} (198.18.1.1), stock pid ${DPID[s]} (198.18.2.1)," \
         "ours/reset pid ${DPID[r]} (198.18.3.1); process names $(cat "/proc/${DPID[o]}/comm"), $(cat "/proc/${DPID[s]}/comm")"
    for side in o s r; do
        xvm "$side" 2 10 -o status -H "$QDOM"
        [ "$LAST_RC" = 0 ] || { tail -20 "$TMP/xvm-$(sidename "$side").log"; tail -20 "$TMP/daemon-$(sidename "$side").log";
                                die "warm-up status against $(sidename "$side") failed (rc $LAST_RC)"; }
    done

    echo "reboots (interleaved: each round does every method once; the guest's /init is awaited after each)"
    for i in $(seq 1 "$RUNS"); do
        for k in $KINDS; do q_reboot "$k" "$i"; done
    done

    for side in o s r; do
        [ -n "${Q[$side.dead]:-}" ] && continue
        daemon_alive "$side" || { note "$(sidename "$side") fence_virtd DIED:"; tail -20 "$TMP/daemon-$(sidename "$side").log"; }
    done
    for side in o s r; do [ -n "${Q[$side.dead]:-}" ] || kill -TERM "${DPID[$side]}" 2>/dev/null; done
    for i in $(seq 1 50); do
        daemon_alive o || daemon_alive s || daemon_alive r || break
        sleep 0.1
    done

    # ------------------------------------------------------------ table
    local med_a med_s med_o med_r v_o v_r
    for k in $KINDS; do
        # shellcheck disable=SC2086
        Q[$k.med]=$(median ${Q[$k]:-})
        # shellcheck disable=SC2086
        Q[$k.bootmed]=$(median ${Q[$k.boot]:-})
    done
    med_a=${Q[a.med]}; med_s=${Q[s.med]}; med_o=${Q[o.med]}; med_r=${Q[r.med]}
    qratio() { awk -v n="$1" -v d="$2" 'BEGIN { if (n + 0 > 0 && d + 0 > 0) printf "%.2fx", n / d; else print "n/a" }'; }
    ok() { [ "${Q[$1.fail]:-0}" = 0 ] && [ "${Q[$1.notrun]:-0}" = 0 ]; }
    v_o=FAIL; awk -v a="$med_o" -v b="$med_a" -v t="$CYCLE_SLACK_MS" 'BEGIN { exit !(a + 0 > 0 && b + 0 > 0 && a + 0 <= b + t) }' && ok o && v_o=PASS
    v_r=FAIL; awk -v a="$med_r" 'BEGIN { exit !(a + 0 > 0 && a + 0 < 100) }' && ok r && v_r=PASS

    echo
    echo "RESULTS: real QEMU guest (TCG), one reboot = one fence_xvm run until it exits (incl. process start);"
    echo "(a) is two virsh runs. 'not running' = virsh domstate right after the reboot was not 'running';"
    echo "'new qemu' = QEMU pid changed; '/init after' = from the start of the reboot to the guest's boot marker."
    qrow() { printf '%-34s %-12s %-10s %-10s %-13s %-10s %-13s %-22s %s\n' "$@"; }
    qrow "reboot by" "median" "/ (a)" "stock/this" "fail/not run" "new qemu" "/init after" "target" "verdict"
    qrow "---------" "------" "-----" "----------" "------------" "--------" "-----------" "------" "-------"
    for k in $KINDS; do
        local label target verdict sr
        case "$k" in
            a) label="(a) virsh destroy + start"; target="(libvirt floor)"; verdict="-" ;;
            s) label="(b) stock fence_virtd"; target="-"; verdict="-" ;;
            o) label="(c) ours, reboot_method=cycle"; target="<= (a) +${CYCLE_SLACK_MS} ms"; verdict=$v_o ;;
            r) label="(d) ours, reboot_method=reset"; target="< 100 ms"; verdict=$v_r ;;
        esac
        sr="-"; [ "$k" = o ] || [ "$k" = r ] && sr=$(qratio "$med_s" "${Q[$k.med]}")
        qrow "$label" "${Q[$k.med]} ms" "$(qratio "${Q[$k.med]}" "$med_a")" "$sr" \
             "${Q[$k.fail]:-0}/${Q[$k.notrun]:-0} of $RUNS" "${Q[$k.fresh]:-0} of $RUNS" "${Q[$k.bootmed]} ms" "$target" "$verdict"
    done
    echo "medians of the successful runs (all $RUNS unless 'fail' says otherwise); per-run values are above."
    echo "Ratios: '/ (a)' < 1 = faster than libvirt's own destroy + start; 'stock/this' > 1 = ours faster than stock."
    echo "Target (c): libvirt's destroy polls QEMU's exit every 200 ms, so (a) and (c) move in 200 ms steps;"
    echo "'no slower than (a)' allows one step. Stock waits a fixed 1 s between destroy and start (spec §7)."
    for k in s o r; do
        [ -n "${Q[$k.dead]:-}" ] && echo "NOTE: $(kind_name "$k") daemon was gone before the end (see above); skipped runs count as failures."
    done
    return 0
}
