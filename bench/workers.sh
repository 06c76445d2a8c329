#!/usr/bin/env bash
# The Intermediate's worker threads ("workers", docs/architecture.md,
# "Workers and steering"): the relayed path with 1 and with 2 workers, in
# the same run, with the topology and daemons of tests/netns (relay only).
# One figure per line, no thresholds:
#
#   workers-relay W FLOWS MBPS   iperf3 TCP for DUR s, 1 flow and 4 flows
#   workers-rtt-ms W AVG         200 pings 5 ms apart
#   workers-cpu-ms-per-mb W DAEMON   CPU (user+sys) per MB the 4 flows moved
#   workers-placement W ...      peers each worker owns (with 2: the agent
#                                and the connector on different ones)
#   workers-worker W I ...       worker I's counters at the end (status JSON)
#
# On this 2-core machine the agent, the connector, both iperf3 ends and the
# kernel's forwarding share the cores with the Intermediate: a second
# worker has little idle CPU to use here (docs/performance.md).
# DUR (8) seconds per iperf3 run; COUNTS ("1 2") the worker counts.
set -u
cd "$(dirname "$0")/.."
DUR=${DUR:-8}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

for W in ${COUNTS:-1 2}; do
  (
    # shellcheck source=../tests/netns/ztna-env.sh
    source tests/netns/ztna-env.sh
    trap zt_env_down EXIT
    set_workers() { zt_config_set_num "$ZT_WORK/intermediate.json" workers "$W"; }
    ZT_AFTER_CONFIGS=set_workers ZT_DIRECT=false zt_env_up >/dev/null 2>&1 ||
      { echo "workers-relay $W NA NA (start-up failed)"; exit 1; }
    A() { ip netns exec "$ZT_NS_A" "$@"; }
    # "P0 P1 ...": the peers each worker owns (status JSON, workers[]).
    placement() {
      "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/intermediate.sock" 2>/dev/null |
        python3 -c 'import json,sys; print(" ".join(str(w["peers"]) for w in json.load(sys.stdin)["workers"]))' 2>/dev/null
    }
    # With several workers, the agent on another worker than the
    # connector's (the first Initial lands where the kernel puts it): the
    # agent is restarted until it is, at most 8 times.
    if [ "$W" -gt 1 ]; then
      for _ in $(seq 8); do
        sleep 1
        case " $(placement) " in *" 2 "*) ;; *) break ;; esac
        zt_stop agent
        zt_start_agent
        zt_wait_log agent "added route $ECHO_VIP" >/dev/null 2>&1 || break
      done
    fi
    echo "workers-placement $W peers per worker: $(placement)"
    A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1
    mbps() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null; }
    echo "workers-relay $W 1 $(A iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -J 2>/dev/null | mbps)"
    declare -A before
    for d in intermediate connector agent; do before[$d]=$(cpu_ticks "$(zt_daemon_pid "$d")"); done
    A iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -P 4 -J >"$ZT_WORK/p4.json" 2>/dev/null
    bw=$(mbps <"$ZT_WORK/p4.json")
    echo "workers-relay $W 4 ${bw:-NA}"
    mb=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]/1e6)' "$ZT_WORK/p4.json" 2>/dev/null)
    hz=$(getconf CLK_TCK)
    for d in intermediate connector agent; do
      after=$(cpu_ticks "$(zt_daemon_pid "$d")")
      python3 -c 'import sys; b,a,hz,mb=map(float,sys.argv[1:5]); print("workers-cpu-ms-per-mb %s %s %.2f" % (sys.argv[5], sys.argv[6], (a-b)/hz*1000/mb))' \
        "${before[$d]}" "$after" "$hz" "${mb:-0}" "$W" "$d" 2>/dev/null || echo "workers-cpu-ms-per-mb $W $d NA"
    done
    rtt=$(A ping -q -c 200 -i 0.005 "$WEB_VIP" 2>/dev/null | awk -F/ '/rtt|round-trip/{print $5}')
    echo "workers-rtt-ms $W ${rtt:-NA}"
    "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/intermediate.sock" 2>/dev/null |
      python3 -c 'import json,sys
for i, w in enumerate(json.load(sys.stdin)["workers"]):
    print("workers-worker %s %d: %s" % (sys.argv[1], i, " ".join("%s %s" % kv for kv in w.items())))' "$W" 2>/dev/null
  )
done
