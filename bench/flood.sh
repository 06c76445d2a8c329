#!/usr/bin/env bash
# `make bench-flood`: the handshake flood of the security review against the
# real daemons in the namespaces of tests/netns (ztna-env.sh), one figure per
# line, no thresholds.
#
# An attacker namespace X joins the "internet" bridge in I and replays one
# genuine client Initial (bench/flood.c) from SOURCES spoofed addresses in
# 10.200.0.0/16. I routes that range into a blackhole: the Intermediate's
# answers (Retry packets) die there, nothing leaves the namespaces. For each
# rate in RATES (spoofed Initials per second), the flood runs STEP seconds
# while iperf3 measures the established agent -> connector session through
# the tunnel:
#
#   flood-baseline MBPS                         iperf3 without the flood
#   flood RATE MBPS RATIO RSS_KIB HWM_KIB OK    per step: throughput, its ratio
#                                               to the baseline, the
#                                               Intermediate's VmRSS and VmHWM
#                                               at the end of the flood, and
#                                               whether the agent still pings
#   flood-status RATE ...                       the Intermediate's handshake
#                                               counters after the step
#   flood-survived-rate RATE                    the highest rate whose session
#                                               kept half its throughput and
#                                               still pinged
#
# BUILD=dir runs the daemons of another build (e.g. a checkout of main) with
# this tree's flood tool, for before/after figures.
set -uo pipefail
cd "$(dirname "$0")/.."
STEP=${STEP:-10}
RATES=${RATES:-"1000 5000 20000"}
SOURCES=${SOURCES:-10000}
if [ -z "${BUILD:-}" ]; then
  bash scripts/deps.sh >/dev/null || exit 1
  make -s -j2 build/ztna build/ztna-intermediate build/ztna-connector \
    build/ztna-agent || exit 1
fi
make -s -j2 build/bench/flood || exit 1
FLOOD=$PWD/build/bench/flood

(
  # shellcheck source=../tests/netns/ztna-env.sh
  source tests/netns/ztna-env.sh
  ZT_NS_X="zt-x-$ZT_SUFFIX"
  down() {
    local pids
    if [ -e "/run/netns/$ZT_NS_X" ]; then
      pids=$(ip netns pids "$ZT_NS_X" 2>/dev/null)
      # shellcheck disable=SC2086
      [ -n "$pids" ] && kill $pids 2>/dev/null
      ip netns del "$ZT_NS_X" 2>/dev/null
    fi
    zt_env_down
  }
  trap down EXIT
  zt_env_up >/dev/null 2>&1 || { echo "flood NA (start-up failed)"; exit 1; }
  I() { ip -n "$ZT_NS_I" "$@"; }
  X() { ip -n "$ZT_NS_X" "$@"; }
  # The attacker: a veth born in X with its peer in I, on the bridge.
  ip netns add "$ZT_NS_X" && X link set lo up &&
    X link add eth0 type veth peer name x netns "$ZT_NS_I" &&
    I link set x master br0 && I link set x up &&
    X addr add 198.51.100.9/24 dev eth0 && X link set eth0 up &&
    I route add blackhole 10.200.0.0/16 &&
    ip netns exec "$ZT_NS_I" sh -c 'for f in all default br0; do
      echo 0 >/proc/sys/net/ipv4/conf/$f/rp_filter; done' ||
    { echo "flood NA (attacker namespace failed)"; exit 1; }

  A() { ip netns exec "$ZT_NS_A" "$@"; }
  iperf_mbps() { # seconds
    A timeout $(($1 + 10)) iperf3 -c "$WEB_VIP" -p 5201 -t "$1" -J 2>/dev/null |
      "$ZT_PY" -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null
  }
  im_pid=$(zt_daemon_pid intermediate)
  A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up before measuring
  iper=$((STEP > 4 ? STEP - 3 : 2))
  base=$(iperf_mbps "$iper")
  echo "flood-baseline ${base:-NA}"
  survived=0
  for rate in $RATES; do
    ip netns exec "$ZT_NS_X" timeout $((STEP + 5)) "$FLOOD" \
      --ca "$ZT_WORK/pki/ca.pem" --cert "$ZT_WORK/pki/alice.pem" \
      --key "$ZT_WORK/pki/alice.key" --dst 198.51.100.1:4433 \
      --src-net 10.200.0.0 --sources "$SOURCES" --rate "$rate" \
      --seconds "$STEP" >"$ZT_WORK/flood.out" 2>&1 &
    fpid=$!
    sleep 1
    bw=$(iperf_mbps "$iper")
    wait "$fpid"
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$im_pid/status" 2>/dev/null)
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$im_pid/status" 2>/dev/null)
    ok=no
    A ping -c 3 -i 0.2 -W 1 "$WEB_VIP" >/dev/null 2>&1 && ok=yes
    ratio=$("$ZT_PY" -c "print(round(${bw:-0}/${base:-1}, 2) if ${base:-0} else 'NA')")
    echo "flood $rate ${bw:-NA} $ratio ${rss:-NA} ${hwm:-NA} $ok ($(cat "$ZT_WORK/flood.out"))"
    kill -USR1 "$im_pid" 2>/dev/null
    sleep 0.5
    st=$(grep -a 'status: udp: \|status: handshakes: ' "$ZT_WORK/intermediate.log" |
      tail -n 2 | sed 's/.*status: //' | tr '\n' ' ')
    echo "flood-status $rate ${st:-NA (no status line)}"
    if [ "$ok" = yes ] && "$ZT_PY" -c "import sys; sys.exit(0 if '$ratio' != 'NA' and float('$ratio') >= 0.5 else 1)"; then
      survived=$rate
    fi
    # Let the half-open handshakes of this step time out (10 s) before the
    # next one, so each step starts from the same state.
    sleep "${SETTLE:-11}"
  done
  echo "flood-survived-rate $survived"
)
