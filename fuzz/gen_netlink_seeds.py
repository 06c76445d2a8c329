#!/usr/bin/env python3
"""Seeds for fuzz_netlink: rtnetlink notices as the kernel sends them
(address, default route, link), alone and in one buffer. Writes
fuzz/corpus/netlink/."""
import os
import socket
import struct

RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
IFA_ADDRESS, IFA_LOCAL, RTA_OIF, RTA_TABLE = 1, 2, 4, 15
IFF_UP, IFF_RUNNING = 1, 0x40


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def msg(t, body):
    return struct.pack("=IHHII", 16 + len(body), t, 0, 0, 0) + body


def addr(t, family, index, ip):
    raw = socket.inet_pton(family, ip)
    hdr = struct.pack("=BBBBI", family, 24 if family == socket.AF_INET else 64, 0, 0, index)
    return msg(t, hdr + attr(IFA_LOCAL if family == socket.AF_INET else IFA_ADDRESS, raw))


def route(t, dst_len, oif):
    hdr = struct.pack("=BBBBBBBBI", socket.AF_INET, dst_len, 0, 0, 254, 3, 0, 1, 0)
    return msg(t, hdr + attr(RTA_TABLE, struct.pack("=I", 254)) + attr(RTA_OIF, struct.pack("=I", oif)))


def link(t, index, flags):
    return msg(t, struct.pack("=BBHiII", 0, 0, 1, index, flags, 0))


seeds = {
    "addr_new4": addr(RTM_NEWADDR, socket.AF_INET, 2, "10.10.1.3"),
    "addr_del4": addr(RTM_DELADDR, socket.AF_INET, 2, "10.10.1.2"),
    "addr_new6": addr(RTM_NEWADDR, socket.AF_INET6, 2, "2001:db8::5"),
    "route_default": route(RTM_NEWROUTE, 0, 2),
    "route_host": route(RTM_DELROUTE, 32, 9),
    "link_up": link(RTM_NEWLINK, 2, IFF_UP | IFF_RUNNING),
    "link_gone": link(RTM_DELLINK, 3, 0),
    "move": addr(RTM_NEWADDR, socket.AF_INET, 2, "10.10.1.3")
    + addr(RTM_DELADDR, socket.AF_INET, 2, "10.10.1.2")
    + route(RTM_NEWROUTE, 0, 2),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "netlink")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
