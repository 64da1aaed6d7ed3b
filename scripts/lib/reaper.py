#!/usr/bin/env python3
"""reaper.py COMMAND [ARGS...]: run COMMAND as a child subreaper.

libvirtd's QEMU processes daemonize, so they are re-parented when they exit
their launcher. Without an init system that reaps at once (a container or a
sandbox whose PID 1 polls), a killed QEMU stays a zombie for a second or more
and `virsh destroy` (which waits until the pid is gone) takes that long too:
every fence by power cycle looked 1.5 s slower than it is. As a subreaper
this process becomes the parent of those orphans and reaps them at once.

SIGTERM/SIGINT/SIGHUP are passed on to COMMAND; this process exits with
COMMAND's status when COMMAND exits.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: reaper.py COMMAND [ARGS...]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("reaper.py: prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))
    child = os.fork()
    if child == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            sys.stderr.write("reaper.py: cannot run %s: %s\n" % (sys.argv[1], e))
            os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            sys.exit(0)
        except InterruptedError:
            continue
        if pid == child:
            sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
