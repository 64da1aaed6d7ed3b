#!/usr/bin/env python3
"""HTTP prober of bench/heartbeat-failover.sh, run inside the client namespace.

    probe.py IP OUTFILE [INTERVAL_S] [TIMEOUT_S]

Starts a new `GET /` to IP:80 every INTERVAL_S seconds (default 0.015),
without waiting for earlier ones (a request stuck in ARP resolution does not
delay the next), each given up after TIMEOUT_S (default 0.5). For every
answered request it appends `<sent> <answered> <body>` (Unix times) to
OUTFILE, flushed at once. Runs until SIGTERM/SIGINT.
"""
import errno
import selectors
import signal
import socket
import sys
import time

ip, out_path = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.015
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
REQUEST = b"GET / HTTP/1.0\r\nHost: service\r\n\r\n"

running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

sel = selectors.DefaultSelector()
out = open(out_path, "a", buffering=1)


class Req:
    def __init__(self):
        self.sent = time.time()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.buf = b""
        self.connected = False
        err = self.sock.connect_ex((ip, 80))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect")
        sel.register(self.sock, selectors.EVENT_WRITE, self)

    def close(self):
        try:
            sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()

    def event(self):
        """Returns True when finished (answered or failed)."""
        if not self.connected:
            if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                return True
            self.connected = True
            try:
                self.sock.send(REQUEST)
            except OSError:
                return True
            sel.modify(self.sock, selectors.EVENT_READ, self)
            return False
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if data:
            self.buf += data
            return False
        head, _, body = self.buf.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/") and b" 200 " in head.split(b"\r\n")[0] + b" ":
            name = body.decode(errors="replace").strip() or "-"
            out.write(f"{self.sent:.6f} {time.time():.6f} {name}\n")
        return True


pending = []
next_at = time.time()
while running:
    now = time.time()
    if now >= next_at:
        try:
            pending.append(Req())
        except OSError:
            pass
        next_at += interval
        if next_at < now:
            next_at = now + interval
    wait = max(0.0, min(next_at - time.time(), 0.05))
    for key, _ in sel.select(wait):
        req = key.data
        if req.event():
            req.close()
            pending.remove(req)
    cutoff = time.time() - timeout
    for req in [r for r in pending if r.sent < cutoff]:
        req.close()
        pending.remove(req)
for req in pending:
    req.close()
