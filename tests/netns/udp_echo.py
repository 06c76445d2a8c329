#!/usr/bin/env python3
"""A UDP echo for the end-to-end tests, bounded in time.

  udp_echo.py server ADDR PORT [SECONDS]   echo every datagram back (default 600 s)
  udp_echo.py client ADDR PORT MESSAGE [COUNT [SIZE [GAP]]]
      send MESSAGE COUNT times (default 5), print how many came back intact;
      exit 0 if all did. With SIZE (0: none), each datagram is padded to
      SIZE bytes with a pattern that differs per datagram (fragments of one
      cannot pass for another's). With GAP, GAP seconds between datagrams.
      Each waits up to 2 s for its own reply; a late reply to an earlier
      one is read and skipped, never taken for the next one's.
"""
import socket
import sys
import time


def server(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        s.sendto(data, peer)


def client(addr, port, message, count, size=0, gap=0.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ok = 0
    for i in range(count):
        if i and gap:
            time.sleep(gap)
        payload = ("%s %d" % (message, i)).encode()
        if size > len(payload):
            pad = bytes((i * 7 + j) % 251 for j in range(size - len(payload)))
            payload += pad
        s.sendto(payload, (addr, port))
        end = time.monotonic() + 2.0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            if data == payload:
                ok += 1
                break
            # a late reply to an earlier datagram (or a corrupt one): read
            # on, this datagram's own reply may still come
    print("udp echo: %d/%d replies intact" % (ok, count))
    return 0 if ok == count else 1


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "server":
        server(sys.argv[2], int(sys.argv[3]),
               float(sys.argv[4]) if len(sys.argv) > 4 else 600)
    elif mode == "client":
        sys.exit(client(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                        int(sys.argv[5]) if len(sys.argv) > 5 else 5,
                        int(sys.argv[6]) if len(sys.argv) > 6 else 0,
                        float(sys.argv[7]) if len(sys.argv) > 7 else 0.0))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
