#!/usr/bin/env bash
# `make bench-profile`: where the relay path's time goes. One iperf3 TCP
# flow agent -> Intermediate -> connector -> backend (the topology of
# tests/netns/ztna-env.sh, relay only) for DUR seconds, and meanwhile:
#
#   profile-mbps MBPS
#   profile-packets N                tunnelled packets (the agent's TUN reads)
#   profile-cpu DAEMON USER_MS SYS_MS      per MB delivered
#   profile-syscalls DAEMON NAME=PER_PACKET ...   per tunnelled packet
#   profile-share DAEMON kernel=% ngtcp2=% crypto=% own=% libc=% other=%
#                                    perf samples of that daemon by library
#   profile-driver DAEMON gso=SEGS/MSG gro=SEGS/MSG   UDP batching achieved
#
# perf (Debian's linux-perf) gives the syscall counts and the shares; without
# it those lines say NA. No thresholds: figures only. BUILD=dir profiles
# another build's daemons.
set -uo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-8}
if [ -z "${BUILD:-}" ]; then
  bash scripts/deps.sh >/dev/null || exit 1
  make -s -j"$(nproc)" build/ztna build/ztna-intermediate build/ztna-connector \
    build/ztna-agent || exit 1
fi
TMP=$(mktemp -d /tmp/ztna-profile.XXXXXX)
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
trap 'zt_env_down; rm -rf "$TMP"' EXIT
ZT_DIRECT=false zt_env_up >/dev/null 2>&1 || { echo "profile: start-up failed"; exit 1; }
A() { ip netns exec "$ZT_NS_A" "$@"; }
A ping -c 3 -i 0.2 "$WEB_VIP" >/dev/null 2>&1

declare -A PID
for d in intermediate connector agent; do
  p=$(zt_daemon_pid "$d")
  PID[$d]=${p:-$(cat "$ZT_WORK/pids/$d")}
done
cpu() { awk '{print $14, $15}' "/proc/$1/stat"; }
tun_packets() {
  "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["tun"]["packets"])'
}

declare -A C0
for d in "${!PID[@]}"; do C0[$d]=$(cpu "${PID[$d]}"); done
p0=$(tun_packets)
A iperf3 -c "$WEB_VIP" -p 5201 -t "$DUR" -J >"$TMP/iperf.json" 2>/dev/null &
ip=$!
sleep 1
have_perf=0
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_read true >/dev/null 2>&1; then
  have_perf=1
  pids=$(IFS=,; echo "${PID[*]}")
  ev=""
  for s in read write readv writev sendmmsg recvmmsg sendto epoll_wait; do
    ev="$ev -e syscalls:sys_enter_$s"
  done
  # shellcheck disable=SC2086
  perf stat --per-thread -x, $ev -p "$pids" -o "$TMP/stat.csv" -- sleep $((DUR - 3)) >/dev/null 2>&1 &
  st=$!
  perf record -F 499 -g -p "$pids" -o "$TMP/perf.data" -- sleep $((DUR - 3)) >/dev/null 2>&1
  wait $st
fi
wait $ip
p1=$(tun_packets)
declare -A C1
for d in "${!PID[@]}"; do C1[$d]=$(cpu "${PID[$d]}"); done

read -r mbps bytes < <(python3 -c 'import json; d=json.load(open("'"$TMP/iperf.json"'"))["end"]["sum_received"]; print(round(d["bits_per_second"]/1e6), int(d["bytes"]))' 2>/dev/null)
echo "profile-mbps ${mbps:-NA}"
echo "profile-packets $((p1 - p0))"
hz=$(getconf CLK_TCK)
for d in intermediate connector agent; do
  python3 - "$d" ${C0[$d]} ${C1[$d]} "${bytes:-0}" "$hz" <<'PY'
import sys
d, u0, s0, u1, s1, b, hz = sys.argv[1:]
mb = int(b) / 1e6 or 1
ms = lambda a, z: (int(z) - int(a)) * 1000 / int(hz) / mb
print(f"profile-cpu {d} user={ms(u0, u1):.2f} sys={ms(s0, s1):.2f} ms/MB")
PY
done
if [ "$have_perf" = 1 ]; then
  # Syscalls per tunnelled packet during the perf window: the agent's TUN
  # packet rate over the whole run, scaled to the window.
  python3 - "$TMP/stat.csv" "$((p1 - p0))" "$DUR" "$((DUR - 3))" \
    "intermediate=${PID[intermediate]}" "connector=${PID[connector]}" "agent=${PID[agent]}" <<'PY'
import sys, collections
path, pkts, dur, win = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
names = {v: k for k, v in (a.split("=") for a in sys.argv[5:])}
per = collections.defaultdict(dict)
for line in open(path):
    f = line.strip().split(",")
    if len(f) < 4 or not f[1].replace(".", "").isdigit():
        continue
    comm_pid, val, ev = f[0], float(f[1]), f[3]
    pid = comm_pid.rsplit("-", 1)[-1]
    d = names.get(pid)
    if d:
        s = ev.split("sys_enter_")[-1]
        per[d][s] = per[d].get(s, 0) + val
window_pkts = pkts * win / dur or 1
for d in ("intermediate", "connector", "agent"):
    parts = " ".join(f"{s}={v / window_pkts:.3f}" for s, v in sorted(per[d].items()))
    print(f"profile-syscalls {d} {parts}")
PY
  # Samples by daemon and library, as shares of that daemon's samples.
  perf report -i "$TMP/perf.data" --no-children --sort pid,dso --stdio \
    -g none 2>/dev/null >"$TMP/dso.txt"
  python3 - "$TMP/dso.txt" "intermediate=${PID[intermediate]}" \
    "connector=${PID[connector]}" "agent=${PID[agent]}" <<'PY'
import sys, collections
names = {v: k for k, v in (a.split("=") for a in sys.argv[2:])}
share = collections.defaultdict(lambda: collections.Counter())
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or not f[0].endswith("%") or ":" not in f[1]:
        continue
    d = names.get(f[1].split(":")[0])
    if not d:
        continue
    dso, p = f[2], float(f[0].rstrip("%"))
    kind = ("kernel" if "kernel" in dso else "ngtcp2" if "ngtcp2" in dso else
            "crypto" if any(k in dso for k in ("gnutls", "nettle", "hogweed"))
            else "own" if "ztna" in dso else "libc" if "libc" in dso else "other")
    share[d][kind] += p
for d in ("intermediate", "connector", "agent"):
    tot = sum(share[d].values()) or 1
    parts = " ".join(f"{k}={100 * share[d][k] / tot:.0f}%"
                     for k in ("kernel", "ngtcp2", "crypto", "own", "libc", "other"))
    print(f"profile-share {d} {parts}")
PY
else
  echo "profile-syscalls NA (perf with syscall tracepoints not available)"
fi
# UDP batching achieved, from each daemon's status on SIGUSR1 (the driver
# line: gso_messages/gso_segments, gro_messages/gro_segments).
for d in intermediate connector agent; do
  zt_status "$d"
  grep "status: driver:" "$ZT_WORK/$d.log" | tail -n1 >"$TMP/driver.txt"
  python3 - "$d" "$TMP/driver.txt" <<'PY'
import sys, re
v = {k: int(n) for k, n in re.findall(r"(\w+) (\d+)", open(sys.argv[2]).read())}
def r(seg, msg):
    return f"{v[seg] / v[msg]:.1f}" if v.get(msg) else "NA"
print(f"profile-driver {sys.argv[1]} gso={r('gso_segments', 'gso_messages')} "
      f"gro={r('gro_segments', 'gro_messages')} segs/msg")
PY
done
