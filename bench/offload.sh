#!/usr/bin/env bash
# TUN offloads (config "tun_offload", docs/performance.md): iperf3 through
# the tunnel with and without them, in the namespaces of tests/netns
# (ztna-env.sh), every variant in the same run. One line per variant:
#
#   offload VARIANT PATH UP_MBPS DOWN_MBPS A_RD/MB A_WR/MB C_RD/MB C_WR/MB
#
# VARIANT: "base" (the daemons in BASE, a build without offloads: before),
# "off" and "on" (this tree's build, "tun_offload" false and true). PATH:
# relay ("direct": false) or direct (the default, once the agent's status
# shows the session direct). UP: agent -> web service (iperf3 -c), DOWN:
# the reverse (-R), DUR s each. A_ and C_: the agent's and the connector's
# TUN reads and writes per MB moved through the device, from the
# device's own counters (one tx packet per read of the daemon, one rx
# packet per write: a super segment counts once), over both transfers.
# PATHS (default "relay direct") picks the paths. No thresholds: figures
# only.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DUR=${DUR:-6}
WAIT=${WAIT:-10}
BASE=${BASE:-}
make -s -j2 build/ztna build/ztna-intermediate build/ztna-connector \
  build/ztna-agent || exit 1
WATCH="$PWD/bench/pathwatch.py"

# run VARIANT BIN OFFLOAD PATH: one topology, one line, torn down on
# every exit path (the subshell's trap).
run() (
  # shellcheck source=../tests/netns/ztna-env.sh
  source tests/netns/ztna-env.sh
  trap zt_env_down EXIT
  trap 'exit 130' INT TERM
  ZT_BIN=$2
  set_offload() {
    [ "$OFFLOAD" = default ] && return 0
    for f in agent connector; do
      "$ZT_PY" -c 'import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["tun_offload"] = sys.argv[2] == "true"
json.dump(c, open(p, "w"), indent=1)' "$ZT_WORK/$f.json" "$OFFLOAD" || return 1
    done
  }
  OFFLOAD=$3
  ZT_AFTER_CONFIGS=set_offload
  direct=false
  [ "$4" = direct ] && direct=true
  ZT_DIRECT=$direct zt_env_up >/dev/null 2>&1 || {
    echo "offload $1 $4 NA (start-up failed)"
    exit 1
  }
  A() { ip netns exec "$ZT_NS_A" "$@"; }
  if [ "$4" = direct ]; then
    out=$(A "$ZT_PY" "$WATCH" "$ZT_WORK/agent.sock" direct "$WAIT" --kick "$ECHO_VIP:9999")
    [ "${out%% *}" = NA ] && { echo "offload $1 direct NA (never direct: $out)"; exit 0; }
  else
    A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up
  fi
  stats() { # NS DEV: tx_packets tx_bytes rx_packets rx_bytes
    local s=/sys/class/net/$2/statistics
    ip netns exec "$1" cat "$s/tx_packets" "$s/tx_bytes" "$s/rx_packets" \
      "$s/rx_bytes" | tr '\n' ' '
  }
  iperf() {
    A timeout $((DUR + 15)) iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -J "$@" 2>/dev/null |
      "$ZT_PY" -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null
  }
  a0=$(stats "$ZT_NS_A" ztna0)
  c0=$(stats "$ZT_NS_C" ztna-c0)
  up=$(iperf)
  down=$(iperf -R)
  a1=$(stats "$ZT_NS_A" ztna0)
  c1=$(stats "$ZT_NS_C" ztna-c0)
  per_mb() { # BEFORE AFTER: reads/MB writes/MB
    "$ZT_PY" -c 'import sys
b = list(map(int, sys.argv[1].split())); a = list(map(int, sys.argv[2].split()))
d = [x - y for x, y in zip(a, b)]
f = lambda p, n: "%.0f" % (p / (n / 1e6)) if n else "NA"
print(f(d[0], d[1]), f(d[2], d[3]))' "$1" "$2"
  }
  echo "offload $1 $4 ${up:-NA} ${down:-NA} $(per_mb "$a0" "$a1") $(per_mb "$c0" "$c1")"
)

echo "# offload VARIANT PATH UP_MBPS DOWN_MBPS A_RD/MB A_WR/MB C_RD/MB C_WR/MB (DUR=$DUR s)"
for path in ${PATHS:-relay direct}; do
  if [ -n "$BASE" ]; then run base "$BASE" default "$path"; fi
  run off "$PWD/build" false "$path"
  run on "$PWD/build" true "$path"
done
