#!/usr/bin/env bash
# The agent's failover between two Intermediates, in the namespaces of
# tests/netns/multi_env.sh (relay only): pings every 20 ms through the
# tunnel, the Intermediate in use killed with SIGKILL, and the time from
# the last reply before the kill to the first after it. One line per run:
#
#   failover-outage-ms MS
#
# then the median of the runs. RUNS (default 3), BUILD (default build).
# No thresholds: figures only. Needs root (namespaces).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
export BUILD=${BUILD:-build}

if [ "${1:-}" != --one ]; then
  make -s -j2 "$BUILD/ztna" "$BUILD/ztna-intermediate" "$BUILD/ztna-connector" \
    "$BUILD/ztna-agent" >/dev/null || exit 1
  figures=()
  for ((r = 0; r < RUNS; r++)); do
    ms=$(bash "$0" --one | awk '/^failover-outage-ms / {print $2}')
    [ -n "$ms" ] || { echo "run $r: no figure" >&2; continue; }
    echo "failover-outage-ms $ms"
    figures+=("$ms")
  done
  [ ${#figures[@]} -gt 0 ] || exit 1
  printf '%s\n' "${figures[@]}" | sort -n |
    awk '{v[NR] = $1} END {printf "failover-outage-ms-median %d\n", v[int((NR + 1) / 2)]}'
  exit 0
fi

# One run (a process of its own: its namespaces carry its PID).
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../tests/netns/harness.sh
source tests/netns/harness.sh
# shellcheck source=../tests/netns/multi_env.sh
source tests/netns/multi_env.sh
zt_multi_up >/dev/null || exit 1
zt_bg ping "$ZT_NS_A" ping -D -n -i 0.02 -c 1000 -W 1 "$WEB_VIP"
sleep 2
kill_at=$(date +%s.%N)
other=$(zt_multi_kill_in_use 2>/dev/null)
zt_wait_log agent "moved from intermediate #.* to #$other" 20 || exit 1
for ((i = 0; i < 150; i++)); do
  ms=$(zt_ping_outage_ms "$ZT_WORK/ping.log" "$kill_at")
  [ -n "$ms" ] && break
  sleep 0.1
done
zt_stop ping
[ -n "$ms" ] && echo "failover-outage-ms $ms"
