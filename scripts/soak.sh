#!/usr/bin/env bash
# `make soak`: the whole system for an hour under mixed traffic, with a
# fault every few minutes. Figures only, no assertions beyond "the run
# finished": pings lost per fault, daemon memory at the start and the end,
# downloads and UDP echoes that failed, and the connections and sessions
# left at the end. Not part of `make test` (it takes an hour).
#
#   SOAK_SECONDS      total run time (default 3600)
#   SOAK_FAULT_EVERY  seconds between faults (default 180)
#   BUILD             build or build-san (default build)
#
# Traffic, all from the agent's host through the tunnel:
#   ping   to the web service every 200 ms (ping -O: a reply that never came
#          is a line "no answer yet for icmp_seq=N")
#   udp    5 UDP echoes every 2 s
#   download  the 20 MB file every 30 s, checksum compared
# Faults, in turn (docs/reliability.md says what each stands for):
#   intermediate-kill   kill -9 of the Intermediate, started again at once
#   connector-restart   SIGTERM, started again
#   direct-cut          the direct path between the NATs dropped for 20 s
#   agent-restart       SIGTERM, started again
#   connector-kill      kill -9, started again
#   agent-address       the agent host's address changed (old one removed)
#   mtu-1280            the agent router's uplink MTU 1280 for 60 s
set -uo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS=${SOAK_SECONDS:-3600}
SOAK_FAULT_EVERY=${SOAK_FAULT_EVERY:-180}
export ZT_LIFETIME=$((SOAK_SECONDS + 600))
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../tests/netns/harness.sh
source tests/netns/harness.sh
zt_need_bins ztna-intermediate ztna-connector ztna-agent ztna

zt_ms() { echo $(($(date +%s%N) / 1000000)); }
A() { ip netns exec "$ZT_NS_A" "$@"; }

# rss NAME: the daemon's resident memory in KiB (its pid is timeout's child).
rss() {
  local pid
  pid=$(pgrep -P "$(cat "$ZT_WORK/pids/$1" 2>/dev/null)" 2>/dev/null | head -n1)
  [ -n "$pid" ] && awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?"
}
memory() { # LABEL
  echo "memory $1: intermediate $(rss intermediate) KiB, connector $(rss connector) KiB, agent $(rss agent) KiB"
}

zt_env_up || { echo "soak: could not bring the system up" >&2; exit 1; }
ip netns exec "$ZT_NS_A" sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
echo "soak: ${SOAK_SECONDS}s, a fault every ${SOAK_FAULT_EVERY}s, binaries from $BUILD"
# Settle: the first session, the direct path.
A ping -c 3 -W 2 "$WEB_VIP" >/dev/null 2>&1 || true
sleep 5
memory start | tee "$ZT_WORK/memory-start"

start=$(date +%s)
deadline=$((start + SOAK_SECONDS))
faults="$ZT_WORK/faults"
: >"$faults"

zt_bg ping "$ZT_NS_A" ping -D -O -n -i 0.2 -W 1 -w "$SOAK_SECONDS" "$WEB_VIP"

# A loop in the agent's namespace until the deadline, one line per try.
loop_bg() { # NAME PERIOD COMMAND (a shell snippet printing ok or fail)
  zt_bg "$1" "$ZT_NS_A" bash -c "
    while [ \$(date +%s) -lt $deadline ]; do
      r=\$( ( $3 ) 2>/dev/null | tail -n 1)
      echo \"\$(date +%s.%N) \${r:-fail}\"
      sleep $2
    done"
}
want=$(sha256sum "$ZT_WORK/www/blob" | cut -d' ' -f1)
loop_bg udp 2 "$ZT_PY $ZT_ROOT/tests/netns/udp_echo.py client $ECHO_VIP 9999 soak 5 >/dev/null && echo ok || echo fail"
loop_bg download 30 "got=\$(curl -s --max-time 90 http://$WEB_VIP:8080/blob | sha256sum | cut -d' ' -f1); [ \"\$got\" = $want ] && echo ok || echo fail"

restart() { # NAME SIGNAL: stop a daemon and start it again at once
  zt_stop "$1" "$2"
  cat "$ZT_WORK/$1.log" >>"$ZT_WORK/$1-all.log"
  "zt_start_$1"
}
agent_addr=2
fault() { # NAME
  echo "$(date +%s.%N) $1" >>"$faults"
  case $1 in
  intermediate-kill) restart intermediate KILL ;;
  connector-restart) restart connector TERM ;;
  connector-kill) restart connector KILL ;;
  agent-restart) restart agent TERM ;;
  direct-cut)
    zt_direct_cut on
    sleep 20
    zt_direct_cut off
    ;;
  agent-address)
    # Alternates between 10.10.1.2 and 10.10.1.3 on A's eth0. The new
    # address is added first; with promote_secondaries (set below) removing
    # the old primary keeps it instead of flushing the subnet with it.
    local old=$agent_addr new=$((5 - agent_addr))
    ip -n "$ZT_NS_A" addr add "10.10.1.$new/24" dev eth0
    ip -n "$ZT_NS_A" addr del "10.10.1.$old/24" dev eth0
    ip -n "$ZT_NS_A" route replace default via 10.10.1.1
    agent_addr=$new
    ;;
  mtu-1280)
    ip -n "$ZT_NS_RA" link set wan mtu 1280
    ip -n "$ZT_NS_I" link set ra mtu 1280
    sleep 60
    ip -n "$ZT_NS_RA" link set wan mtu 1500
    ip -n "$ZT_NS_I" link set ra mtu 1500
    ;;
  esac
}

cycle=(intermediate-kill connector-restart direct-cut agent-restart connector-kill agent-address mtu-1280)
i=0
while true; do
  next=$((start + (i + 1) * SOAK_FAULT_EVERY))
  [ "$next" -ge $((deadline - 30)) ] && break
  sleep $((next - $(date +%s)))
  name=${cycle[$((i % ${#cycle[@]}))]}
  echo "$(date -u +%H:%M:%S) fault $((i + 1)): $name"
  fault "$name"
  i=$((i + 1))
done
sleep $((deadline - $(date +%s) > 0 ? deadline - $(date +%s) : 0))
sleep 3

memory end | tee "$ZT_WORK/memory-end"
ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/intermediate.sock" >"$ZT_WORK/st-im.json" 2>&1
A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" >"$ZT_WORK/st-agent.json" 2>&1
ip netns exec "$ZT_NS_C" "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/connector.sock" >"$ZT_WORK/st-conn.json" 2>&1

"$ZT_PY" - "$ZT_WORK" "$start" <<'EOF'
import json, os, re, sys
work, start = sys.argv[1], float(sys.argv[2])
faults = []
for line in open(os.path.join(work, "faults")):
    t, name = line.split()
    faults.append((float(t), name))
replied, waited = set(), {}
for line in open(os.path.join(work, "ping.log")):
    m = re.match(r"\[(\d+\.\d+)\] (.*)", line)
    if not m:
        continue
    t, rest = float(m.group(1)), m.group(2)
    s = re.search(r"icmp_seq=(\d+)", rest)
    if not s:
        continue
    seq = int(s.group(1))
    if "no answer yet" in rest:
        waited.setdefault(seq, t)
    elif "bytes from" in rest:
        replied.add(seq)
lost = sorted(t for seq, t in waited.items() if seq not in replied)
sent = max(replied | set(waited) | {0})
print("pings: %d sent, %d answered, %d lost" % (sent, len(replied), len(lost)))
bounds = [(start, "(before the first fault)")] + faults + [(float("inf"), None)]
print("%-26s %8s %10s" % ("fault", "lost", "outage_ms"))
for (t0, name), (t1, _) in zip(bounds, bounds[1:]):
    window = [t for t in lost if t0 <= t < t1]
    outage = (max(window) - min(window)) * 1000 + 200 if window else 0
    print("%-26s %8d %10d" % (name, len(window), outage))
for kind in ("udp", "download"):
    ok = fail = 0
    for line in open(os.path.join(work, kind + ".log")):
        m = re.match(r"\d+\.\d+ (ok|fail)$", line.strip())
        if m and m.group(1) == "ok":
            ok += 1
        elif m:
            fail += 1
    print("%s: %d ok, %d failed" % (kind, ok, fail))
def load(name):
    try:
        return json.load(open(os.path.join(work, name)))
    except Exception as e:
        return {"error": str(e)}
im, ag, co = load("st-im.json"), load("st-agent.json"), load("st-conn.json")
print("end: intermediate peers %s; agent sessions %s; connector sessions %s" % (
    len(im.get("peers", [])) if "peers" in im else im,
    len(ag.get("sessions", [])) if "sessions" in ag else ag,
    len(co.get("sessions", [])) if "sessions" in co else co))
EOF
cat "$ZT_WORK/memory-start" "$ZT_WORK/memory-end"
echo "soak: done (logs in $ZT_WORK with ZT_KEEP_WORK=1)"
