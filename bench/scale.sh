#!/usr/bin/env bash
# `make bench-scale`: how many peers one Intermediate holds, and how it
# behaves with them (issue 10). One figure per line, no thresholds.
#
# Two namespaces of its own joined by one veth pair: the real
# ztna-intermediate in one, bench/loadgen (thousands of agents and
# connectors from one process, core/quic.c, a certificate per identity) in
# the other, with NSRC source addresses so the Intermediate's per-source cap
# of handshakes in progress (core/admit.c: 16 per IP, 512 in all, Retry
# from 32) applies as it would to that many hosts. Nothing is changed in
# the Intermediate's admission limits: they have no configuration key and
# the bench measures the daemon as shipped.
#
# The loadgen's lines (bench/loadgen.c says what each means):
#   scale-certs-issued, scale-handshakes, scale-handshakes-per-s,
#   scale-intermediate-cpu-per-handshake-us, scale-connections-held,
#   scale-intermediate-rss-kib (bytes per idle connection),
#   scale-intermediate-cpu-idle-pct, scale-sessions,
#   scale-session-open-ready-ms (p50/p99/max), scale-relay-mbps,
#   scale-intermediate-hwm-kib
# then the Intermediate's memory status lines (platform/heapstat.c), after
# the hold and at the end: scale-intermediate-memory heap / ngtcp2 / page
# pool (docs/operations.md, SIGUSR1).
#
# CONNS (10000) connections in all, CONNECTORS (8) of them connectors,
# ACTIVE (1000) agents that open a session each and push relay frames;
# RATE (1000/s) new connections at most, WINDOW (512) handshakes in flight
# at most; HOLD, RELAY seconds. BUILD=dir runs the Intermediate of another
# build (e.g. a checkout of main) with this tree's loadgen: before/after
# figures in one run. IM_ENV="VAR=value ..." sets environment variables of
# the Intermediate (e.g. GLIBC_TUNABLES for allocator experiments).
# WORKERS (1): the Intermediate's "workers" (threads).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CONNS=${CONNS:-10000}
CONNECTORS=${CONNECTORS:-8}
ACTIVE=${ACTIVE:-1000}
RATE=${RATE:-1000}
WINDOW=${WINDOW:-512}
HOLD=${HOLD:-5}
RELAY=${RELAY:-5}
NSRC=${NSRC:-64}
if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "scale SKIP (needs root and network namespaces)"
  exit 0
fi
if [ -z "${BUILD:-}" ]; then
  make -s -j2 build/ztna build/ztna-intermediate || exit 1
fi
BUILD=${BUILD:-build}
make -s -j2 build/bench/loadgen build/ztna || exit 1
LOADGEN=$PWD/build/bench/loadgen
ZTNA=$PWD/build/ztna
IM=$(cd "$BUILD" && pwd)/ztna-intermediate
[ -x "$IM" ] || { echo "scale NA ($IM missing)"; exit 1; }

NS_I="zs-im-$$"
NS_L="zs-lg-$$"
WORK=$(mktemp -d /tmp/ztna-scale.XXXXXX)
im_pid=
down() {
  [ -n "$im_pid" ] && kill "$im_pid" 2>/dev/null && wait "$im_pid" 2>/dev/null
  for ns in "$NS_L" "$NS_I"; do
    if [ -e "/run/netns/$ns" ]; then
      pids=$(ip netns pids "$ns" 2>/dev/null)
      # shellcheck disable=SC2086
      [ -n "$pids" ] && kill $pids 2>/dev/null
      ip netns del "$ns" 2>/dev/null
    fi
  done
  rm -rf "$WORK"
}
trap down EXIT

# The topology: veth born in the loadgen's namespace, its peer in the
# Intermediate's. 10.98.0.1 the Intermediate, 10.98.1.0+ the sources.
ip netns add "$NS_I" && ip netns add "$NS_L" &&
  ip -n "$NS_I" link set lo up && ip -n "$NS_L" link set lo up &&
  ip -n "$NS_L" link add lg0 type veth peer name im0 netns "$NS_I" &&
  ip -n "$NS_I" addr add 10.98.0.1/16 dev im0 &&
  ip -n "$NS_I" link set im0 up && ip -n "$NS_L" link set lg0 up ||
  { echo "scale NA (namespaces failed)"; exit 1; }
for i in $(seq 0 $((NSRC - 1))); do
  ip -n "$NS_L" addr add "10.98.$((1 + i / 250)).$((1 + i % 250))/16" dev lg0 ||
    { echo "scale NA (source addresses failed)"; exit 1; }
done
# Ten thousand peers' worth of UDP in bursts: deep socket queues.
for ns in "$NS_I" "$NS_L"; do
  ip netns exec "$ns" sysctl -qw net.core.rmem_max=16777216 \
    net.core.wmem_max=16777216 2>/dev/null
done

# PKI and configuration: service lg-s<i> at 10.250.0.<i+1> is served by
# connector lg-c<i>; every agent ("*") is granted all of them.
"$ZTNA" ca init --dir "$WORK/pki" --name scale-ca >/dev/null &&
  "$ZTNA" cert issue --ca-dir "$WORK/pki" --role intermediate \
    --name intermediate --out "$WORK/pki/intermediate" >/dev/null ||
  { echo "scale NA (pki failed)"; exit 1; }
svcs="" names=""
for i in $(seq 0 $((CONNECTORS - 1))); do
  svcs="$svcs${svcs:+,}
    {\"name\": \"lg-s$i\", \"address\": \"10.250.0.$((i + 1))\", \"connector\": \"lg-c$i\"}"
  names="$names${names:+, }\"lg-s$i\""
done
cat >"$WORK/intermediate.json" <<EOF
{
  "listen": "10.98.0.1:4433",
  "ca": "$WORK/pki/ca.pem", "cert": "$WORK/pki/intermediate.pem",
  "key": "$WORK/pki/intermediate.key",
  "agent_pool": "100.64.0.0/16",
  "state_dir": "$WORK/state",
  "control_socket": "none",
  "workers": ${WORKERS:-1},
  "services": [$svcs
  ],
  "policy": [
    {"agent": "*", "services": [$names]}
  ]
}
EOF

ulimit -n 65536 2>/dev/null
# shellcheck disable=SC2086 # IM_WRAP is a command and its arguments
ip netns exec "$NS_I" env ${IM_ENV:-} ${IM_WRAP:-} "$IM" --config "$WORK/intermediate.json" \
  >"$WORK/intermediate.log" 2>&1 &
im_pid=$!
for _ in $(seq 50); do
  ip netns exec "$NS_I" ss -lun 2>/dev/null | grep -q '10.98.0.1:4433' && break
  sleep 0.1
done
if ! kill -0 "$im_pid" 2>/dev/null; then
  echo "scale NA (the Intermediate did not start: $(tail -n 3 "$WORK/intermediate.log"))"
  exit 1
fi
echo "scale-intermediate $IM"
# PERF_OUT=file: a call-graph profile of the Intermediate under the load.
perf_pid=
if [ -n "${PERF_OUT:-}" ] && command -v perf >/dev/null; then
  perf record -q -g -p "$im_pid" -o "$PERF_OUT" >/dev/null 2>&1 &
  perf_pid=$!
fi
ip netns exec "$NS_L" timeout 600 "$LOADGEN" \
  --ca "$WORK/pki/ca.pem" --ca-key "$WORK/pki/ca.key" \
  --dst 10.98.0.1:4433 --src 10.98.1.1 --nsrc "$NSRC" --conns "$CONNS" \
  --connectors "$CONNECTORS" --active "$ACTIVE" --rate "$RATE" \
  --window "$WINDOW" --hold "$HOLD" --relay "$RELAY" --pid "$im_pid" \
  --seconds 540
rc=$?
[ "$rc" = 0 ] || echo "scale-loadgen-exit $rc"
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null
  wait "$perf_pid" 2>/dev/null
fi
# The Intermediate's own counters (SIGUSR1 logs its status): relay and
# handshake lines.
if kill -USR1 "$im_pid" 2>/dev/null; then
  sleep 0.5
  grep -a 'status: relay\|status: handshakes\|status: udp' "$WORK/intermediate.log" |
    tail -n 3 | sed 's/.*status: /scale-intermediate-status /'
fi
# Where the memory is (platform/heapstat.c): after the hold (the loadgen
# asked), then now.
grep -a 'status: memory' "$WORK/intermediate.log" |
  sed 's/.*status: memory: /scale-intermediate-memory /'
# Datagrams the kernel dropped for full socket queues, per side: losses
# that QUIC then recovers from with timers (latency, not failures).
for side in "im:$NS_I" "loadgen:$NS_L"; do
  ip netns exec "${side#*:}" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "RcvbufErrors") print "scale-udp-rcvbuf-errors '"${side%%:*}"' " $i }' /proc/net/snmp
done
kill -0 "$im_pid" 2>/dev/null || echo "scale-intermediate-died $(tail -n 3 "$WORK/intermediate.log")"
exit 0
