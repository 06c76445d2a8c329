#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_dns.c in fuzz/corpus/dns/: queries as dig and
resolvers send them (A, AAAA, names in and outside ztna.internal, EDNS0
with and without options), a question behind a compression pointer, and
near misses (a pointer loop, a response, a cut header). Run from the
tree's root."""
import os
import struct

OUT = "fuzz/corpus/dns"


def name(n):
    out = b""
    for label in n.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(n, qtype=1, edns=None, qid=0x1234, flags=0x0120):
    ar = 1 if edns is not None else 0
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, ar)
    msg += name(n) + struct.pack(">HH", qtype, 1)
    if edns is not None:
        msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(edns)) + edns
    return msg


cookie = struct.pack(">HH", 10, 8) + bytes(range(8))
seeds = {
    "a_web": query("web.ztna.internal"),
    "a_echo_mixed_case": query("EcHo.ZtNa.InTeRnAl"),
    "aaaa_web": query("web.ztna.internal", 28),
    "a_nosuch": query("nosuch.ztna.internal"),
    "a_outside": query("example.com"),
    "edns_a": query("web.ztna.internal", 1, b""),
    "edns_cookie": query("web.ztna.internal", 1, cookie),
    "any_web": query("web.ztna.internal", 255),
    "apex": query("ztna.internal", 6),
    # the question's name as a backwards pointer (to ANCOUNT's zero high
    # byte: the root name)
    "pointer_root": struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    + b"\xc0\x06" + struct.pack(">HH", 1, 1),
    "pointer_loop": struct.pack(">HHHHHH", 2, 0x0100, 1, 0, 0, 0)
    + b"\x01a\xc0\x0c" + struct.pack(">HH", 1, 1),
    "response": query("web.ztna.internal", flags=0x8180),
    "short_header": b"\x12\x34\x01\x00\x00",
}

os.makedirs(OUT, exist_ok=True)
for k, v in seeds.items():
    with open(os.path.join(OUT, k), "wb") as f:
        f.write(v)
