#!/usr/bin/env bash
# The outage an agent address change costs, in the namespaces of
# tests/netns (ztna-env.sh): pings every 20 ms to the web service through
# the tunnel; A's address moves from 10.10.1.2 to 10.10.1.3 (default route
# back) RUNS times (default 3; back and forth); each time the longest gap
# between two replies is printed. One figure per line, no thresholds:
#
#   ztna-roam-outage-ms N       longest silence in the ping stream around
#                               the change (ms; includes the 20 ms interval)
#   ztna-roam-idle-seen-ms N    no traffic: from the change to the
#                               Intermediate logging the agent's move (the
#                               agent's reaction, else its 10 s keepalive)
#
# NA when no reply came within 15 s of the change. BUILD=dir runs another
# build's daemons. Needs root (network namespaces).
set -u
cd "$(dirname "$0")/.."
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../tests/netns/roam_lib.sh
source tests/netns/roam_lib.sh
trap 'zt_env_down' EXIT
trap 'exit 130' INT TERM

zt_env_up >/dev/null || { echo "bench: environment did not come up" >&2; exit 1; }
zt_roam_prepare
ip netns exec "$ZT_NS_A" ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 ||
  { echo "bench: no ping through the tunnel" >&2; exit 1; }
from=10.10.1.2 to=10.10.1.3
for i in $(seq "${RUNS:-3}"); do
  zt_ping_stream "roam$i" 250 # 5 s
  sleep 1
  t0=$(date +%s.%N)
  zt_roam_move_address "$from" "$to" || { echo "bench: ip failed" >&2; exit 1; }
  gap=-1 n=0
  for _ in $(seq 150); do
    read -r gap n < <(zt_ping_gap "roam$i" "$t0")
    [ "$n" -gt 5 ] && break
    sleep 0.1
  done
  zt_stop "roam$i"
  read -r gap n < <(zt_ping_gap "roam$i" "$t0")
  if [ "$n" -gt 0 ]; then echo "ztna-roam-outage-ms $gap"; else echo "ztna-roam-outage-ms NA"; fi
  tmp=$from from=$to to=$tmp
done
for i in $(seq "${RUNS:-3}"); do
  sleep 1
  echo "ztna-roam-idle-seen-ms $(zt_roam_idle_move "$from" "$to")"
  tmp=$from from=$to to=$tmp
done
