#!/usr/bin/env bash
# `make bench`: ztna's figures beside the tunnels a user would otherwise pick,
# measured in the same run on this machine. One figure per line:
#
#   NAME THROUGHPUT_MBPS RTT_AVG_MS     (iperf3 TCP for DUR s; 200 pings 5 ms apart;
#                       ztna-relay adds the median)
#   ztna-relay          agent -> Intermediate relay -> connector -> backend, both NATs
#   ztna-direct, ztna-relay-20ms  direct path vs. relay with 20 ms each way on
#                       the Intermediate's link, time to direct, switchover
#                       (bench/direct.sh; DIRECT=0: skip)
#   raw-veth, wireguard-go, openvpn-p2p, openvpn-relay   from shared/bench/peer-tunnels.sh
#   ztna-rss-KIB NAME   peak resident memory of each daemon after the run
#   workers-...         the relay with 1 and 2 Intermediate workers
#                       (bench/workers.sh; WORKERS_BENCH=0: skip)
#   profile-...         CPU per MB, syscalls per packet, perf shares per
#                       daemon (bench/profile.sh, also `make bench-profile`;
#                       PROFILE=0: skip)
#   lossy ...           TCP and UDP with and without the tunnel on a link with
#                       delay and 2% loss, per QUIC congestion controller
#                       (bench/lossy.sh, also `make bench-lossy`; LOSSY=0: skip)
#   flood...            the handshake flood, from bench/flood.sh (FLOOD=0: skip)
#   scale-...           10,000 peers at one Intermediate, from bench/scale.sh
#                       (SCALE=0: skip)
#   outage-ms FAULT MS PATH  traffic stopped by a node's restart, from
#                       bench/outage.sh (OUTAGE=0: skip)
#   ztna-roam-*         an agent address change (bench/outage_roaming.sh)
#   failover-outage-ms  the Intermediate in use killed, a second one takes
#                       over (bench/outage_failover.sh)
#
# DUR (default 8) is passed to the peer script too. No thresholds: figures only.
set -uo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-8}
bash scripts/deps.sh || exit 1
make -s -j"$(nproc)" build/ztna build/ztna-intermediate build/ztna-connector build/ztna-agent || exit 1

peer=${PEER_TUNNELS:-}
for cand in ../shared/bench/peer-tunnels.sh /work/shared/bench/peer-tunnels.sh; do
  [ -z "$peer" ] && [ -x "$cand" ] && peer=$cand
done

(
  # shellcheck source=../tests/netns/ztna-env.sh
  source tests/netns/ztna-env.sh
  trap zt_env_down EXIT
  # relay only: the topology lets sessions go direct, which direct.sh measures
  ZT_DIRECT=false zt_env_up >/dev/null 2>&1 || { echo "ztna-relay NA NA (start-up failed)"; exit 1; }
  A() { ip netns exec "$ZT_NS_A" "$@"; }
  A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up before measuring
  bw=$(A iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -J 2>/dev/null | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null)
  # The average, as peer-tunnels.sh reports for the others; the median
  # beside it, because one stalled ping of a few ms moves the average of
  # 200 by 0.01 ms or more on a shared machine.
  rtt=$(A ping -c 200 -i 0.005 "$WEB_VIP" 2>/dev/null | python3 -c '
import re, statistics, sys
v = [float(x) for x in re.findall(r"time=([0-9.]+)", sys.stdin.read())]
print("%.3f (median %.3f of %d)" % (sum(v) / len(v), statistics.median(v), len(v))
      if v else "NA")' 2>/dev/null)
  echo "ztna-relay ${bw:-NA} ${rtt:-NA}"
  for d in intermediate connector agent; do
    pid=$(zt_daemon_pid "$d")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    echo "ztna-rss-KIB $d ${hwm:-NA}"
  done
)

# The relay with 1 and 2 Intermediate workers (bench/workers.sh).
# WORKERS_BENCH=0 skips it.
if [ "${WORKERS_BENCH:-1}" = 1 ]; then DUR=$DUR bash bench/workers.sh; fi

# Where the relay path's time goes (bench/profile.sh). PROFILE=0 skips it.
if [ "${PROFILE:-1}" = 1 ]; then DUR=$DUR bash bench/profile.sh; fi

# Direct path vs. relay behind a 20 ms delay box (bench/direct.sh).
if [ "${DIRECT:-1}" = 1 ]; then DUR=$DUR bash bench/direct.sh; fi

# Loss must not become a rate cap (bench/lossy.sh): the controllers
# before (cubic) and after (bbr2, the default). LOSSY=0 skips it.
if [ "${LOSSY:-1}" = 1 ]; then DUR=$DUR bash bench/lossy.sh; fi

if [ -n "$peer" ]; then
  DUR=$DUR bash "$peer"
else
  echo "peer tunnels: shared/bench/peer-tunnels.sh not found (set PEER_TUNNELS=path)"
fi

# The handshake flood (bench/flood.sh, also `make bench-flood`): spoofed
# Initials against an established session, in a topology of its own.
# FLOOD=0 skips it.
if [ "${FLOOD:-1}" = 1 ]; then bash bench/flood.sh; fi

# Thousands of peers at one Intermediate (bench/scale.sh, also `make
# bench-scale`), in namespaces of its own. SCALE=0 skips it.
if [ "${SCALE:-1}" = 1 ]; then bash bench/scale.sh; fi

# Outages: an Intermediate or connector restarted under traffic
# (bench/outage.sh). OUTAGE=0 skips it.
if [ "${OUTAGE:-1}" = 1 ]; then
  bash bench/outage.sh
  # The agent's address changed (bench/outage_roaming.sh) and a failover
  # between two Intermediates (bench/outage_failover.sh): topologies of
  # their own.
  bash bench/outage_roaming.sh
  bash bench/outage_failover.sh
fi
