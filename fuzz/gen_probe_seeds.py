#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_probe.c in fuzz/corpus/probe/: path probes signed
with the fuzzer's fixed key (bytes 0..31), so decoding succeeds on them,
and near misses (truncated, a QUIC v1 long header, a short header).
Layout as in core/probe.h. Run from the tree's root."""
import hashlib
import hmac
import os
import socket
import struct

KEY = bytes(range(32))
OUT = "fuzz/corpus/probe"


def probe(typ, dst_key, seq, txid, fam=0, port=0, addr=b""):
    body = struct.pack(">BIBIQ", 0xC0, 0x7A747031, typ, dst_key, seq)
    body += txid + struct.pack(">BH", fam, port) + addr.ljust(16, b"\0")
    assert len(body) == 49
    auth = body + hmac.new(KEY, body, hashlib.sha256).digest()[:16]
    return auth.ljust(1200, b"\0")  # zero padding to ZT_PROBE_LEN


txid = bytes(range(0xA0, 0xAC))
seeds = {
    "ping": probe(1, 0x01020304, 1, txid),
    "ping_seq_max": probe(1, 0xFFFFFFFF, 2**64 - 1, bytes(12)),
    "pong_v4": probe(2, 0xFEDCBA98, 2, txid, 4, 40001,
                     socket.inet_pton(socket.AF_INET, "198.51.100.2")),
    "pong_v6": probe(2, 7, 3, txid, 6, 65535,
                     socket.inet_pton(socket.AF_INET6, "2001:db8::7")),
    "pong_none": probe(2, 7, 4, txid),
}
seeds["ping_truncated"] = seeds["ping"][:40]
seeds["ping_unpadded"] = seeds["ping"][:65]  # the format before padding
seeds["ping_bad_padding"] = seeds["ping"][:1199] + b"\1"
seeds["quic_v1_initial"] = bytes([0xC0, 0, 0, 0, 1, 8]) + bytes(range(8)) \
    + bytes([0]) + bytes(51)
seeds["quic_short"] = bytes([0x40]) + bytes(range(64))
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
