# shellcheck shell=bash
# scripts/lib/libvirt.sh - start libvirtd for qemu:///system where no init
# system runs it (a container, CI), shared by scripts/vm-cluster.sh and
# bench/qemu-mode.sh. Source it; bash.
#
#   libvirt_start DIR   use a libvirtd that answers on qemu:///system; else
#                       start virtlogd (unless running) and libvirtd (or
#                       virtqemud) in their own sessions, libvirtd under
#                       scripts/lib/reaper.py (a subreaper that reaps killed
#                       QEMU processes at once; without it `virsh destroy`
#                       waits for a slow PID 1 to reap the zombie). Pid files
#                       and logs go to DIR (virtlogd.pid, libvirtd.pid,
#                       *.log). Sets LIBVIRT_NOTE (what was done). Returns 1
#                       with a message on stderr when it cannot.
#   libvirt_stop DIR    stop what libvirt_start started (libvirtd first).

LIBVIRT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # read by the scripts that source this file
LIBVIRT_NOTE=""

libvirt_answers() { timeout -k 1 5 virsh -q -c qemu:///system uri >/dev/null 2>&1; }

libvirt_start() {
    local dir=$1 lvd pid
    if libvirt_answers; then
        LIBVIRT_NOTE="already running (used as is; not started or stopped here)"
        return 0
    fi
    mkdir -p "$dir"
    if ! { [ -S /run/libvirt/virtlogd-sock ] && pgrep -x virtlogd >/dev/null; }; then
        setsid virtlogd </dev/null >"$dir/virtlogd.log" 2>&1 &
        echo $! >"$dir/virtlogd.pid"
        for _ in $(seq 1 50); do [ -S /run/libvirt/virtlogd-sock ] && break; sleep 0.1; done
        [ -S /run/libvirt/virtlogd-sock ] ||
            { echo "virtlogd did not create /run/libvirt/virtlogd-sock in 5 s: $(tail -3 "$dir/virtlogd.log")" >&2; return 1; }
    fi
    lvd=$(command -v libvirtd || command -v virtqemud) ||
        { echo "neither libvirtd nor virtqemud is installed (apt-get install libvirt-daemon-system)" >&2; return 1; }
    setsid python3 "$LIBVIRT_LIB_DIR/reaper.py" "$lvd" </dev/null >"$dir/libvirtd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/libvirtd.pid"
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || { echo "$lvd exited at start: $(tail -3 "$dir/libvirtd.log")" >&2; return 1; }
        libvirt_answers && break
        sleep 0.1
    done
    libvirt_answers || { echo "$lvd did not answer on qemu:///system within 15 s" >&2; return 1; }
    # shellcheck disable=SC2034
    LIBVIRT_NOTE="started here ($(basename "$lvd") under a subreaper, pid $pid)"
}

stop_pidfile() { # FILE: TERM, then KILL after 10 s, the process FILE names; remove FILE
    local pid
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$1"
}

libvirt_stop() {
    stop_pidfile "$1/libvirtd.pid"
    stop_pidfile "$1/virtlogd.pid"
}
