#!/usr/bin/env bash
# Loss must not become a rate cap (issue 10): TCP and UDP with and without
# the tunnel on a link with delay and random loss, for each congestion
# controller of the tunnel's QUIC layers (config key "congestion_control",
# core/ccalgo.h). `make bench-lossy`; also a step of `make bench`.
#
# Topology: tests/netns/lib.sh with ZT_DELAY_MS (delay box on the
# Intermediate's link only, tests/tools/delayfwd.c), relay only
# ("direct": false), LOSS_PCT random loss in the box, each direction:
#
#   A -- RA(NAT) == br0 == RC(NAT) -- C -- B
#                   | delayfwd: DELAY_MS each way, LOSS_PCT lost
#                  srv 198.51.100.1 (I: the Intermediate, and the bare
#                                   link's iperf3 server)
#
# "bare": the agent's host to an iperf3 server on the Intermediate's own
# address, through the NAT and the delay box once each way: the same
# link, no ztna. Nothing else in this topology reaches the box without
# ztna (RA to RC crosses the bridge without delay). "ztna": agent -> web
# service VIP -> relay -> connector -> backend: the tunnel crosses the box
# twice each way (to the Intermediate and back out), so it sees about
# 1-(1-p)^2 loss per direction (3.96% for 2%) and twice the delay.
#
# Lines, one per figure, no thresholds:
#   lossy LINK bare tcp-bbr|tcp-cubic MBPS
#   lossy LINK bare udp-20M LOST_PCT (LOST/SENT)
#   lossy LINK ztna-CC tcp-bbr|tcp-cubic MBPS
#   lossy LINK ztna-CC udp-20M LOST_PCT (LOST/SENT)
#   lossy LINK ztna-CC drops DAEMON WHERE lost=+N queue_full=+N ...  the
#       UDP run's datagram drops in the agent's and connector's status
#       (docs/status.md): each session's, and the uplink's relay_send_drops
# LINK is clean or loss2 (LOSS_PCT), with "@agent" when the box sits on
# the agent's access link (BOXES below); CC each of CCS.
#
# BOXES (default "intermediate agent"): where the delay box sits, one
# pass each (tests/netns/lib.sh, ZT_DELAY_AT). "intermediate": on the
# Intermediate's link as above, crossed twice by relayed traffic and once
# by the bare line. "agent": between the agent's NAT and the "internet",
# crossed once each way by both: the same link with and without the
# tunnel (20 ms each way: 40 ms RTT for both, 2% loss per direction).
#
# Env: DUR (default 8) iperf3 seconds, DELAY_MS (20), LOSS_PCT (2),
# CCS (default "cubic bbr2": before and after; also reno, bbr, and
# "default": the key left out), LINKS ("clean loss"), UDP_RATE (20M),
# BUILD=dir as bench/direct.sh. iperf3 UDP uses 1200-byte datagrams (they
# fit the tunnel's MTU without IP fragmentation). The machine is shared:
# compare figures of one run only.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DUR=${DUR:-8}
LOSS_PCT=${LOSS_PCT:-2}
CCS=${CCS:-cubic bbr2}
LINKS=${LINKS:-clean loss}
BOXES=${BOXES:-intermediate agent}
UDP_RATE=${UDP_RATE:-20M}
export ZT_DELAY_MS=${DELAY_MS:-20}
if [ -z "${BUILD:-}" ]; then
  bash scripts/deps.sh >/dev/null || exit 1
  make -s -j2 build/ztna build/ztna-intermediate build/ztna-connector \
    build/ztna-agent || exit 1
fi
make -s -j2 "${BUILD:-build}/tests/delayfwd" || exit 1

# TCP controllers of the bare link and of the flows inside: the host's
# kernel (namespaces share its modules).
for tcc in bbr cubic; do
  if ! grep -qw "$tcc" /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null; then
    modprobe "tcp_$tcc" 2>/dev/null || true
  fi
done
avail=$(cat /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null)

# The configs' edit (ZT_AFTER_CONFIGS): the controller in all three, and
# UDP to the iperf3 server through the web service.
# shellcheck disable=SC2317 # called through ZT_AFTER_CONFIGS
bench_cc_configs() {
  "$ZT_PY" - "$ZT_WORK" "$BENCH_CC" <<'EOF'
import json, sys
work, cc = sys.argv[1], sys.argv[2]
for name in ("intermediate", "connector", "agent"):
    p = f"{work}/{name}.json"
    with open(p) as f:
        c = json.load(f)
    if cc != "default":
        c["congestion_control"] = cc
    if name == "connector":
        for s in c["services"]:
            if s["name"] == "web":
                s["ports"].append("udp/5201")
    with open(p, "w") as f:
        json.dump(c, f, indent=1)
EOF
}

# phase LINK CC: one topology; CC "none" measures the bare link only.
phase() (
  link=$1 cc=$2
  export ZT_DELAY_ARGS=""
  [ "$link" = clean ] || ZT_DELAY_ARGS="--loss-pct $LOSS_PCT"
  export BENCH_CC=$cc ZT_AFTER_CONFIGS=bench_cc_configs
  # shellcheck source=../tests/netns/ztna-env.sh
  source tests/netns/ztna-env.sh
  trap zt_env_down EXIT
  trap 'exit 130' INT TERM
  name=${link/loss/loss$LOSS_PCT}
  [ "$ZT_DELAY_AT" = agent ] && name="$name@agent"
  A() { ip netns exec "$ZT_NS_A" "$@"; }
  # iperf3 -J on stdin: Mbit/s received, or UDP loss %
  tcp_mbps() { "$ZT_PY" -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6, 1))' 2>/dev/null; }
  # UDP: "LOST% (LOST/PACKETS)"; NA when no datagram was counted (an
  # iperf3 that failed reports 0% of nothing)
  udp_loss() {
    "$ZT_PY" -c '
import json, sys
d = json.load(sys.stdin)
s = d.get("end", {}).get("sum", {})
n = s.get("packets", 0)
if n:
    print("%.1f (%d/%d)" % (s["lost_percent"], s["lost_packets"], n))
else:
    print("NA (%s)" % d.get("error", "no packets"))' 2>/dev/null
  }
  tcp() { # DEST PORT CC
    if ! grep -qw "$3" <<<"$avail"; then
      echo "SKIP (tcp_$3 not available: $avail)"
      return
    fi
    local v
    v=$(A timeout $((DUR + 15)) iperf3 -c "$1" -p "$2" -C "$3" -t "$DUR" -J 2>/dev/null | tcp_mbps)
    echo "${v:-NA}"
  }
  udp() { # DEST PORT
    local v
    v=$(A timeout $((DUR + 15)) iperf3 -c "$1" -p "$2" -u -b "$UDP_RATE" -l 1200 -t "$DUR" -J 2>/dev/null | udp_loss)
    echo "${v:-NA}"
  }
  # The drop counters of every quic object in a daemon's status
  drops() { # DAEMON
    "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/$1.sock" 2>/dev/null | "$ZT_PY" -c '
import json, sys
def walk(o, path):
    if isinstance(o, dict):
        if "queue_full" in o:  # datagram drops of a session
            print(path, " ".join(f"{k}={v}" for k, v in o.items()))
        if "relay_send_drops" in o:  # of the uplink (outer layer)
            print(path, "relay_send_drops=%d" % o["relay_send_drops"])
        for k, v in o.items():
            walk(v, f"{path}.{k}" if path else k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            walk(v, f"{path}[{i}]")
walk(json.load(sys.stdin), "")' 2>/dev/null
  }

  if [ "$cc" = none ]; then
    zt_env_init
    zt_topology_up >/dev/null || { echo "lossy $name bare NA (topology failed)"; exit 1; }
    zt_bg iperf-bare "$ZT_NS_I" iperf3 -s -B 198.51.100.1 -p 5301
    sleep 0.5
    for t in bbr cubic; do echo "lossy $name bare tcp-$t $(tcp 198.51.100.1 5301 $t)"; done
    echo "lossy $name bare udp-$UDP_RATE $(udp 198.51.100.1 5301)"
    exit 0
  fi
  ZT_DIRECT=false zt_env_up >/dev/null 2>&1 || {
    echo "lossy $name ztna-$cc NA (start-up failed)"
    exit 1
  }
  A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1 # session up before measuring
  for t in bbr cubic; do echo "lossy $name ztna-$cc tcp-$t $(tcp "$WEB_VIP" 5201 $t)"; done
  # Counters before and after the UDP run: the drops are the UDP run's.
  drops agent >"$ZT_WORK/drops-agent.0"
  drops connector >"$ZT_WORK/drops-connector.0"
  echo "lossy $name ztna-$cc udp-$UDP_RATE $(udp "$WEB_VIP" 5201)"
  for d in agent connector; do
    drops "$d" | "$ZT_PY" -c '
import sys
before = {}
for line in open(sys.argv[1]):
    k, *kv = line.split()
    before[k] = dict(x.split("=") for x in kv)
for line in sys.stdin:
    k, *kv = line.split()
    now = dict(x.split("=") for x in kv)
    was = before.get(k, {})
    print(sys.argv[2], k, " ".join(f"{n}=+{int(v) - int(was.get(n, 0))}" for n, v in now.items()))
' "$ZT_WORK/drops-$d.0" "lossy $name ztna-$cc drops $d"
  done
)

for box in $BOXES; do
  export ZT_DELAY_AT=$box
  for link in $LINKS; do
    phase "$link" none
    [ $? -eq 130 ] && exit 130
    for cc in $CCS; do
      phase "$link" "$cc"
      [ $? -eq 130 ] && exit 130
    done
  done
done
exit 0
