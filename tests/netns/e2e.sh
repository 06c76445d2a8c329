#!/usr/bin/env bash
# End-to-end tests of ztna in network namespaces with real NAT, real daemons
# and real programs through the tunnel. Topology in lib.sh; services in
# ztna-env.sh.
#
#   ping      ICMP to a service address, answered by the real backend host
#   udp       a UDP echo through the tunnel
#   http      curl of a 20 MB file, checksum compared
#   tcp       iperf3 for a few seconds
#   policy    a port the service does not allow, with a backend listening
#             on it, gets nothing through the tunnel; the connector counts it
#   refused   an agent with a certificate from another CA is refused, with
#             the reason logged on the Intermediate
#   garbage   junk UDP at the Intermediate: counted, nothing breaks
#   opacity   with the Intermediate's TLS keys, its capture decrypts, and a
#             marker sent through the tunnel is not in it (relay sees no plaintext)
#   restart   the Intermediate killed and restarted: traffic flows again
#
# BUILD=build|build-san picks the binaries; QUICK=1 skips opacity and the
# long transfer sizes (used for the sanitizer pass). Exit status: failures.
# A check that cannot run prints SKIP with its reason and is counted; with
# CI=true a skip is a failure unless its name is in ZT_EXPECTED_SKIPS
# (comma-separated, e.g. "opacity"), as in the unit tests' harness.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh

# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

opacity_skip=""
if [ "${QUICK:-0}" = 1 ]; then
  opacity_skip="QUICK=1"
elif ! command -v tshark >/dev/null; then
  opacity_skip="tshark not installed"
else
  ZT_KEYLOG_WANTED=1
fi

zt_env_init
zt_topology_up || { fail topology; exit 1; }
zt_make_pki || { fail pki; exit 1; }
zt_write_configs
zt_start_backends || { fail backends; exit 1; }
if [ -n "${ZT_KEYLOG_WANTED:-}" ]; then
  export ZT_KEYLOG="$ZT_WORK/keylog"
  zt_bg capture "$ZT_NS_I" tshark -q -i br0 -f "udp port 4433" -w "$ZT_WORK/relay.pcapng"
  # dumpcap says when it really captures (seconds on a loaded machine)
  zt_wait_log capture "Capture started" 30 || sleep 1.5
fi
# The opacity check needs the marker traffic on the relay: the direct path
# between the two NATs stays cut until it is done (then the session goes
# direct, as the later checks expect).
if [ -n "${ZT_KEYLOG_WANTED:-}" ]; then
  zt_direct_cut on || { fail "direct path cut"; exit 1; }
fi
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail start-intermediate; exit 1; }
zt_start_connector
zt_wait_log connector "service echo registered" || { fail start-connector; exit 1; }
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" || { fail start-agent; exit 1; }
zt_wait_log agent "sees us at 198.51.100.2" 5 && pass "observed address (agent behind NAT told 198.51.100.2)" ||
  fail "observed address"

# ---- ping: answered by the real backend host
before=$(zt_backend_pings)
if A ping -c 5 -i 0.2 -W 2 "$WEB_VIP" >"$ZT_WORK/ping.out" 2>&1; then
  after=$(zt_backend_pings)
  if [ $((after - before)) -ge 5 ]; then
    pass "ping $WEB_VIP ($(grep -o 'rtt.*' "$ZT_WORK/ping.out"); backend saw $((after - before)) echo requests)"
  else
    fail ping "backend counted $((after - before)) echo requests"
  fi
else
  fail ping "$(tail -n 2 "$ZT_WORK/ping.out")"
fi

# ---- UDP echo
MARKER="ZTNA-MARKER-$$-$RANDOM-PLAINTEXT"
if A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 "$MARKER" 20 >"$ZT_WORK/udp.out"; then
  pass "udp echo $ECHO_VIP:9999 ($(cat "$ZT_WORK/udp.out"))"
else
  fail "udp echo" "$(cat "$ZT_WORK/udp.out")"
fi

# ---- the relay never sees plaintext
# The capture on the Intermediate's segment holds the handshakes, the pings,
# the UDP echo and an HTTP request, each carrying the marker. With the
# Intermediate's TLS secrets tshark decrypts the outer QUIC connections: the
# control stream is readable there (so decryption demonstrably worked), the
# marker is in no decrypted frame and nowhere in the raw capture.
if [ -n "${ZT_KEYLOG_WANTED:-}" ]; then
  A curl -s --max-time 10 -H "X-Marker: $MARKER" -o /dev/null "http://$WEB_VIP:8080/"
  sleep 1
  zt_stop capture INT
  zt_direct_cut off
  if ! [ -s "$ZT_KEYLOG" ]; then
    fail "opacity" "the Intermediate wrote no TLS keys"
  else
    tshark -r "$ZT_WORK/relay.pcapng" -o "tls.keylog_file:$ZT_KEYLOG" \
      -d udp.port==4433,quic -Y quic -T fields -E separator=/t \
      -e quic.stream_data -e quic.dg >"$ZT_WORK/decrypted.tsv" 2>/dev/null
    # 5 pings, 20 echoes and an HTTP exchange, each way: at least 50
    # DATAGRAM frames, or the traffic did not take the relay at all.
    verdict=$("$ZT_PY" tests/netns/opacity.py "$ZT_WORK/decrypted.tsv" \
      "$ZT_WORK/relay.pcapng" "$MARKER" conn-a 50)
    case $verdict in
      ok*) pass "relay opacity: $verdict" ;;
      *) fail "opacity" "$verdict" ;;
    esac
  fi
else
  skip opacity "$opacity_skip"
fi

# ---- HTTP: 20 MB, checksum compared
zt_http_blob "" -H "X-Marker: $MARKER"

# ---- TCP throughput with iperf3
secs=$([ "${QUICK:-0}" = 1 ] && echo 2 || echo 4)
if A iperf3 -c "$WEB_VIP" -p 5201 -t "$secs" -J >"$ZT_WORK/iperf.json" 2>&1; then
  mbps=$("$ZT_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' "$ZT_WORK/iperf.json")
  pass "iperf3 tcp ${secs}s: ${mbps} Mbit/s"
else
  fail iperf3 "$(tail -n 3 "$ZT_WORK/iperf.json")"
fi

# ---- TUN offloads ("tun_offload", on by default): the upload above left
# the agent's TUN as super segments and entered the connector's merged.
tun_counter() { # NS SOCK NAME: the driver counter in the text status
  ip netns exec "$1" "$ZT_PY" -c 'import re, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"status\n")
t = b"".join(iter(lambda: s.recv(65536), b"")).decode()
m = re.search(r"\b%s (\d+)" % sys.argv[2], t); print(m.group(1) if m else "NA")' "$2" "$3"
}
if grep -q "TUN offloads not available" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log"; then
  skip "tun offloads" "$(grep -h "TUN offloads not available" "$ZT_WORK"/{agent,connector}.log | head -n1)"
else
  cut_n=$(tun_counter "$ZT_NS_A" "$ZT_WORK/agent.sock" tun_gso_segments)
  merged_n=$(tun_counter "$ZT_NS_C" "$ZT_WORK/connector.sock" tun_gro_segments)
  if [ "${cut_n:-0}" -gt 0 ] 2>/dev/null && [ "${merged_n:-0}" -gt 0 ] 2>/dev/null; then
    pass "tun offloads: agent cut $cut_n packets from super segments, connector merged $merged_n"
  else
    fail "tun offloads" "agent tun_gso_segments $cut_n, connector tun_gro_segments $merged_n"
  fi
fi

# ---- policy: a port the service does not list
# B listens on tcp/$ZT_FORBIDDEN_PORT and the connector's host reaches it
# directly, and the connector DNATs every port of $WEB_VIP to B: only the
# connector's port rule stands between the agent and that listener. So
# the connection must fail AND the connector must count the drops
# (rx ... not_allowed), or the check proves nothing.
not_allowed() { # the connector's rx not_allowed counter, from a fresh status
  zt_status connector || return 1
  grep -o 'rx: packets [0-9]* .* not_allowed [0-9]*' "$ZT_WORK/connector.log" |
    tail -n1 | awk '{print $NF}'
}
if ! ip netns exec "$ZT_NS_C" curl -s --max-time 5 -o /dev/null \
  "http://10.30.0.2:$ZT_FORBIDDEN_PORT/"; then
  fail "policy" "backend tcp/$ZT_FORBIDDEN_PORT not reachable from the connector's host: the check would prove nothing"
elif ! na_before=$(not_allowed) || [ -z "$na_before" ]; then
  fail "policy" "no rx not_allowed counter in the connector's status"
elif A curl -s --max-time 3 "http://$WEB_VIP:$ZT_FORBIDDEN_PORT/" >/dev/null 2>&1; then
  fail "policy" "tcp/$ZT_FORBIDDEN_PORT on $WEB_VIP reachable through the tunnel"
else
  na_after=$(not_allowed)
  if [ "${na_after:-0}" -gt "$na_before" ]; then
    pass "policy: tcp/$ZT_FORBIDDEN_PORT on $WEB_VIP (listening on the backend) refused by the connector (not_allowed $na_before -> $na_after)"
  else
    fail "policy" "connection failed but the connector did not count it (not_allowed $na_before -> ${na_after:-?})"
  fi
fi

# ---- ztna status: the agent's session and the Intermediate's peers
# Through the control sockets, as an operator would ask; the JSON must
# parse and say what the traffic above did (docs/status.md).
# The direct path may still be waiting for its next probing round after the
# opacity check's cut: up to 8 s (protocol.md, "Direct paths").
for _ in $(seq 75); do
  A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
    grep -q '"path":"direct"' && break
  sleep 0.2
done
if A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" >"$ZT_WORK/status-agent.json" 2>&1 &&
  ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/intermediate.sock" \
    >"$ZT_WORK/status-im.json" 2>&1; then
  verdict=$("$ZT_PY" - "$ZT_WORK/status-agent.json" "$ZT_WORK/status-im.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
im = json.load(open(sys.argv[2]))
s = [x for x in a["sessions"] if x["peer"] == "conn-a"]
peers = {(p["role"], p["name"]) for p in im["peers"]}
if a["daemon"] != "agent" or a["version"] != 1 or a["uplink"]["state"] != "up":
    print("agent: bad top level or uplink", a.get("uplink"))
elif len(s) != 1 or s[0]["path"] != "direct":
    # both NATs here map endpoint-independently: the session goes direct
    print("agent: not one direct session to conn-a:", a["sessions"])
elif s[0]["rx"]["packets"] <= 0 or s[0]["tx"]["packets"] <= 0:
    print("agent: session counters not counting:", s[0])
elif not {("agent", "alice"), ("connector", "conn-a")} <= peers:
    print("intermediate: peers", sorted(peers))
else:
    print("ok: conn-a via %s, tx %d rx %d packets, rtt %d us; intermediate peers %s"
          % (s[0]["path"], s[0]["tx"]["packets"], s[0]["rx"]["packets"],
             s[0]["rtt_us"], sorted(peers)))
EOF
  )
  case $verdict in
    ok*) pass "ztna status --json: $verdict" ;;
    *) fail "ztna status" "$verdict" ;;
  esac
else
  fail "ztna status" "$(cat "$ZT_WORK/status-agent.json" "$ZT_WORK/status-im.json" 2>/dev/null)"
fi
if A "$ZT_BIN/ztna" status --socket "$ZT_WORK/agent.sock" | grep -q '^conn-a .* direct '; then
  pass "ztna status (tables): the session to conn-a, direct"
else
  fail "ztna status (tables)" "$(A "$ZT_BIN/ztna" status --socket "$ZT_WORK/agent.sock" 2>&1)"
fi
# ---- ztna ping: through the real agent's and Intermediate's sockets
# The Intermediate has no ping: one clean error, exit 1. The agent answers
# with pongs from conn-a, or (while the agent's probe is a stub) its error,
# cleanly; never a hang or a garbled line.
ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" ping -c 2 -i 0.1 --control-socket "$ZT_WORK/intermediate.sock" web \
  >"$ZT_WORK/ping-im.out" 2>"$ZT_WORK/ping-im.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "intermediate.sock: ping is only supported by ztna-agent" "$ZT_WORK/ping-im.err" &&
  [ ! -s "$ZT_WORK/ping-im.out" ]; then
  pass "ztna ping at the Intermediate: refused cleanly"
else
  fail "ztna ping at the Intermediate" "rc $rc: $(cat "$ZT_WORK/ping-im.out" "$ZT_WORK/ping-im.err")"
fi
A "$ZT_BIN/ztna" ping -c 3 -i 0.2 --control-socket "$ZT_WORK/agent.sock" web >"$ZT_WORK/ping.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -Eq '^pong from conn-a \(10\.100\.0\.1\) via (relay|direct)' "$ZT_WORK/ping.out"; then
  pass "ztna ping web: $(head -1 "$ZT_WORK/ping.out")"
else
  fail "ztna ping web" "rc $rc: $(cat "$ZT_WORK/ping.out")"
fi
if [ "$(stat -c %a "$ZT_WORK/agent.sock")" = 600 ]; then
  pass "control socket mode 0600"
else
  fail "control socket mode" "$(stat -c %a "$ZT_WORK/agent.sock")"
fi

# ---- an agent with a certificate from another CA
zt_start_foreign_agent
if zt_wait_log intermediate "refused peer at 198.51.100.2" 10; then
  pass "foreign CA refused: $(grep -m1 'refused peer' "$ZT_WORK/intermediate.log" | sed 's/.*refused peer/refused peer/')"
else
  fail "foreign CA refused"
fi
zt_wait_log mallory "cannot connect to intermediate: the intermediate refused our certificate" 5 || fail "refused agent did not notice"
if grep -q "unknown_ca" "$ZT_WORK/mallory.log" && ! grep -q "connected to intermediate" "$ZT_WORK/mallory.log"; then
  pass "refused agent says why: $(grep -m1 'cannot connect' "$ZT_WORK/mallory.log" | sed 's/.*cannot connect/cannot connect/')"
else
  fail "refused agent's message" "$(grep -m2 'intermediate' "$ZT_WORK/mallory.log")"
fi
zt_stop mallory
grep -q "added route" "$ZT_WORK/mallory.log" && fail "refused agent got routes"

# ---- junk at the Intermediate's port
A "$ZT_PY" - <<'EOF'
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in (1, 5, 40, 1200, 1452):
    for _ in range(20):
        s.sendto(os.urandom(n), ("198.51.100.1", 4433))
# a long header Initial-looking packet with garbage
s.sendto(bytes([0xc0, 0, 0, 0, 1, 16]) + os.urandom(1194), ("198.51.100.1", 4433))
EOF
# The Intermediate counts what it could not use (SIGUSR1 logs its status).
zt_status intermediate || true
junk="$(grep -o 'udp: packets [0-9]* unknown [0-9]*' "$ZT_WORK/intermediate.log" |
  tail -n1); $(grep -o 'handshakes: .* failed [0-9]*' "$ZT_WORK/intermediate.log" | tail -n1)"
# 101 junk datagrams: those that look like a QUIC Initial are failed
# handshakes, the others unknown packets. Some random ones may pass for an
# Initial header and open a handshake that then dies, so demand most.
unknown=$(grep -o 'unknown [0-9]*' <<<"$junk" | cut -d' ' -f2)
failed=$(grep -o 'failed [0-9]*' <<<"$junk" | cut -d' ' -f2)
counted=$((${unknown:-0} + ${failed:-0}))
if ! A ping -c 2 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1; then
  fail "junk datagrams" "tunnel down afterwards"
elif [ "${counted:-0}" -lt 80 ]; then
  fail "junk datagrams" "not counted: '$junk'"
else
  pass "junk datagrams counted and dropped ($junk), tunnel still up"
fi

# ---- a connector that stops says so: the Intermediate drops it at once
# and the agent's session ends at once (CONNECTION_CLOSE on both layers),
# instead of either waiting out a 30 s idle timeout; when the connector is
# back, the agent's next packets open a new session. The outage (from the
# stop to the first ping answered again) is printed.
zt_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(zt_ms)
zt_stop connector TERM
# 10 s: far below the 30 s idle timeout this tells apart, and room for a
# loaded machine (the time taken is printed).
if zt_wait_log intermediate "connector conn-a disconnected: closed by peer" 10 &&
  zt_wait_log agent "session with connector conn-a ended: closed by peer" 10; then
  pass "connector stopped: the Intermediate and the agent knew within $(($(zt_ms) - t0)) ms"
else
  fail "connector stop" "not seen at once: $(grep -h 'conn-a disconnected\|conn-a ended' "$ZT_WORK/intermediate.log" "$ZT_WORK/agent.log" | tail -n 2)"
fi
mv "$ZT_WORK/connector.log" "$ZT_WORK/connector-1.log"
zt_start_connector
back=""
for _ in $(seq 100); do
  if A ping -c 1 -W 0.2 "$WEB_VIP" >/dev/null 2>&1; then
    back=$(zt_ms)
    break
  fi
done
if [ -n "$back" ]; then
  pass "connector restarted: traffic again $((back - t0)) ms after the stop"
else
  fail "connector restart" "no ping answered within 20 s of the restart"
fi

# ---- restart the Intermediate
# Killed and started again at once: the new process answers the old
# connections' packets with Stateless Resets (its reset secret comes from its
# key), so agent and connector reconnect within a keepalive interval instead
# of waiting out the 30 s idle timeout. (The idle-timeout path, with the
# Intermediate gone for good, is tests/sim's test_intermediate_restart.)
sessions() { grep -c 'end-to-end session with connector conn-a established' "$ZT_WORK/agent.log"; }
# The session opened after the connector's restart must be direct at both
# ends first (up to 15 s): a relayed one ends with the Intermediate, which
# is not what this part tests.
on_direct() { # DAEMON
  "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/$1.sock" 2>/dev/null |
    grep -q '"path":"direct"'
}
for _ in $(seq 75); do
  on_direct agent && on_direct connector && break
  sleep 0.2
done
on_direct agent && on_direct connector ||
  fail "restart" "the session was not direct at both ends within 15 s"
sessions_before=$(sessions)
zt_stop intermediate KILL
mv "$ZT_WORK/intermediate.log" "$ZT_WORK/intermediate-1.log"
t0=$(date +%s)
zt_start_intermediate
if zt_wait_log agent "connection to intermediate lost: stateless reset" 20 &&
  zt_wait_log connector "connection to intermediate lost: stateless reset" 20; then
  pass "restart noticed by stateless reset after $(($(date +%s) - t0)) s (agent and connector)"
else
  fail "restart" "no stateless reset seen: $(grep -h 'connection to intermediate lost' "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" | tail -n 2)"
fi
# Both welcomed by the new Intermediate (a second WELCOME each), then
# traffic over the same end-to-end session: it was direct, so it outlived
# its relay channel and got a new one from the new Intermediate.
reconnected=0
for _ in $(seq 60); do
  if [ "$(grep -c 'intermediate #[0-9]* knows us' "$ZT_WORK/agent.log")" -ge 2 ] &&
    [ "$(grep -c 'intermediate #[0-9]* sees us' "$ZT_WORK/connector.log")" -ge 2 ]; then
    reconnected=1
    break
  fi
  sleep 0.5
done
if [ "$reconnected" != 1 ]; then
  fail "restart" "agent or connector not welcomed again within 30 s"
elif A ping -c 3 -i 0.3 -W 3 "$WEB_VIP" >/dev/null 2>&1 &&
  A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 after-restart 5 >/dev/null; then
  if [ "$(sessions)" -eq "$sessions_before" ] &&
    zt_wait_log agent "session with connector conn-a has a relay channel again" 10; then
    pass "intermediate restarted: agent and connector reconnected, the direct session lived on and has a relay channel again, traffic flows"
  else
    fail "restart" "the end-to-end session was restarted ($sessions_before -> $(sessions)) or got no new channel"
  fi
else
  fail "restart" "no traffic after the Intermediate came back"
fi

# ---- the same identity twice: alice's certificate started on a second host
# (the NAT router's namespace). The newer connection replaces the older,
# both sides say so, and the older does not come back to fight for it.
connects() { grep -c 'connected to intermediate' "$ZT_WORK/agent.log"; }
connects_before=$(connects)
zt_bg agent2 "$ZT_NS_RA" "$ZT_BIN/ztna-agent" --config "$ZT_WORK/agent.json" \
  --control-socket "$ZT_WORK/agent2.sock"
if zt_wait_log agent "will not reconnect" 15 &&
  zt_wait_log intermediate "agent alice: new connection from" 5 &&
  zt_wait_log agent2 "added route $WEB_VIP" 10 &&
  ip netns exec "$ZT_NS_RA" ping -c 3 -i 0.3 -W 3 "$WEB_VIP" >/dev/null 2>&1; then
  sleep 12 # longer than the first reconnect backoffs
  if [ "$(connects)" -eq "$connects_before" ] &&
    ip netns exec "$ZT_NS_RA" ping -c 3 -i 0.3 -W 3 "$WEB_VIP" >/dev/null 2>&1; then
    pass "same identity twice: the newer replaced the older, which stayed down; traffic flows for the newer"
  else
    fail "same identity twice" "the older reconnected ($connects_before -> $(connects) connects) or traffic stopped"
  fi
else
  fail "same identity twice" "no replacement seen, or no traffic for the newer agent"
fi
zt_stop agent2 TERM || fail "agent2 exit status" "non-zero"

# ---- clean shutdown
for d in agent connector intermediate; do
  zt_stop "$d" TERM || fail "$d exit status" "non-zero"
done
for s in agent connector intermediate; do
  [ -e "$ZT_WORK/$s.sock" ] && fail "$s left its control socket behind"
done
# The connector parks its table: NAT chains with only the masquerade of
# flows it marked (so that flows through it survive a restart,
# platform/nft.h), nothing else.
parked=$(ip netns exec "$ZT_NS_C" nft list table inet ztna_ztna_c0 2>/dev/null)
if grep -q "dnat\|forward\|drop" <<<"$parked" || [ "$(grep -c masquerade <<<"$parked")" -gt 1 ]; then
  fail "connector left rules behind" "$parked"
elif ! grep -q "type nat hook postrouting" <<<"$parked"; then
  fail "connector did not park its table" "${parked:-no table}"
fi
if [ "$BUILD" = build-san ] && grep -l "ERROR: AddressSanitizer\|runtime error:" "$ZT_WORK"/*.log; then
  fail "sanitizer reports"
fi

zt_summary e2e
