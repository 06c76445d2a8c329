#!/usr/bin/env python3
"""Judges the relay-opacity capture.

usage: opacity.py DECRYPTED.tsv CAPTURE.pcapng MARKER CONTROL_WORD [MIN_DGRAMS]

DECRYPTED.tsv is tshark's `-T fields -e quic.stream_data -e quic.dg` over
the Intermediate's capture, decrypted with its TLS secrets: one line per
packet, hex fields, several values joined by commas. Prints one line that
starts with "ok" when the control stream decrypted (CONTROL_WORD is in it)
and MARKER is in no decrypted frame and not in the raw capture, and at
least MIN_DGRAMS (default 1) DATAGRAM frames decrypted, so the traffic
carrying the marker did go through the relay; otherwise the reason.
"""
import sys


def frames(path):
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            for kind, col in zip(("stream", "dgram"), cols):
                for h in filter(None, col.split(",")):
                    yield kind, bytes.fromhex(h.replace(":", ""))


def main():
    tsv, pcap, marker, word = sys.argv[1:5]
    min_dgrams = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    marker_b, word_b = marker.encode(), word.encode()
    stream = b""
    n_dgram = n_stream = 0
    for kind, data in frames(tsv):
        if kind == "stream":
            n_stream += 1
            stream += data
        else:
            n_dgram += 1
        if marker_b in data:
            print(f"marker visible in a decrypted {kind} frame")
            return
    with open(pcap, "rb") as f:
        if marker_b in f.read():
            print("marker visible in the raw capture")
            return
    if word_b not in stream:
        print(f"outer connections did not decrypt ({n_stream} stream frames, "
              f"'{word}' not among them)")
        return
    if n_dgram < min_dgrams:
        print(f"only {n_dgram} DATAGRAM frames decrypted (want {min_dgrams}): "
              "the marker traffic was not relayed, so this proves nothing")
        return
    print(f"ok: outer QUIC decrypted ({n_stream} control stream frames naming "
          f"'{word}', {n_dgram} DATAGRAM frames), marker in none of them")


main()
