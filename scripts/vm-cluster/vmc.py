#!/usr/bin/env python3
"""Host-side helper of scripts/vm-cluster.sh.

  vmc.py exec SOCKET TIMEOUT COMMAND   run COMMAND in a guest through its
                                       command channel (second serial port);
                                       prints its output, exits with its status
  vmc.py console SOCKET                interactive serial console (Ctrl-] quits)
  vmc.py sample IFACE ADDRESS OUT      every 50 ms until SIGTERM: who answers
                                       http://ADDRESS/ and which MACs answer an
                                       ARP request for ADDRESS on IFACE; one
                                       line per sample to OUT:
                                       "<unix time> http <page>|-" and
                                       "<unix time> arp <mac,mac…>|-"
"""
import os
import re
import secrets
import select
import signal
import socket
import struct
import sys
import threading
import time


def cmd_exec(path, timeout, command):
    marker = "@@VMC-END-" + secrets.token_hex(6)
    deadline = time.monotonic() + float(timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        s.connect(path)
    except OSError as e:
        print(f"vmc: cannot connect to {path}: {e}", file=sys.stderr)
        return 125
    # One line: the shell on the other side reads line by line.
    line = "( %s ) </dev/null 2>&1; echo \"%s $?\"\n" % (command.replace("\n", "; "), marker)
    s.sendall(line.encode())
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stdout.write(buf.decode(errors="replace"))
            print(f"vmc: no answer from {path} within {timeout} s", file=sys.stderr)
            return 124
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        chunk = s.recv(65536)
        if not chunk:
            print(f"vmc: {path} closed the channel", file=sys.stderr)
            return 125
        buf += chunk
        text = buf.decode(errors="replace")
        m = re.search(re.escape(marker) + r" (\d+)\r?\n", text)
        if m:
            out = text[: m.start()]
            # A guest whose tty still echoes: drop the echo of our line.
            j = out.find(marker)
            if j >= 0:
                out = out[out.find("\n", j) + 1:]
            sys.stdout.write(out)
            return int(m.group(1))


def cmd_console(path):
    import termios
    import tty
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd) if os.isatty(fd) else None
    print(f"connected to {path}; Ctrl-] quits", file=sys.stderr)
    if old:
        tty.setraw(fd)
    try:
        while True:
            r, _, _ = select.select([s, fd], [], [])
            if s in r:
                data = s.recv(4096)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if fd in r:
                data = os.read(fd, 1024)
                if not data or b"\x1d" in data:
                    break
                s.sendall(data)
    finally:
        if old:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
    return 0


def cmd_sample(iface, address, out):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    f = open(out, "a", buffering=1)
    lock = threading.Lock()

    def emit(kind, value):
        with lock:
            f.write(f"{time.time():.3f} {kind} {value}\n")

    def http_loop():
        while not stop.is_set():
            t0 = time.monotonic()
            page = "-"
            try:
                c = socket.create_connection((address, 80), timeout=0.25)
                c.settimeout(0.25)
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    data += d
                c.close()
                body = data.split(b"\r\n\r\n", 1)
                if len(body) == 2 and data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]:
                    page = body[1].decode(errors="replace").strip() or "-"
            except OSError:
                pass
            emit("http", page)
            time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))

    def arp_loop():
        ETH_P_ARP = 0x0806
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        s.bind((iface, 0))
        mymac = open(f"/sys/class/net/{iface}/address").read().strip()
        mymac_b = bytes.fromhex(mymac.replace(":", ""))
        target = socket.inet_aton(address)
        # The sender address: the host's first IPv4 address on IFACE.
        src = socket.inet_aton(os.popen(f"ip -4 -o addr show dev {iface}").read().split()[3].split("/")[0])
        frame = (b"\xff" * 6 + mymac_b + struct.pack("!H", ETH_P_ARP)
                 + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mymac_b + src + b"\x00" * 6 + target)
        while not stop.is_set():
            t0 = time.monotonic()
            s.send(frame)
            macs = set()
            while True:
                left = 0.045 - (time.monotonic() - t0)
                if left <= 0:
                    break
                r, _, _ = select.select([s], [], [], left)
                if not r:
                    break
                pkt = s.recv(128)
                if len(pkt) >= 42 and struct.unpack("!H", pkt[20:22])[0] == 2 and pkt[28:32] == target:
                    macs.add(pkt[22:28].hex(":"))
            emit("arp", ",".join(sorted(macs)) or "-")
            time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))

    threads = [threading.Thread(target=http_loop, daemon=True), threading.Thread(target=arp_loop, daemon=True)]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.2)
    f.close()
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "exec":
        return cmd_exec(argv[2], argv[3], " ".join(argv[4:]))
    if len(argv) == 3 and argv[1] == "console":
        return cmd_console(argv[2])
    if len(argv) == 5 and argv[1] == "sample":
        return cmd_sample(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
