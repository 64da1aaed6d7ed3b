#!/usr/bin/env python3
"""Misbehaving fence_xvm peers for bench/compare.sh (Python 3, stdlib only).

Subcommands:

  stall     A "stalling requester": listens on TCP, sends ONE correctly
            signed multicast request (spec sections 2-3: sha256 over
            key || 176-byte packet with the hash field zeroed; callback
            address = --addr, callback port = its listen port, fresh seqno),
            accepts the daemon's callback and then never says anything,
            holding the connection open until the daemon gives up or --hold
            seconds pass (or SIGTERM). Prints one line per event (flushed), e.g.
              sent seqno=123 to 225.0.0.12:1229 callback 198.18.1.2:40000
              callback from 198.18.1.1:51234 after 1.2 ms
              daemon closed the callback after 10002.3 ms
  flood     Sends well-formed but badly signed 176-byte requests (sha256
            hash type, garbage signature, random domain/random bytes) to the
            multicast group as fast as it can, for at most --seconds or
            until SIGINT/SIGTERM, then prints "flood sent N packets in S s (R/s)".
  selftest  Checks the packet builder against the worked example in spec
            section 2.1 and exits 0 on success.

Everything is bounded in time: stall exits after --hold seconds at most,
flood after --seconds at most.
"""

import argparse
import hashlib
import os
import random
import select
import signal
import socket
import struct
import sys
import time

REQ_LEN = 176
HASH_OFF = 112
OPS = {"null": 0, "off": 1, "reboot": 2, "on": 3, "status": 4, "monitor": 5, "list": 6}
HASHES = {"none": (0, None), "sha1": (1, hashlib.sha1), "sha256": (2, hashlib.sha256), "sha512": (3, hashlib.sha512)}


def build_request(op, domain, addr, port, seqno, key, hashname="sha256", rand=None):
    """The 176-byte request of spec section 2, signed per section 3.1."""
    code, fn = HASHES[hashname]
    dom = domain.encode()
    if len(dom) > 63:
        raise ValueError("domain name too long")
    if rand is None:
        rand = os.urandom(6) if code else bytes(6)
    pkt = bytearray(REQ_LEN)
    pkt[0] = OPS[op]
    pkt[1] = code
    pkt[2] = 4  # addrlen (IPv4)
    pkt[3] = 0  # flags
    pkt[4:4 + len(dom)] = dom
    pkt[68:72] = socket.inet_aton(addr)
    struct.pack_into("<H", pkt, 96, port)
    pkt[98:104] = rand
    struct.pack_into("<I", pkt, 104, seqno & 0xFFFFFFFF)
    struct.pack_into("<I", pkt, 108, 2)  # AF_INET
    if fn is not None:
        digest = fn(key + bytes(pkt)).digest()
        pkt[HASH_OFF:HASH_OFF + len(digest)] = digest
    return bytes(pkt)


def mcast_sender(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    s.bind((addr, 0))
    return s


def say(*parts):
    print(*parts, flush=True)


def cmd_stall(a):
    key = open(a.key, "rb").read()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", a.port))
    lsock.listen(16)
    # A fresh seqno: random, outside the 0..999999 range the stock client
    # uses, so it can never collide with a genuine request in a history.
    seqno = random.randint(1_000_000, 0xFFFFFFFF)
    pkt = build_request(a.op, a.domain, a.addr, a.port, seqno, key)
    start = time.monotonic()
    end = start + a.hold
    tx = mcast_sender(a.addr)
    tx.sendto(pkt, (a.group, a.mport))
    tx.close()
    say(f"sent seqno={seqno} {a.op} {a.domain} to {a.group}:{a.mport} callback {a.addr}:{a.port}")
    held = []  # (conn, accepted_at)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        rlist = [lsock] + [c for c, _ in held]
        ready, _, _ = select.select(rlist, [], [], min(0.5, end - now))
        for r in ready:
            if r is lsock:
                conn, peer = lsock.accept()
                t = time.monotonic()
                held.append((conn, t))
                say(f"callback from {peer[0]}:{peer[1]} after {(t - start) * 1000:.1f} ms")
            else:
                try:
                    data = r.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    t0 = next(t for c, t in held if c is r)
                    say(f"daemon closed the callback after {(time.monotonic() - t0) * 1000:.1f} ms")
                    held = [(c, t) for c, t in held if c is not r]
                    r.close()
                # Any bytes the daemon sends (it should send nothing until we
                # challenge it) are read and ignored: we never answer.
    say(f"hold limit of {a.hold} s reached; {len(held)} callback(s) still open; exiting")
    for c, _ in held:
        c.close()
    lsock.close()
    return 0


def cmd_flood(a):
    # A pool of distinct bad packets; building one per send would make the
    # flooder, not the daemon, the bottleneck.
    rng = random.Random(os.urandom(16))
    pool = []
    for i in range(256):
        dom = "vm%d" % rng.randint(1, 8)
        pkt = bytearray(build_request("status", dom, a.addr, 1229, rng.randint(0, 999999), b"", "none"))
        pkt[1] = 2  # claims sha256 ...
        pkt[98:104] = os.urandom(6)
        pkt[HASH_OFF:HASH_OFF + 32] = os.urandom(32)  # ... with a garbage signature
        pool.append(bytes(pkt))
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    tx = mcast_sender(a.addr)
    dest = (a.group, a.mport)
    sent = errors = 0
    start = time.monotonic()
    end = start + a.seconds
    n = len(pool)
    while True:
        for i in range(1000):
            try:
                tx.sendto(pool[(sent + i) % n], dest)
            except OSError:
                errors += 1
        sent += 1000
        if stop or time.monotonic() >= end:
            break
    dur = time.monotonic() - start
    say(f"flood sent {sent - errors} packets ({errors} send errors) in {dur:.1f} s ({(sent - errors) / dur:.0f}/s)")
    return 0


def cmd_selftest(_a):
    pkt = build_request("status", "vm1", "192.0.2.10", 1229, 123456, b"example-key", "sha256",
                        rand=bytes([1, 2, 3, 4, 5, 6]))
    want = bytes.fromhex("fd0aebb2eab756560f55a98ed15b4fa3d01963b3b6677664b7747049d9fdef95")
    if pkt[HASH_OFF:HASH_OFF + 32] != want or pkt[144:] != bytes(32) or pkt[96:98] != b"\xcd\x04":
        say("selftest FAILED: " + pkt.hex())
        return 1
    say("selftest ok (spec 2.1 vector)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stall")
    s.add_argument("--key", required=True)
    s.add_argument("--addr", required=True, help="own IPv4 address (callback address)")
    s.add_argument("--port", type=int, default=40000, help="TCP listen (callback) port")
    s.add_argument("--domain", default="test")
    s.add_argument("--op", default="status", choices=sorted(OPS))
    s.add_argument("--group", default="225.0.0.12")
    s.add_argument("--mport", type=int, default=1229)
    s.add_argument("--hold", type=float, default=60.0, help="exit after this many seconds at most")
    f = sub.add_parser("flood")
    f.add_argument("--addr", required=True, help="own IPv4 address (source and address field)")
    f.add_argument("--group", default="225.0.0.12")
    f.add_argument("--mport", type=int, default=1229)
    f.add_argument("--seconds", type=float, default=15.0)
    sub.add_parser("selftest")
    a = p.parse_args()
    return {"stall": cmd_stall, "flood": cmd_flood, "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
