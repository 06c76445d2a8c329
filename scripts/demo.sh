#!/usr/bin/env bash
# `make demo`: the whole system on this machine. Builds the namespace
# topology (an agent LAN and a connector LAN, each behind its own NAT router
# with a stateful firewall, the Intermediate on a shared "internet"
# segment, backends behind the connector), starts the three daemons with
# freshly issued certificates, and shows real traffic through the tunnel:
# ping, a UDP echo, HTTP and a TCP transfer. Then the direct path: the
# session starts on the relay (the agent's NAT router blocks the direct
# path at first), moves to a direct path once it is allowed, and falls back
# to the relay without losing a download when the direct path is cut.
# Cleans up on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s -j"$(nproc)" build/ztna build/ztna-intermediate build/ztna-connector build/ztna-agent

set +e
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
trap zt_env_down EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
A() { ip netns exec "$ZT_NS_A" "$@"; }
# The agent's NAT router drops UDP to and from the connector's NAT (not the
# Intermediate's): the direct path is cut, the relay is not.
block_direct() { zt_direct_cut on; }
unblock_direct() { zt_direct_cut off; }
session_line() { A "$ZT_BIN/ztna" status --socket "$ZT_WORK/agent.sock" | grep -E '^(PEER|conn-a) ' | sed 's/^/   /'; }
path_is() { # PATH [TRIES]: poll the agent's status every 0.2 s
  for _ in $(seq "${2:-50}"); do
    A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>/dev/null |
      "$ZT_PY" -c 'import json,sys; s=[x for x in json.load(sys.stdin)["sessions"] if x["peer"]=="conn-a"]; sys.exit(0 if s and s[0]["path"]==sys.argv[1] else 1)' "$1" && return 0
    sleep 0.2
  done
  return 1
}

echo "
  agent host --- NAT router ---+--- Intermediate ---+--- NAT router --- connector host --- backends
  10.10.1.2      198.51.100.2  |   198.51.100.1     |   198.51.100.3    10.20.1.2          10.30.0.2 web
                 (firewalled)     the \"internet\"        (firewalled)                        10.30.0.3 echo"

say "starting the deployment (CA, certificates, configs, backends, three daemons)"
echo "   (the agent's NAT router blocks UDP to the connector's NAT for now: relay only)"
if ! zt_env_up || ! block_direct; then
  echo "demo: start-up failed"
  tail -n 20 "$ZT_WORK"/*.log
  exit 1
fi
grep -h "listening on\|authenticated\|registered\|tunnel address\|sees us\|added route" \
  "$ZT_WORK/intermediate.log" "$ZT_WORK/connector.log" "$ZT_WORK/agent.log" | sed 's/^/   /'

say "the agent's routes: only the services policy grants it, through the TUN device"
run A ip route show dev ztna0

say "ping the web service's virtual address (answered by the real backend 10.30.0.2)"
run A ping -c 4 -i 0.3 "$WEB_VIP" || exit 1

say "UDP echo through the tunnel"
run A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 "hello through ztna" 5 || exit 1

say "HTTP: a 20 MB file from the private web server, checksum compared"
want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
got=$(A curl -sS --max-time 120 "http://$WEB_VIP:8080/blob" | sha256sum | cut -d' ' -f1)
echo "   sha256 served $want"
echo "   sha256 got    $got"
[ "$want" = "$got" ] || exit 1

say "TCP: iperf3 for 3 seconds"
run A iperf3 -c "$WEB_VIP" -p 5201 -t 3 || exit 1

say "ztna status: the agent's uplink and sessions, then the Intermediate's view"
ip netns exec "$ZT_NS_A" "$ZT_BIN/ztna" status --socket "$ZT_WORK/agent.sock" | sed 's/^/   /'
ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --socket "$ZT_WORK/intermediate.sock" | sed 's/^/   /'

say "direct path: the session is relayed, because the NAT router drops the direct probes"
session_line
run A "$ZT_BIN/ztna" ping -c 2 -i 0.2 --control-socket "$ZT_WORK/agent.sock" web
say "allow UDP between the two NATs: both ends probe each other, the session moves to a direct path"
unblock_direct
if path_is direct 60; then
  session_line
  grep -h "direct path to" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" | sed 's/^/   /'
  run A "$ZT_BIN/ztna" ping -c 2 -i 0.2 --control-socket "$ZT_WORK/agent.sock" web
  run A ping -c 3 -i 0.2 "$WEB_VIP"
else
  echo "   the session did not go direct within 12 s"
  exit 1
fi

say "cut the direct path in the middle of a 20 MB download (pings at 20/s beside it)"
A ping -i 0.05 -c 80 "$WEB_VIP" >"$ZT_WORK/demo-ping.out" 2>&1 &
pinger=$!
A curl -sS --max-time 120 --limit-rate 8M "http://$WEB_VIP:8080/blob" -o "$ZT_WORK/demo-blob" &
getter=$!
sleep 1
block_direct
echo "   direct path blocked"
path_is relay 25 && session_line
wait "$getter" || exit 1
wait "$pinger"
got=$(sha256sum <"$ZT_WORK/demo-blob" | cut -d' ' -f1)
echo "   sha256 got    $got (served $want)"
[ "$want" = "$got" ] || exit 1
echo "   pings: $(grep -E 'packets transmitted' "$ZT_WORK/demo-ping.out")"
grep -h "back to the relay" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" | sed 's/^/   /'
unblock_direct
echo "   direct path allowed again: the next probing round finds it"
path_is direct 60 && session_line

say "what each daemon saw"
for d in agent connector intermediate; do zt_stop "$d" TERM; done
grep -h "status:" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" "$ZT_WORK/intermediate.log" | sed 's/^/   /'
say "demo finished: cleaning up namespaces"
exit 0
