#!/usr/bin/env bash
# The Intermediate with two workers ("workers": 2): two threads, each
# reading its own socket of the port's SO_REUSEPORT group, the kernel's
# classic BPF program steering every datagram to the worker whose index its
# connection ID carries (docs/architecture.md, "Workers and steering").
# Real daemons, real traffic, in the namespaces of lib.sh.
#
#   started       the Intermediate says it runs 2 workers
#   placed        the agent and the connector on different workers (the
#                 first Initial lands where the kernel puts it: the agent
#                 is restarted, at most 8 times, until it is; SKIP if never)
#   ping, udp     ping and a UDP echo through the tunnel, relayed across
#                 the two workers
#   http          20 MB over HTTP, checksum compared
#   iperf3        TCP both ways for a few seconds
#   steered       no packet reached a worker that does not own its
#                 connection: every relayed frame counted, and neither
#                 daemon at the ends logged a stateless reset
#   reload        SIGHUP (certificate, CRL, policy) while traffic flows:
#                 the other worker stands still meanwhile; traffic goes on
#   stop          SIGTERM: both threads stop, the peers hear the goodbye,
#                 exit status 0
#   tsan          with BUILD=build-tsan: no ThreadSanitizer report
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

two_workers() { zt_config_set_num "$ZT_WORK/intermediate.json" workers 2; }
ZT_AFTER_CONFIGS=two_workers
# Relayed only: every packet crosses the Intermediate's workers.
export ZT_DIRECT=false
# The Intermediate's text status over its control socket.
im_status() {
  "$ZT_PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"status\n")
print(b"".join(iter(lambda: s.recv(65536), b"")).decode())' "$ZT_WORK/intermediate.sock"
}
if ! zt_env_up; then
  fail start "the deployment did not come up (${ZT_START_FAILED:-?}); the Intermediate's status: $(im_status 2>&1 | head -n 12)"
  zt_summary workers
fi
# "P0 P1": the peers each worker holds.
per_worker() {
  im_status | awk '/^worker 0:/ {a=$3} /^worker 1:/ {b=$3} END {print a+0, b+0}'
}

if grep -q "listening on udp .*, 2 worker(s)" "$ZT_WORK/intermediate.log"; then
  pass "started ($(grep -o 'listening on udp.*' "$ZT_WORK/intermediate.log"))"
else
  fail started "$(tail -n 3 "$ZT_WORK/intermediate.log")"
fi

placed=""
for try in $(seq 8); do
  sleep 1
  if [ "$(per_worker)" = "1 1" ]; then
    placed=$try
    break
  fi
  zt_stop agent
  zt_start_agent
  zt_wait_log agent "added route $ECHO_VIP" || break
done
if [ -n "$placed" ]; then
  pass "placed: agent and connector on different workers (after $((placed - 1)) restart(s) of the agent)"
else
  skip placed "the kernel put the agent on the connector's worker 8 times in a row ($(per_worker))"
fi

if out=$(A ping -c 5 -i 0.2 -W 2 "$ECHO_VIP" 2>&1); then
  pass "ping $ECHO_VIP: $(echo "$out" | grep -o '[0-9]* received')"
else
  fail ping "$(echo "$out" | tail -n 2)"
fi
if A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 workers 20 >"$ZT_WORK/udp.out"; then
  pass "udp echo ($(cat "$ZT_WORK/udp.out"))"
else
  fail "udp echo" "$(cat "$ZT_WORK/udp.out")"
fi

zt_http_blob ""

iperf() { # NAME ARGS...
  local name=$1
  shift
  if A iperf3 -c "$WEB_VIP" -p 5201 -t 3 -J "$@" >"$ZT_WORK/iperf.json" 2>&1; then
    pass "iperf3 $name: $("$ZT_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["end"]["sum_received"]["bits_per_second"]/1e6))' "$ZT_WORK/iperf.json") Mbit/s"
  else
    fail "iperf3 $name" "$(tail -n 3 "$ZT_WORK/iperf.json")"
  fi
}
iperf upload
# Status over the control socket and SIGUSR1's status dump while the
# workers relay: readers stop them, the counters add up.
(sleep 1 && im_status >/dev/null && kill -USR1 "$(zt_daemon_pid intermediate)") &
reader=$!
iperf download -R
wait "$reader" # that one only: a bare wait would wait for the daemons too

# Steering: a packet at a worker that does not own its connection would
# be unknown there (counted, answered with a stateless reset that ends the
# connection at the other end).
st=$(im_status)
unknown=$(echo "$st" | grep -o 'unknown [0-9]*' | head -n1 | awk '{print $2}')
frames=$(echo "$st" | grep -o 'frames [0-9]*' | head -n1 | awk '{print $2}')
if grep -q "stateless reset" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log"; then
  fail steered "$(grep -h "stateless reset" "$ZT_WORK"/{agent,connector}.log | head -n1)"
elif [ "${unknown:-x}" = 0 ] && [ "${frames:-0}" -gt 1000 ]; then
  pass "steered (relay frames $frames, unknown packets $unknown, no resets)"
else
  fail steered "unknown ${unknown:-?} frames ${frames:-?}"
fi

# Reload with traffic in flight: the UDP echo (50 datagrams 20 ms apart,
# about 1 s) runs while SIGHUP is handled, and must still be running then.
A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 during-reload 50 0 0.02 >"$ZT_WORK/udp2.out" 2>&1 &
echo_pid=$!
sleep 0.3
kill -0 "$echo_pid" 2>/dev/null ||
  fail reload "the echo ended before SIGHUP (nothing tested): $(cat "$ZT_WORK/udp2.out")"
kill -HUP "$(zt_daemon_pid intermediate)"
if wait "$echo_pid" && zt_wait_log intermediate "SIGHUP: "; then
  pass "reload during traffic ($(cat "$ZT_WORK/udp2.out"); $(grep -o 'SIGHUP: .*' "$ZT_WORK/intermediate.log" | tail -n1 | cut -c1-80))"
else
  fail reload "$(cat "$ZT_WORK/udp2.out"); $(tail -n 2 "$ZT_WORK/intermediate.log")"
fi

zt_stop intermediate TERM
rv=$?
if [ "$rv" = 0 ] && grep -q "stopping (signal 15)" "$ZT_WORK/intermediate.log" &&
  zt_wait_log agent "intermediate shutting down"; then
  pass "stop: exit 0, the agent heard the goodbye"
else
  fail stop "exit $rv; $(tail -n 2 "$ZT_WORK/intermediate.log")"
fi

# Under ThreadSanitizer (BUILD=build-tsan, halt_on_error=1): the threads
# raced nowhere on the way, or the daemon would have stopped with a report.
case $ZT_BIN in
*tsan*)
  if grep -q "ThreadSanitizer" "$ZT_WORK/intermediate.log"; then
    fail tsan "$(grep -m1 -A6 'WARNING: ThreadSanitizer' "$ZT_WORK/intermediate.log" | tr '\n' ' ')"
  else
    pass "tsan: no report from the Intermediate"
  fi
  ;;
esac

zt_summary workers
