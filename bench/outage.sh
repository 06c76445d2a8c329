#!/usr/bin/env bash
# Outage figures: how long traffic through the tunnel stops when a node
# fails, from the fault to traffic flowing again. Called by bench/run.sh
# (`make bench`; OUTAGE=0 there skips it). Figures only, no thresholds:
#
#   outage-ms FAULT MS PATH    the longest gap between ping replies (pings
#                              every 20 ms from the agent to the web
#                              service) around the fault; PATH: relay|direct
#
# One function per fault (fault_NAME: does the fault, returns when it is
# done). Add one and list it in FAULTS to measure it, e.g. an agent address
# change (roaming) or a failover between Intermediates:
#   FAULTS="intermediate_restart connector_restart" bash bench/outage.sh
# ROUNDS (default 3) repeats each fault; each round is printed. DIRECTS
# (default "false true") runs everything relay-only, then direct allowed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
FAULTS=${FAULTS:-intermediate_restart connector_restart connector_kill_restart}
make -s -j"$(nproc)" build/ztna build/ztna-intermediate build/ztna-connector build/ztna-agent || exit 1

# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../tests/netns/outage_lib.sh
source tests/netns/outage_lib.sh
trap 'zt_env_down 2>/dev/null' EXIT
A() { ip netns exec "$ZT_NS_A" "$@"; }

# ---- faults
n=0
_restart() { # DAEMON SIGNAL: stops it with SIGNAL and starts it again at once
  n=$((n + 1))
  zt_stop "$1" "$2"
  mv "$ZT_WORK/$1.log" "$ZT_WORK/$1-$n.log"
  "zt_start_$1"
}
# Intermediate killed (kill -9) and started again at once.
fault_intermediate_restart() { _restart intermediate KILL; }
# Connector stopped (SIGTERM) and started again at once: what a service
# manager's restart does.
fault_connector_restart() { _restart connector TERM; }
# Connector killed (kill -9) and started again at once.
fault_connector_kill_restart() { _restart connector KILL; }

# ---- the measurement
path_of() {
  local p
  p=$(A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["sessions"][0]["path"])' 2>/dev/null)
  echo "${p:-unknown}"
}
measure() { # DIRECT (true: sessions may go direct; false: relay only)
  ZT_DIRECT=$1 zt_env_up >/dev/null 2>&1 || { echo "outage-ms NA NA (start-up failed)"; return 1; }
  A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up before measuring
  for f in $FAULTS; do
  for ((r = 1; r <= ROUNDS; r++)); do
    sleep 2 # settled: sessions up, the uplinks idle
    path=$(path_of)
    zt_outage_start "$f-$r"
    sleep 1
    "fault_$f"
    done_at=$(date +%s.%N)
    # until a reply stamped after the fault came (at most 30 s), then 1 s
    for _ in $(seq 300); do
      last=$(grep 'bytes from' "$ZT_WORK/ping-$f-$r.log" | tail -n 1 | cut -c2-18)
      [ -n "$last" ] && awk -v a="$last" -v b="$done_at" 'BEGIN { exit !(a > b) }' && break
      sleep 0.1
    done
    sleep 1
    echo "outage-ms $f $(zt_outage_stop "$f-$r") $path"
  done
  done
  zt_env_down
}
# Both ways a session runs: relay only, then direct allowed (where the
# uplinks carry no traffic, which is what makes a restart hard to notice).
for direct in ${DIRECTS:-false true}; do measure "$direct"; done
