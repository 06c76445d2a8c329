#!/usr/bin/env bash
# Path MTU discovery in network namespaces: the agent's internet link (RA's
# wan and the Intermediate's bridge port ra, both ends) at MTU 1280, with
# real daemons and real traffic. Topology in lib.sh.
#
#   shrink   a 20 MB HTTP download starts on a 1500 path; the link drops to
#            1280 in the middle: the download completes intact, the outage
#            (longest gap between UDP echoes running beside it) is printed
#   1280     daemons started on a 1280 path whose router drops its ICMP
#            "fragmentation needed" (loss-based discovery only): the agent
#            connects; ssh (a 20 MB file through it, checksum compared), a
#            1300-byte UDP echo (bigger than the tunnel's datagrams on this
#            path: the sender's kernel learns the tunnel's MTU from the
#            agent's ICMP and fragments, the connector reassembles) and a
#            20 MB HTTP download go through, and the agent's uplink reports
#            path MTU 1252
#
# TCP needs nothing from the test: the agent clamps the MSS of SYNs to what
# the session carries and answers DF packets too big with ICMP
# "fragmentation needed" (docs/architecture.md, "Packet sizes").
# BUILD=build|build-san.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

# gso_max_segs 1: a veth checks the MTU of single packets only and lets a
# UDP GSO train (ours send so) through whole, however big its segments,
# where a real link would carry each segment and drop the big ones. One
# segment at most makes the stack cut trains before these two devices,
# so the link drops what a 1280 wire would.
link_mtu() { # MTU: both ends of the agent's internet link
  ip -n "$ZT_NS_RA" link set wan mtu "$1" gso_max_segs 1 &&
    ip -n "$ZT_NS_I" link set ra mtu "$1" gso_max_segs 1
}

# RA sends no ICMP "fragmentation needed": only loss tells the daemons.
drop_frag_needed() {
  ip netns exec "$ZT_NS_RA" nft -f - <<'EOF'
table inet ztnoicmp {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
  }
}
EOF
}

# UDP echoes of 1000 bytes every 50 ms for SECONDS; prints the replies and
# the longest time without one (the outage).
gap_probe() { # SECONDS OUTFILE
  A "$ZT_PY" - "$ECHO_VIP" 9999 "$1" >"$2" 2>&1 <<'EOF'
import socket, sys, time
addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
start = last = time.monotonic()
end = start + secs
sent = got = 0
gap = 0.0
nxt = start
while time.monotonic() < end:
    now = time.monotonic()
    if now >= nxt:
        s.sendto(b"%08d" % sent + b"x" * 992, (addr, port))
        sent += 1
        nxt += 0.05
    try:
        data, _ = s.recvfrom(2048)
        if len(data) == 1000:
            now = time.monotonic()
            gap = max(gap, now - last)
            last = now
            got += 1
    except BlockingIOError:
        time.sleep(0.005)
gap = max(gap, time.monotonic() - last)
print("%d/%d echoes, longest gap %.2f s" % (got, sent, gap))
EOF
}

# 1300-byte UDP packets (they fill the tunnel's packets: after the link
# shrinks, every one of them is too big) at 20 per second for SECONDS.
big_udp() {
  A "$ZT_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    s.sendto(b"b" * 1272, (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.05)
' "$ECHO_VIP" 9999 "$1"
}

# The path MTU the agent's status shows for its uplink ("pmtu N state").
agent_uplink_pmtu() {
  zt_status agent >/dev/null 2>&1 || return 1
  grep 'status: uplink quic:' "$ZT_WORK/agent.log" | tail -n1 |
    sed -n 's/.*pmtu \([0-9]*\).*/\1/p'
}

# A 1300-byte UDP echo, 10 of 10. The first datagram of an application
# that sends with DF (Linux's default for UDP) may be the one that meets
# the tunnel's smaller MTU: it is answered with ICMP, not carried, exactly
# as a router would. One warm-up datagram goes first.
udp_echo_1300() { # LABEL
  local msg
  msg=$(head -c 1300 /dev/zero | tr '\0' x)
  A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 "$msg" 1 >/dev/null 2>&1
  if A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 "$msg" 10 >"$ZT_WORK/udp.out"; then
    pass "$1: 1300-byte udp echo ($(cat "$ZT_WORK/udp.out"))"
  else
    fail "$1: 1300-byte udp echo" "$(cat "$ZT_WORK/udp.out")"
  fi
}

# Waits up to 15 s for the agent's session to conn-a to end its path MTU
# search; prints its size.
session_pmtu_complete() {
  local i out
  for i in $(seq 75); do
    out=$(A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
      "$ZT_PY" -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sessions"] if x["peer"] == "conn-a"]
p = s[0].get("pmtu") if s else None
print("%d" % p["size"] if p and p["state"] == "complete" else "")' 2>/dev/null)
    [ -n "$out" ] && { echo "size $out"; return 0; }
    sleep 0.2
  done
  return 1
}

# ssh to the backend through the tunnel: the 20 MB file read back through
# the ssh channel, checksum compared.
ssh_blob() { # LABEL
  local want got
  want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
  got=$(zt_ssh "cat $ZT_WORK/www/blob" 2>"$ZT_WORK/ssh.err" | sha256sum | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then
    pass "$1: ssh, 20 MB through it, sha256 matches"
  else
    fail "$1: ssh" "checksum $got, want $want: $(head -c 300 "$ZT_WORK/ssh.err")"
  fi
}

zt_env_up || { fail "environment up"; exit 1; }
zt_start_sshd || { fail "sshd on the backend"; exit 1; }

# ---- shrink: 1500 -> 1280 in the middle of a download
# On the relay (the direct path cut), so that both layers lose their large
# packets: the outer connections find 1252, the inner one below that.
zt_direct_cut on || fail "direct path cut"
sleep 1
p=$(agent_uplink_pmtu)
[ "$p" = 1452 ] && pass "1500 path: agent uplink path MTU $p" ||
  fail "1500 path: agent uplink path MTU" "status says '${p:-nothing}', want 1452"
udp_echo_1300 "1500"
gap_probe 12 "$ZT_WORK/gap.out" &
gap_pid=$!
# 2 MB/s (curl overshoots its limit at first): the 20 MB take ~6 s, so the
# link shrinks 2 s in, in the middle.
zt_http_blob "shrink: " --limit-rate 2M &
dl_pid=$!
big_udp 8 &
big_pid=$!
sleep 2
kill -0 "$dl_pid" 2>/dev/null ||
  fail "shrink: the download ended before the link shrank (nothing tested)"
link_mtu 1280 || fail "set link mtu 1280"
wait "$dl_pid"
wait "$gap_pid"
wait "$big_pid"
zt_direct_cut off
gap=$(cat "$ZT_WORK/gap.out")
secs=$(sed -n 's/.*longest gap \([0-9.]*\) s.*/\1/p' <<<"$gap")
if [ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s < 20) }'; then
  pass "shrink: traffic resumed ($gap)"
else
  fail "shrink: traffic did not resume within 20 s" "$gap"
fi
p=$(agent_uplink_pmtu)
[ "$p" = 1252 ] && pass "shrink: agent uplink path MTU now $p" ||
  fail "shrink: agent uplink path MTU" "status says '${p:-nothing}', want 1252"
for d in agent intermediate connector; do
  grep -h 'path MTU' "$ZT_WORK/$d.log" | sed "s/^/    $d: /" | tail -n 8
  cp "$ZT_WORK/$d.log" "$ZT_WORK/$d-shrink.log"
done

# ---- 1280 from the start, no ICMP from the router
zt_stop agent
zt_stop connector
zt_stop intermediate
drop_frag_needed || fail "drop frag-needed"
# and A forgets the path MTU it learned from RA's ICMP in the first part
ip -n "$ZT_NS_A" route flush cache
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || fail "restart intermediate"
zt_start_connector
zt_wait_log connector "service echo registered" || fail "restart connector"
zt_start_agent
if zt_wait_log agent "added route $ECHO_VIP" 20; then
  pass "1280 no-icmp: agent connected"
else
  fail "1280 no-icmp: agent connected"
fi
ssh_blob "1280 no-icmp"
zt_http_blob "1280 no-icmp: "
# While its search runs the session takes datagrams up to what it may
# still confirm (docs/status.md, max_datagram): one bigger than the result
# is then dropped without an ICMP. The echo is meant to show the steady
# state, so it waits for the search to end.
if session_pmtu_complete; then
  pass "1280 no-icmp: the session's path MTU search ended ($(session_pmtu_complete))"
else
  fail "1280 no-icmp: the session's path MTU search did not end within 15 s"
fi
udp_echo_1300 "1280 no-icmp"
p=$(agent_uplink_pmtu)
[ "$p" = 1252 ] && pass "1280 no-icmp: agent uplink path MTU $p" ||
  fail "1280 no-icmp: agent uplink path MTU" "status says '${p:-nothing}', want 1252"

zt_summary pmtu
