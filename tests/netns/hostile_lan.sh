#!/usr/bin/env bash
# A hostile host on the connector's networks, in the namespaces of lib.sh.
# The backend host B plays the attacker: it routes the agent pool via the
# connector C and sends packets whose source is a service's virtual address
# to the agent's tunnel address, as if the service were talking to the agent.
#
#   spoof      none reaches the connector's TUN or the agent's; the
#              connector's forward chain counts them dropped
#   real       ping and the UDP echo through the tunnel still work
#   router     C does not forward between its two networks (B -> RC) when
#              ztna was the one to turn ip_forward on, and ip_forward is off
#              again after the connector exits
#   on-purpose with ip_forward on before ztna starts, C still routes between
#              its networks, and the spoof is still dropped
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh

# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
B() { ip netns exec "$ZT_NS_B" "$@"; }
C() { ip netns exec "$ZT_NS_C" "$@"; }
SPOOF_PORT=7777
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent
if ! command -v tcpdump >/dev/null; then
  skip hostile-lan "tcpdump not installed (scripts/deps.sh)"
  zt_summary hostile_lan
fi

ip_forward_c() { C cat /proc/sys/net/ipv4/ip_forward; }
# The connector's forward-chain counter of the rule matching $1.
fwd_counter() {
  C nft list chain inet ztna_ztna_c0 forward 2>/dev/null |
    awk -v pat="$1" 'index($0, pat) { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }' |
    head -n1
}
# B -> RC's LAN address: forwarded by C from eth1 to eth0, if C forwards.
b_reaches_rc() { B ping -n -q -c 2 -i 0.3 -W 1 10.20.1.1 >/dev/null 2>&1; }

start_connector() {
  zt_start_connector
  zt_wait_log connector "service web registered" 20
}
wait_tunnel() { # the agent's session back up: a ping gets through
  local i
  for i in $(seq 20); do
    A ping -n -q -c 1 -W 1 "$WEB_VIP" >/dev/null 2>&1 && return 0
  done
  return 1
}

# Spoofed UDP from the web service's virtual address to the agent's tunnel
# address, sent by B; tcpdump watches both TUN devices. $1: label.
spoof_check() {
  local label=$1 before after a_seen c_seen
  before=$(fwd_counter "oifname \"ztna-c0\" counter")
  zt_bg "tcpdump-a-$label" "$ZT_NS_A" tcpdump -n -U -i ztna0 -w "$ZT_WORK/a-$label.pcap" udp port $SPOOF_PORT
  zt_bg "tcpdump-c-$label" "$ZT_NS_C" tcpdump -n -U -i ztna-c0 -w "$ZT_WORK/c-$label.pcap" udp port $SPOOF_PORT
  sleep 1.5 # tcpdump takes a moment to start capturing
  B "$ZT_PY" - "$WEB_VIP" "$AGENT_IP" $SPOOF_PORT <<'EOF'
import socket, sys, time
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, port))
for i in range(5):
    s.sendto(b"spoofed reply %d" % i, (dst, 40000 + i))
    time.sleep(0.05)
EOF
  sleep 1
  zt_stop "tcpdump-a-$label" INT
  zt_stop "tcpdump-c-$label" INT
  a_seen=$(tcpdump -n -r "$ZT_WORK/a-$label.pcap" 2>/dev/null | wc -l)
  c_seen=$(tcpdump -n -r "$ZT_WORK/c-$label.pcap" 2>/dev/null | wc -l)
  after=$(fwd_counter "oifname \"ztna-c0\" counter")
  if [ "$a_seen" -ne 0 ] || [ "$c_seen" -ne 0 ]; then
    fail "spoof ($label)" "$c_seen packet(s) entered the connector's TUN, $a_seen reached the agent"
  elif [ $((${after:-0} - ${before:-0})) -lt 5 ]; then
    fail "spoof ($label)" "the connector's drop rule counted $((${after:-0} - ${before:-0})) of 5: did the packets reach it?"
  else
    pass "spoof ($label): 5 packets from $WEB_VIP to $AGENT_IP dropped at the connector (counter +$((after - before))), none in either TUN"
  fi
}

zt_env_init
zt_topology_up || { fail topology; exit 1; }
zt_make_pki || { fail pki; exit 1; }
zt_write_configs
zt_start_backends || { fail backends; exit 1; }

# RC knows the service LAN is behind C, so only C's forwarding decides
# whether B reaches RC.
ip -n "$ZT_NS_RC" route add 10.30.0.0/24 via 10.20.1.2
# Control: with forwarding on and no ztna, the probe does get through.
C sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
if b_reaches_rc; then
  pass "control: with ip_forward on and no ztna, B reaches 10.20.1.1 through C"
else
  fail "control" "B cannot reach 10.20.1.1 through C even with forwarding on"
fi
C sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'

# ---- phase 1: ip_forward off before ztna
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail start-intermediate; exit 1; }
start_connector || { fail start-connector; exit 1; }
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" || { fail start-agent; exit 1; }
AGENT_IP=$(ip -n "$ZT_NS_A" -4 -o addr show dev ztna0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$AGENT_IP" ] || { fail "agent tunnel address"; exit 1; }

# The attacker: the service's address on B itself, the agent pool via C.
ip -n "$ZT_NS_B" addr add "$WEB_VIP/32" dev lo
ip -n "$ZT_NS_B" route add 100.64.0.0/16 via 10.30.0.1

if wait_tunnel && A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 hostile-lan 5 >/dev/null; then
  pass "real traffic: ping $WEB_VIP and UDP echo $ECHO_VIP through the tunnel"
else
  fail "real traffic" "no ping or UDP echo through the tunnel"
fi
spoof_check ztna-forwarding
if A ping -n -q -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1; then
  pass "real traffic after the spoof"
else
  fail "real traffic after the spoof"
fi

[ "$(ip_forward_c)" = 1 ] || fail "ip_forward" "the connector did not turn it on"
drops_before=$(fwd_counter "meta nfproto ipv4 counter")
if b_reaches_rc; then
  fail "router" "C forwards B -> 10.20.1.1 between its networks"
else
  pass "router: C, with ip_forward turned on by ztna, does not forward B -> 10.20.1.1 (dropped: $(($(fwd_counter "meta nfproto ipv4 counter") - ${drops_before:-0})))"
fi

# Both go, so phase 2 starts without a stale session waiting out its
# idle timeout.
zt_stop agent TERM || fail "agent exit status"
zt_stop connector TERM || fail "connector exit status"
if [ "$(ip_forward_c)" = 0 ]; then
  pass "ip_forward back off after the connector exits"
else
  fail "ip_forward" "still $(ip_forward_c) after the connector exited"
fi

# ---- phase 2: the host routes on purpose
C sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
mv "$ZT_WORK/connector.log" "$ZT_WORK/connector-1.log"
mv "$ZT_WORK/agent.log" "$ZT_WORK/agent-1.log"
start_connector || { fail restart-connector; exit 1; }
zt_wait_log connector "ip_forward was on" 1 || fail "router on purpose" "not noticed"
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" || { fail restart-agent; exit 1; }
AGENT_IP=$(ip -n "$ZT_NS_A" -4 -o addr show dev ztna0 | awk '{print $4}' | cut -d/ -f1)
if wait_tunnel; then
  pass "real traffic with a router-on-purpose connector"
else
  fail "real traffic" "tunnel not back after the connector restarted"
fi
if b_reaches_rc; then
  pass "router on purpose: C still forwards B -> 10.20.1.1"
else
  fail "router on purpose" "C stopped forwarding between its networks"
fi
spoof_check router-on-purpose
zt_stop connector TERM || fail "connector exit status"
[ "$(ip_forward_c)" = 1 ] || fail "ip_forward" "turned off although it was on before ztna"

for d in agent intermediate; do
  zt_stop "$d" TERM || fail "$d exit status" "non-zero"
done
if [ "$BUILD" = build-san ] && grep -l "ERROR: AddressSanitizer\|runtime error:" "$ZT_WORK"/*.log; then
  fail "sanitizer reports"
fi

zt_summary hostile_lan
