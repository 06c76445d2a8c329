#!/usr/bin/env python3
"""bench/pathwatch.py: how long until a daemon's status shows a session on a
given path, from its control socket (docs/status.md: one line "status json"
each way, then the daemon closes), polled every 20 ms.

    pathwatch.py SOCK PATH TIMEOUT_S [--kick IP:PORT] [-- CMD...]

The clock starts
  * with --kick: as the first UDP datagram goes to IP:PORT (run this in the
    agent's namespace, IP a service address: the first packet into the
    tunnel); one more goes every poll, so the session has traffic;
  * with CMD: when CMD (e.g. the nft rule that blocks the direct path) has
    returned;
  * otherwise: now.
It stops when any session in the status has "path" == PATH. Prints one line,
"MS REMOTE" (elapsed milliseconds, the session's "remote"), or
"NA LAST_PATHS" after TIMEOUT_S; exit status 0 or 1. A status that cannot be
read (daemon busy, socket not there yet) counts as "not yet".
"""
import json
import socket
import subprocess
import sys
import time

POLL_S = 0.020


def status(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        s.sendall(b"status json\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return json.loads(b"".join(chunks))
    finally:
        s.close()


def main(argv):
    cmd = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    kick = None
    if "--kick" in argv:
        i = argv.index("--kick")
        host, port = argv[i + 1].rsplit(":", 1)
        kick = (host, int(port))
        argv = argv[:i] + argv[i + 2:]
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sock, want, timeout = argv[0], argv[1], float(argv[2])

    if cmd:
        subprocess.run(cmd, check=True)
    udp = None
    if kick:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    last = "no-status"
    while True:
        now = time.monotonic()
        if udp:
            try:
                udp.sendto(b"pathwatch", kick)
            except OSError:
                pass
        try:
            st = status(sock)
            sessions = st.get("sessions") or []
            last = ",".join(str(s.get("path")) for s in sessions) or "no-session"
            for s in sessions:
                if s.get("path") == want:
                    print("%d %s" % (round((now - t0) * 1000), s.get("remote")))
                    return 0
        except (OSError, ValueError):
            pass
        if now - t0 > timeout:
            print("NA %s" % last)
            return 1
        time.sleep(max(0.0, POLL_S - (time.monotonic() - now)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
