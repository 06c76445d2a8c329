#!/usr/bin/env python3
"""Forged and replayed path probes (core/probe.h) for tests/netns/nat_matrix.sh.

  forge_probes.py keys PCAP
      one line per probe in a capture (tcpdump -w, Ethernet, IPv4/UDP):
      "SRC_IP:PORT DST_IP:PORT TYPE DST_KEY_HEX SEQ"
  forge_probes.py forge KIND DST_IP:PORT COUNT [--key HEX] [--spoof IP:PORT]
      COUNT probe-shaped packets (1200 bytes, 0xc0, "ztp1") to DST, where KIND is
        random   the header, then random bytes (almost always malformed)
        unknown  well-formed (PING, family 0, zeros where zeros belong) with a
                 random dst_key and a random tag: no session has that key
        badtag   well-formed, with dst_key HEX (the receiver's real key id,
                 from a capture) and a random tag: fails authentication
  forge_probes.py replay PCAP DST_IP [--spoof]
      resends the payload of every captured probe addressed to DST_IP, to the
      same address and port. --spoof: with the captured packet's own source
      address and port (a raw socket), for a receiver behind a stateful
      firewall that only lets that peer in; otherwise from this host's own
      address.
Prints how many packets it sent. Sends nothing anywhere else.
"""
import argparse
import os
import socket
import struct
import sys

PROBE_LEN = 1200  # 65 authenticated bytes, then zero padding
MAGIC = b"\xc0ztp1"


def addr(s):
    ip, port = s.rsplit(":", 1)
    return ip, int(port)


def read_pcap(path):
    """(src, sport, dst, dport, payload) of every IPv4/UDP packet."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:  # Ethernet
            if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        elif linktype == 113:  # Linux cooked (tcpdump -i any)
            if len(pkt) < 16 or pkt[14:16] != b"\x08\x00":
                continue
            ip = pkt[16:]
        else:
            continue
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        out.append((socket.inet_ntoa(ip[12:16]), sport,
                    socket.inet_ntoa(ip[16:20]), dport, udp[8:ulen]))
    return out


def probes(path):
    return [p for p in read_pcap(path)
            if len(p[4]) == PROBE_LEN and p[4][:5] == MAGIC]


def send(pkts, spoof=None):
    """pkts: [(dst_ip, dst_port, payload)]; spoof: (ip, port) or None."""
    if spoof is None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for ip, port, payload in pkts:
            s.sendto(payload, (ip, port))
        return len(pkts)
    # A raw socket writes the whole IPv4 header (IPPROTO_RAW implies
    # IP_HDRINCL); the kernel fills in the header checksum. UDP checksum 0:
    # "none", allowed over IPv4.
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for ip, port, payload in pkts:
        udp = struct.pack(">HHHH", spoof[1], port, 8 + len(payload), 0) + payload
        hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp),
                          int.from_bytes(os.urandom(2), "big"), 0x4000, 64, 17, 0,
                          socket.inet_aton(spoof[0]), socket.inet_aton(ip))
        s.sendto(hdr + udp, (ip, 0))
    return len(pkts)


def forged(kind, key):
    if kind == "random":
        return MAGIC + os.urandom(PROBE_LEN - 5)
    dst_key = key if kind == "badtag" else os.urandom(4)
    seq = os.urandom(8)
    txid = os.urandom(12)
    # type PING, dst_key, seq, txid, family 0, port 0, address 0, tag
    body = MAGIC + b"\x01" + dst_key + seq + txid + b"\x00" * 19
    return (body + os.urandom(16)).ljust(PROBE_LEN, b"\x00")


def main():
    ap = argparse.ArgumentParser(description="forged and replayed path probes")
    sub = ap.add_subparsers(dest="mode", required=True)
    k = sub.add_parser("keys")
    k.add_argument("pcap")
    f = sub.add_parser("forge")
    f.add_argument("kind", choices=("random", "unknown", "badtag"))
    f.add_argument("dst", type=addr)
    f.add_argument("count", type=int)
    f.add_argument("--key", default="00000000")
    f.add_argument("--spoof", type=addr)
    r = sub.add_parser("replay")
    r.add_argument("pcap")
    r.add_argument("dst_ip")
    r.add_argument("--spoof", action="store_true")
    a = ap.parse_args()

    if a.mode == "keys":
        for src, sport, dst, dport, p in probes(a.pcap):
            print("%s:%d %s:%d %d %s %d" % (src, sport, dst, dport, p[5],
                                           p[6:10].hex(),
                                           int.from_bytes(p[10:18], "big")))
    elif a.mode == "forge":
        key = bytes.fromhex(a.key)
        if len(key) != 4:
            raise SystemExit("forge: --key takes 4 bytes in hex")
        print(send([(a.dst[0], a.dst[1], forged(a.kind, key))
                    for _ in range(a.count)], a.spoof))
    else:
        sent = 0
        for src, sport, dst, dport, p in probes(a.pcap):
            if dst == a.dst_ip:
                sent += send([(dst, dport, p)], (src, sport) if a.spoof else None)
        print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
