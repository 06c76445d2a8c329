#!/usr/bin/env bash
# Direct path vs. relay, in the namespaces of tests/netns (ztna-env.sh) with
# a 20 ms delay box on the Intermediate's link only (lib.sh, ZT_DELAY_MS,
# tests/tools/delayfwd.c): agent and connector each behind its own NAT
# (masquerade, port-preserving: a direct path is possible), relayed traffic
# paying 2 x 2 x 20 ms per round trip more than direct traffic. One figure
# per line, no thresholds:
#
#   ztna-direct MBPS RTT_MS        iperf3 TCP for DUR s and 200 pings 5 ms
#                                  apart to the web service, once the
#                                  agent's status shows the session direct
#   ztna-time-to-direct-MS N       first packet into the tunnel (a UDP
#                                  datagram to the echo service, then one
#                                  per 20 ms) to the agent's status showing
#                                  path "direct", polled every 20 ms
#   ztna-switchover-MS N LOST      pings at 100/s while direct; an nft rule
#                                  on the agent's NAT drops UDP to and from
#                                  the connector's NAT (not the
#                                  Intermediate): ms until the status shows
#                                  "relay", and pings lost (icmp_seq gaps)
#   ztna-relay-20ms MBPS RTT_MS    the same topology with "direct": false in
#                                  the agent's and the connector's config
#
# The direct figures are NA when the session's path is not "direct" within
# WAIT s (default 10): the daemons do not make direct paths yet, or
# they failed. DELAY_MS (default 20) sets the delay, DUR (default 8) the
# iperf3 time. BUILD=dir runs another build's daemons, as bench/flood.sh.
# DIRECT_PATH=relay is a dry run of the direct steps before direct paths
# exist: "relay" stands in for "direct" (the figures then mean nothing, but
# every step, the nft rule and the ping count included, runs).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DUR=${DUR:-8}
WAIT=${WAIT:-10}
export ZT_DELAY_MS=${DELAY_MS:-20}
if [ -z "${BUILD:-}" ]; then
  bash scripts/deps.sh >/dev/null || exit 1
  make -s -j2 build/ztna build/ztna-intermediate build/ztna-connector \
    build/ztna-agent || exit 1
fi
make -s -j2 "${BUILD:-build}/tests/delayfwd" || exit 1
WATCH="$PWD/bench/pathwatch.py"
DIRECT_PATH=${DIRECT_PATH:-direct}

# phase direct|relay: one topology, its figures on stdout, torn down on
# every exit path (the subshell's trap).
phase() (
  # shellcheck source=../tests/netns/ztna-env.sh
  source tests/netns/ztna-env.sh
  trap zt_env_down EXIT
  trap 'exit 130' INT TERM
  A() { ip netns exec "$ZT_NS_A" "$@"; }
  iperf_mbps() {
    A timeout $((DUR + 15)) iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -J 2>/dev/null |
      "$ZT_PY" -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null
  }
  rtt_avg() {
    A timeout 20 ping -n -q -c 200 -i 0.005 -W 2 "$WEB_VIP" 2>/dev/null |
      awk -F/ '/rtt|round-trip/ {print $5}'
  }
  path_now() { # the agent's sessions' paths, comma-separated
    "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
      "$ZT_PY" -c 'import json,sys; print(",".join(s.get("path","?") for s in json.load(sys.stdin).get("sessions",[])) or "none")' 2>/dev/null
  }

  if [ "$1" = relay ]; then
    ZT_DIRECT=false zt_env_up >/dev/null 2>&1 || {
      echo "ztna-relay-${ZT_DELAY_MS}ms NA NA (start-up failed)"
      exit 1
    }
    A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up before measuring
    bw=$(iperf_mbps)
    rtt=$(rtt_avg)
    echo "ztna-relay-${ZT_DELAY_MS}ms ${bw:-NA} ${rtt:-NA} (path $(path_now))"
    exit 0
  fi

  ZT_DIRECT=true zt_env_up >/dev/null 2>&1 || {
    echo "ztna-direct NA NA (start-up failed)"
    echo "ztna-time-to-direct-MS NA"
    echo "ztna-switchover-MS NA NA"
    exit 1
  }
  # The first packet into the tunnel starts the clock.
  out=$(A "$ZT_PY" "$WATCH" "$ZT_WORK/agent.sock" "$DIRECT_PATH" "$WAIT" --kick "$ECHO_VIP:9999")
  ttd=${out%% *}
  if [ "$ttd" = NA ]; then
    echo "ztna-direct NA NA (path never direct within $WAIT s: ${out#NA })"
    echo "ztna-time-to-direct-MS NA"
    echo "ztna-switchover-MS NA NA"
    exit 0
  fi
  remote=${out#* }
  bw=$(iperf_mbps)
  rtt=$(rtt_avg)
  echo "ztna-direct ${bw:-NA} ${rtt:-NA} (remote $remote, path after: $(path_now))"
  echo "ztna-time-to-direct-MS $ttd"

  # Switchover: still direct? Then pings at 100/s, the rule, the wait.
  if ! "$ZT_PY" "$WATCH" "$ZT_WORK/agent.sock" "$DIRECT_PATH" 2 >/dev/null; then
    echo "ztna-switchover-MS NA NA (not direct before the switch: $(path_now))"
    exit 0
  fi
  cat >"$ZT_WORK/block.nft" <<'EOF'
table inet ztbench {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    ip daddr 198.51.100.3 meta l4proto udp counter drop
    ip saddr 198.51.100.3 meta l4proto udp counter drop
  }
}
EOF
  A ping -n -i 0.01 -W 2 -w $((WAIT + 10)) "$WEB_VIP" >"$ZT_WORK/switch-ping.out" 2>&1 &
  ppid=$!
  sleep 1
  out=$("$ZT_PY" "$WATCH" "$ZT_WORK/agent.sock" relay "$WAIT" -- \
    ip netns exec "$ZT_NS_RA" nft -f "$ZT_WORK/block.nft")
  sleep 2 # pings sent after the switch get their answers
  kill -INT "$ppid" 2>/dev/null
  wait "$ppid" 2>/dev/null
  # Lost: the icmp_seq numbers missing between the first and the last
  # answered (the summary would also count the pings still in flight at
  # the end).
  lost=$(awk -F'icmp_seq=' '/bytes from/ && NF > 1 { split($2, a, " "); s = a[1] + 0;
      if (!n || s < lo) lo = s; if (!n || s > hi) hi = s; if (!(s in seen)) n++; seen[s] = 1 }
    END { if (n) print hi - lo + 1 - n; else print "NA" }' "$ZT_WORK/switch-ping.out")
  blocked=$(ip netns exec "$ZT_NS_RA" nft list table inet ztbench 2>/dev/null |
    awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }')
  sw=${out%% *}
  if [ "$sw" = NA ]; then
    echo "ztna-switchover-MS NA ${lost:-NA} (still ${out#NA } $WAIT s after the block; $blocked packets blocked)"
  else
    echo "ztna-switchover-MS $sw ${lost:-NA} ($blocked packets blocked)"
  fi
)

phase direct
[ $? -eq 130 ] && exit 130 # interrupted: no second topology
phase relay
