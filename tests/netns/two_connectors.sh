#!/usr/bin/env bash
# Two connectors serve one service (policy "connectors": [...]). A second
# connector host C2 (own namespace, own TUN) sits on the "internet" segment
# at 198.51.100.5 and reaches the backend B over a LAN of its own
# (10.31.0.0/24, a veth born between C2 and B): the echo service's backend
# 10.30.0.3 is reached by either connector.
#
#   I br0 ---- c2 | eth0 198.51.100.5   C2 (conn-b)   eth1 10.31.0.1
#                                                        |
#                                            B eth1 10.31.0.2 (backend)
#
# Policy: web -> conn-a; echo -> connectors [conn-a, conn-b]; alice both.
# Relay only (the point is the Intermediate's choice and its failover).
#
#   chosen     both registered; the agent is given one of them for echo
#   stop       pings to echo every 20 ms; the serving connector is stopped
#              (SIGTERM): pings continue through the other (gap printed)
#   sticky     the stopped one started again: the agent stays where it is
#   kill       the now serving one is killed (SIGKILL, no close): the
#              Intermediate hears nothing from it for 3 s and moves the
#              agent (gap printed; asserted only within 20 s)
#   status     `ztna status` on the Intermediate names both connectors of
#              echo and shows the killed one silent
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=outage_lib.sh
source tests/netns/outage_lib.sh
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

export ZT_NS_C2="zt-c2-$ZT_SUFFIX"
_zt_two_cleanup() {
  local rc=$?
  _zt_harness_cleanup
  [ -e "/run/netns/$ZT_NS_C2" ] && ip netns del "$ZT_NS_C2"
  exit $rc
}
trap _zt_two_cleanup EXIT

# C2: veths born from inside C2, peers in I (on br0) and in B.
c2_topology() {
  ip netns add "$ZT_NS_C2" &&
    ip -n "$ZT_NS_C2" link set lo up &&
    _zt_veth "$ZT_NS_C2" eth0 "$ZT_NS_I" c2 &&
    ip -n "$ZT_NS_I" link set c2 master br0 &&
    ip -n "$ZT_NS_I" link set c2 up &&
    _zt_addr "$ZT_NS_C2" eth0 198.51.100.5/24 &&
    _zt_veth "$ZT_NS_C2" eth1 "$ZT_NS_B" eth1 &&
    _zt_addr "$ZT_NS_C2" eth1 10.31.0.1/24 &&
    _zt_addr "$ZT_NS_B" eth1 10.31.0.2/24 &&
    ip -n "$ZT_NS_C2" route add 10.30.0.0/24 via 10.31.0.2
}

write_two_configs() {
  local p="$ZT_WORK/pki"
  "$ZT_BIN/ztna" cert issue --ca-dir "$p" --role connector --name conn-b \
    --out "$p/conn-b" >/dev/null || return 1
  cat >"$ZT_WORK/policy.json" <<JSON
{
  "services": [
    {"name": "web",  "address": "$WEB_VIP",  "connector": "conn-a"},
    {"name": "echo", "address": "$ECHO_VIP", "connectors": ["conn-a", "conn-b"]}
  ],
  "rules": [{"agent": "alice", "services": ["web", "echo"]}]
}
JSON
  cat >"$ZT_WORK/intermediate.json" <<JSON
{
  "listen": "0.0.0.0:4433",
  "ca": "$p/ca.pem", "cert": "$p/intermediate.pem", "key": "$p/intermediate.key",
  "agent_pool": "100.64.0.0/16",
  "state_dir": "$ZT_WORK/state",
  "policy": "$ZT_WORK/policy.json"
}
JSON
  cat >"$ZT_WORK/connector2.json" <<JSON
{
  "intermediate": "198.51.100.1:4433", "direct": false,
  "ca": "$p/ca.pem", "cert": "$p/conn-b.pem", "key": "$p/conn-b.key",
  "tun": "ztna-c1",
  "services": [{"name": "echo", "backend": "10.30.0.3", "ports": ["udp/9999", "icmp"]}]
}
JSON
}

log_of() { if [ "$1" = conn-a ]; then echo connector; else echo connector2; fi; }
other() { if [ "$1" = conn-a ]; then echo conn-b; else echo conn-a; fi; }

start_connector() { # conn-a | conn-b
  if [ "$1" = conn-a ]; then
    zt_start_connector
  else
    zt_bg connector2 "$ZT_NS_C2" "$ZT_BIN/ztna-connector" \
      --config "$ZT_WORK/connector2.json" --control-socket "$ZT_WORK/connector2.sock"
  fi
}

# The connector the agent was last told for echo.
echo_connector() {
  grep -o "service echo at $ECHO_VIP via connector [a-z-]*: online" "$ZT_WORK/agent.log" |
    tail -n1 | awk '{print $7}' | tr -d :
}

# Waits until the agent is told NAME for echo (up to 25 s).
wait_moved_to() {
  local i
  for ((i = 0; i < 250; i++)); do
    [ "$(echo_connector)" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

registered_count() { # LOG: how many times echo was registered
  grep -c "service echo registered" "$ZT_WORK/$1.log" 2>/dev/null
}

wait_registered() { # LOG N
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(registered_count "$1")" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

echo_answers() { ip netns exec "$ZT_NS_A" ping -n -c 2 -i 0.2 -W 2 "$ECHO_VIP" >/dev/null; }

# failover NAME FROM SIGNAL: pings every 20 ms while FROM gets SIGNAL; the
# agent must be moved to the other connector and the pings go on. Prints
# the longest gap; PASS within 20 s.
failover() {
  local name=$1 from=$2 sig=$3 to moved=no gap
  to=$(other "$from")
  zt_outage_start "$name" "$ECHO_VIP"
  sleep 1
  zt_stop "$(log_of "$from")" "$sig"
  wait_moved_to "$to" && moved=yes
  sleep 2
  gap=$(zt_outage_stop "$name")
  echo "  SIG$sig of $from: longest gap between echo replies $gap ms (moved to $to: $moved)"
  if [ "$moved" = yes ] && [ "$gap" != none ] && [ "$gap" -lt 20000 ] && echo_answers; then
    pass "$name (SIG$sig of $from: traffic continued through $to, gap $gap ms)"
  else
    fail "$name" "moved=$moved gap=$gap"
  fi
}

ZT_DIRECT=false
zt_env_init
zt_topology_up || exit 1
c2_topology || { echo "cannot build namespace C2" >&2; exit 1; }
zt_make_pki || exit 1
zt_write_configs || exit 1
write_two_configs || exit 1
zt_start_backends || exit 1
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || exit 1
start_connector conn-a
start_connector conn-b
wait_registered connector 1 && wait_registered connector2 1 || exit 1
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" || exit 1

first=$(echo_connector)
if [ -n "$first" ] && echo_answers; then
  pass "chosen (both connectors registered, echo via $first)"
else
  fail "chosen" "echo via '$first'"
  zt_summary two_connectors
fi
second=$(other "$first")

failover stop "$first" TERM

# ---- sticky: the first comes back, the agent stays
n=$(registered_count "$(log_of "$first")")
start_connector "$first"
wait_registered "$(log_of "$first")" $((n + 1)) || true
sleep 2
if [ "$(echo_connector)" = "$second" ] && echo_answers; then
  pass "sticky ($first back, echo stays with $second)"
else
  fail "sticky" "echo via $(echo_connector)"
fi

failover kill "$second" KILL
grep -q "connector $second silent for" "$ZT_WORK/intermediate.log" ||
  fail "kill" "the Intermediate did not log $second silent"

# ---- status: both connectors of echo, the killed one silent
st=$(ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --socket "$ZT_WORK/intermediate.sock" 2>&1)
if grep -q "echo .*$first online" <<<"$st" && grep -q "$second silent" <<<"$st"; then
  pass "status (echo: $first online, $second silent)"
else
  fail "status" "$st"
fi

zt_summary two_connectors
