#!/usr/bin/env bash
# The delay-and-loss bridge of the namespace tests and benches
# (tests/tools/delayfwd.c), on its own between two hosts:
#
#   A eth0 10.9.0.1 ---- fwa  D: delayfwd  fwb ---- eth0 10.9.0.2 B
#
#   delay     --delay-ms 50: every ping's RTT is at least 100 ms
#   tcp       iperf3 through it (veth hands up GSO frames over the MTU and
#             frames with their checksum left to offload: both must pass)
#   loss      --loss-pct 50: of 40 pings some, but not all, are lost; the
#             counters printed at SIGTERM show the losses
#   queue     --queue 4 and a burst of pings: queue drops counted, the
#             forwarder still forwards
#   usage     bad arguments: exit status 2
#
# Namespaces A, B and D of lib.sh's names (ZT_SUFFIX), nothing else; torn
# down on every exit path by the harness. BUILD=build|build-san.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
zt_need_bins tests/delayfwd
A() { ip netns exec "$ZT_NS_A" "$@"; }
DELAY=50

zt_env_init
topology() {
  local ns
  zt_topology_down
  for ns in "$ZT_NS_A" "$ZT_NS_D" "$ZT_NS_B"; do
    _zt_step ip netns add "$ns" || return 1
    _zt_step ip -n "$ns" link set lo up || return 1
  done
  _zt_sysctl "$ZT_NS_D" net/ipv6/conf/all/disable_ipv6 1 || return 1
  _zt_sysctl "$ZT_NS_D" net/ipv6/conf/default/disable_ipv6 1 || return 1
  _zt_veth "$ZT_NS_A" eth0 "$ZT_NS_D" fwa || return 1
  _zt_veth "$ZT_NS_D" fwb "$ZT_NS_B" eth0 || return 1
  _zt_step ip -n "$ZT_NS_D" link set fwa up || return 1
  _zt_step ip -n "$ZT_NS_D" link set fwb up || return 1
  _zt_addr "$ZT_NS_A" eth0 10.9.0.1/24 || return 1
  _zt_addr "$ZT_NS_B" eth0 10.9.0.2/24 || return 1
  # Static neighbours: ARP through a lossy link would make the loss test
  # depend on which ARP frames the dice pick.
  local ma mb
  ma=$(ip netns exec "$ZT_NS_A" cat /sys/class/net/eth0/address) || return 1
  mb=$(ip netns exec "$ZT_NS_B" cat /sys/class/net/eth0/address) || return 1
  _zt_step ip -n "$ZT_NS_A" neigh replace 10.9.0.2 lladdr "$mb" dev eth0 nud permanent || return 1
  _zt_step ip -n "$ZT_NS_B" neigh replace 10.9.0.1 lladdr "$ma" dev eth0 nud permanent || return 1
}
topology || { fail topology; exit 1; }

fwd_start() { # NAME ARGS...
  local name=$1
  shift
  zt_bg "$name" "$ZT_NS_D" "$ZT_BIN/tests/delayfwd" --a fwa --b fwb "$@"
  zt_wait_log "$name" "delayfwd: ready" 5
}
# counter NAME DIR FIELD: a counter from the lines printed at exit.
counter() {
  awk -v d="$2:" -v f="$3" '$2 == d { for (i = 3; i < NF; i++) if ($i == f) print $(i + 1) }' \
    "$ZT_WORK/$1.log" | tail -n 1
}

# delay
if fwd_start fwd-delay --delay-ms "$DELAY"; then
  out=$(A ping -n -q -c 10 -i 0.2 -W 2 10.9.0.2 2>&1)
  min=$(awk -F'[/ ]' '/rtt|round-trip/ {print $7}' <<<"$out")
  recv=$(awk '/received/ {print $4}' <<<"$out")
  if [ "${recv:-0}" -eq 10 ] && awk -v m="${min:-0}" -v d="$DELAY" 'BEGIN {exit !(m >= 2 * d)}'; then
    pass "delay (10/10 pings, min RTT $min ms >= 2 x $DELAY ms)"
  else
    fail delay "received ${recv:-?}/10, min RTT ${min:-?} ms, want >= $((2 * DELAY)): $out"
  fi
  # tcp: GSO and checksum-offload frames through the bridge.
  zt_bg iperf "$ZT_NS_B" iperf3 -s -1 -B 10.9.0.2 -p 5201
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$ZT_NS_B" ss -Hlnt | grep -q '10.9.0.2:5201' && break
    sleep 0.1
  done
  mbps=$(A timeout 20 iperf3 -c 10.9.0.2 -p 5201 -t 3 -J 2>/dev/null | "$ZT_PY" -c \
    'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null)
  if [ -n "$mbps" ] && [ "$mbps" -gt 0 ]; then
    pass "tcp (iperf3 $mbps Mbit/s through $DELAY ms each way)"
  else
    fail tcp "iperf3 through the forwarder: no figure"
  fi
  zt_stop iperf
  zt_stop fwd-delay
  trunc=$(counter fwd-delay a-\>b truncated)
  fwd=$(counter fwd-delay a-\>b forwarded)
  if [ "${fwd:-0}" -gt 0 ] && [ "${trunc:-1}" -eq 0 ]; then
    pass "counters at SIGTERM (a->b forwarded $fwd, truncated 0)"
  else
    fail counters "$(cat "$ZT_WORK/fwd-delay.log")"
  fi
else
  fail delay "forwarder did not start: $(cat "$ZT_WORK/fwd-delay.log")"
fi

# loss
if fwd_start fwd-loss --loss-pct 50 --seed 7; then
  recv=$(A ping -n -q -c 40 -i 0.05 -W 1 10.9.0.2 2>&1 | awk '/received/ {print $4}')
  zt_stop fwd-loss
  l1=$(counter fwd-loss a-\>b lost)
  l2=$(counter fwd-loss b-\>a lost)
  lost=$((${l1:-0} + ${l2:-0}))
  if [ -n "$recv" ] && [ "$recv" -gt 0 ] && [ "$recv" -lt 40 ] && [ "$lost" -gt 0 ]; then
    pass "loss (50%: $recv/40 pings answered, $lost frames lost)"
  else
    fail loss "received ${recv:-?}/40, lost ${lost:-?}: $(cat "$ZT_WORK/fwd-loss.log")"
  fi
else
  fail loss "forwarder did not start: $(cat "$ZT_WORK/fwd-loss.log")"
fi

# queue
if fwd_start fwd-queue --delay-ms 50 --queue 4; then
  A ping -n -q -c 100 -i 0.002 -W 1 10.9.0.2 >/dev/null 2>&1
  ok=no
  A ping -n -q -c 3 -i 0.2 -W 2 10.9.0.2 >/dev/null 2>&1 && ok=yes
  zt_stop fwd-queue
  qd=$(counter fwd-queue a-\>b queue_drops)
  if [ "${qd:-0}" -gt 0 ] && [ "$ok" = yes ]; then
    pass "queue (--queue 4: $qd queue drops, still forwarding)"
  else
    fail queue "queue drops ${qd:-?}, pings after the burst: $ok: $(cat "$ZT_WORK/fwd-queue.log")"
  fi
else
  fail queue "forwarder did not start: $(cat "$ZT_WORK/fwd-queue.log")"
fi

# usage
rc=0
ip netns exec "$ZT_NS_D" "$ZT_BIN/tests/delayfwd" --a fwa --b fwb --loss-pct 101 2>/dev/null || rc=$?
rc2=0
ip netns exec "$ZT_NS_D" "$ZT_BIN/tests/delayfwd" --a a 2>/dev/null || rc2=$?
if [ "$rc" -eq 2 ] && [ "$rc2" -eq 2 ]; then
  pass "usage (bad arguments: exit 2)"
else
  fail usage "--loss-pct 101: $rc, no --b: $rc2"
fi

zt_summary delayfwd
