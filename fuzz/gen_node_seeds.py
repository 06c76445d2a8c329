#!/usr/bin/env python3
"""Writes the seed corpora of the node-level fuzzers (fuzz/corpus/
intermediate/, fuzz/corpus/connector/): short programs in each driver's op
encoding (see run_op in fuzz_intermediate.c and fuzz_connector.c) that walk
the protocol's real sequences, so fuzzing starts from deep states instead of
having to discover a handshake byte by byte. Run from the tree's root; the
output is committed, this script only documents and regenerates it."""
import os
import struct

# ---- fuzz_intermediate ops -------------------------------------------------
AGENT = {"alice": 0, "bob": 1, "mallory": 2, "eve": 5}
CONN = {"conn-a": 3, "conn-b": 4, "conn-x": 6}
IDENT = {**AGENT, **CONN, "intermediate": 7}
NAME = {n: i for i, n in enumerate(
    ["web", "db", "echo", "admin", "spare", "conn-a", "conn-b", "conn-x",
     "alice", "ghost", "conn-c"])}


def connect(slot, who, dcid=0x01):
    return bytes([0, slot, dcid, 1, slot, IDENT[who]])


def hello(slot, prev=None):
    ip = bytes([0]) if prev is None else bytes([1, prev])
    return bytes([2, slot, 0, 0]) + ip + bytes([0])


def register(slot, *names):
    return bytes([2, slot, 1, len(names)] + [NAME[n] for n in names] + [0])


def session_open(slot, req, conn, repeat=0):
    return bytes([2, slot, 2]) + struct.pack(">I", req) + bytes([NAME[conn],
                                                                 repeat])


def session_close(slot, known_index, status=0):
    return bytes([2, slot, 3, known_index, status, 0])


def relay(slot, known_index, payload=b"inner-quic", repeat=0):
    kind = len(payload) & 0x3f
    return bytes([5, slot, kind, known_index]) + payload[:16] + bytes([repeat])


def disconnect(slot):
    return bytes([6, slot, 0])


def silent(slot):
    return bytes([7, slot])


def advance(ms):
    return bytes([8, 0]) + struct.pack(">H", ms)


def rebind(slot):
    return bytes([9, slot])


def raw_stream(slot, data):
    return bytes([4, slot, len(data)]) + data


def connectors():
    return (connect(0, "conn-a") + hello(0) + register(0, "web", "db") +
            connect(1, "conn-b") + hello(1) + register(1, "echo", "admin"))


im_seeds = {
    "connector_register": connect(0, "conn-a") + hello(0) +
    register(0, "web", "db", "echo", "ghost"),
    "agent_hello": connect(2, "alice") + hello(2) + connect(3, "bob") +
    hello(3, prev=3),
    "session_relay": connectors() + connect(2, "alice") + hello(2) +
    session_open(2, 1, "conn-a") + relay(2, 0) + relay(0, 0, b"reply"),
    "session_both": connectors() + connect(2, "alice") + hello(2) +
    session_open(2, 1, "conn-a") + session_open(2, 2, "conn-b") +
    relay(2, 1) + relay(1, 1) + session_close(2, 0) + relay(2, 0),
    "denied": connectors() + connect(3, "mallory") + hello(3) +
    session_open(3, 9, "conn-a") + session_open(3, 10, "conn-b") +
    relay(3, 0),
    "wrong_peer": connectors() + connect(2, "alice") + hello(2) +
    connect(3, "bob") + hello(3) + session_open(2, 1, "conn-a") +
    relay(3, 0) + relay(1, 0),
    "disconnect": connectors() + connect(2, "alice") + hello(2) +
    session_open(2, 1, "conn-a") + disconnect(0) + relay(2, 0) +
    connect(0, "conn-a") + hello(0) + register(0, "web"),
    "pool_exhaust": b"".join(connect(i, w) + hello(i) for i, w in
                             enumerate(["alice", "bob", "mallory", "eve",
                                        "alice", "bob", "mallory", "eve"])),
    "idle_timeout": connectors() + connect(2, "alice") + silent(2) +
    advance(20000) + advance(20000) + connect(3, "bob"),
    "rebind": connectors() + connect(2, "alice") + hello(2) + rebind(2) +
    session_open(2, 1, "conn-b") + relay(2, 0),
    "refused": connect(0, "intermediate") + connect(1, "conn-x") + hello(1) +
    register(1, "web"),
    "flood_silent": connectors() + connect(2, "alice") + hello(2) +
    silent(2) + session_open(2, 1, "conn-a", repeat=0xff),
    "framing": connect(2, "alice") + raw_stream(2, b"\x01\x00\x05\x01\x00") +
    raw_stream(2, b"\x00\x00\x00\x00\xff\x00\x02ab\x06\x40\x01"),
}

# ---- fuzz_connector ops ----------------------------------------------------
# 0 up [identity]; 1 REGISTER_ACK; 2 SESSION_NEW; 3 SESSION_CLOSE; 4 raw
# stream; 5 inner Initial; 6 inner handshake [identity]; 7 inner IP packet;
# 8 TUN packet; 9 time; 10 drop uplink; 11 junk relay.
A = {"alice": 0, "bob": 1, "mallory": 2}


def up(ok=True):
    return bytes([0, 0 if ok else 1])


def reg_ack(mask=0x03, bad_vip=False):
    return bytes([1, mask, 1 if bad_vip else 0])


def session_new(ch, agent, ip_off, vip_mask):
    return bytes([2, ch, A[agent], ip_off, vip_mask])


def inner_initial(ch):
    return bytes([5, ch])


def inner_hs(ch, agent):
    return bytes([6, ch, A[agent]])


PROTO = {6: 0, 17: 1, 1: 2, 47: 3}  # index into the driver's protos[]


def inner_ip(ch, src_off, vip, proto, port):
    return bytes([7, ch, src_off, vip, PROTO[proto]]) + struct.pack(">H", port)


def tun(dst_off, vip, proto, port):
    return bytes([8, dst_off, vip, PROTO[proto]]) + struct.pack(">H", port)


def cclose(ch):
    return bytes([3, ch])


def ctime(ms):
    return bytes([9]) + struct.pack(">H", ms)


def drop():
    return bytes([10])


def junk(ch, data=b"early-junk"):
    return bytes([11, ch, len(data)]) + data


# Agent address bytes (agent_addr in fuzz_connector.c): b is 100.64.0.b,
# except 0 and these.
GATEWAY, BELOW_POOL, ABOVE_POOL, POOL_FIRST, POOL_LAST = 0xf8, 0xf9, 0xfa, 0xfc, 0xfd


conn_seeds = {
    "register": up() + reg_ack(),
    "refused_intermediate": up(False) + ctime(2000) + up(),
    "session": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    inner_initial(1) + inner_hs(1, "alice") + inner_ip(1, 7, 0, 6, 443) +
    tun(7, 0, 6, 443),
    "session_denied_packets": up() + reg_ack() +
    session_new(1, "alice", 7, 0x01) + inner_initial(1) +
    inner_hs(1, "alice") + inner_ip(1, 8, 0, 6, 443) +
    inner_ip(1, 7, 1, 17, 53) + inner_ip(1, 7, 0, 6, 22),
    "wrong_agent": up() + reg_ack() + session_new(2, "bob", 9, 0x03) +
    inner_initial(2) + inner_hs(2, "mallory") + inner_ip(2, 9, 0, 6, 443),
    "early": up() + reg_ack() + inner_initial(3) +
    session_new(3, "alice", 7, 0x01) + inner_hs(3, "alice") +
    inner_ip(3, 7, 0, 6, 443),
    "replace_close": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    session_new(2, "bob", 7, 0x02) + cclose(2) + session_new(1, "bob", 8, 3),
    "uplink_drop": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    inner_initial(1) + drop() + ctime(1500) + up() + tun(7, 0, 6, 443),
    "idle": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    inner_initial(1) + ctime(40000) + ctime(40000),
    # A newer session for a held address replaces the older (SESSION_CLOSE
    # upstream, route kept); another identity there makes forget_addr run.
    "replace_handover": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    inner_initial(1) + inner_hs(1, "alice") + session_new(2, "alice", 7, 0x01) +
    session_new(3, "bob", 7, 0x03) + inner_initial(3) + inner_hs(3, "bob") +
    inner_ip(3, 7, 0, 6, 443) + cclose(3) + session_new(4, "alice", 7, 0x01) +
    session_new(5, "alice", 8, 0x02) + session_new(5, "bob", 8, 0x02),
    # Addresses outside agent_pool are refused, and end the channel's older
    # session; the pool's own edges are inside.
    "out_of_pool": up() + reg_ack() + session_new(1, "alice", 7, 0x01) +
    session_new(1, "mallory", GATEWAY, 0x01) +
    session_new(2, "alice", BELOW_POOL, 0x01) +
    session_new(3, "alice", ABOVE_POOL, 0x01) +
    session_new(4, "alice", POOL_FIRST, 0x01) +
    session_new(5, "bob", POOL_LAST, 0x03) + session_new(6, "bob", 0, 0x01) +
    tun(POOL_FIRST, 0, 6, 443),
    # Early frames: a channel over its 4 drops its own oldest, all 32 slots
    # taken drops newcomers, stale ones are not replayed.
    "early_flood": up() + reg_ack() + b"".join(junk(1) for _ in range(5)) +
    inner_initial(1) +
    b"".join(junk(ch) for ch in range(2, 8) for _ in range(4)) +
    junk(0) + junk(0) + session_new(1, "alice", 7, 0x01) +
    inner_hs(1, "alice") + inner_ip(1, 7, 0, 6, 443) + ctime(2500) +
    junk(2) + session_new(2, "bob", 9, 0x03) + session_new(3, "bob", 10, 1),
}


def write(target, seeds):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("intermediate", im_seeds)
write("connector", conn_seeds)
