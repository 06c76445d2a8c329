#!/usr/bin/env bash
# `make demo`: the whole system on this machine. Builds the namespace
# topology (an agent LAN and a connector LAN, each behind its own NAT router
# with a stateful firewall, the Intermediate on a shared "internet"
# segment, backends behind the connector), starts the three daemons with
# freshly issued certificates, and shows real traffic through the tunnel:
# ping, a UDP echo, HTTP and a TCP transfer. Cleans up on every exit path.
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

echo "
  agent host --- NAT router ---+--- Intermediate ---+--- NAT router --- connector host --- backends
  10.10.1.2      198.51.100.2  |   198.51.100.1     |   198.51.100.3    10.20.1.2          10.30.0.2 web
                 (firewalled)     the \"internet\"        (firewalled)                        10.30.0.3 echo"

say "starting the deployment (CA, certificates, configs, backends, three daemons)"
if ! zt_env_up; then
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

say "what each daemon saw"
for d in agent connector intermediate; do zt_stop "$d" TERM; done
grep -h "status:" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" "$ZT_WORK/intermediate.log" | sed 's/^/   /'
say "demo finished: cleaning up namespaces"
exit 0
