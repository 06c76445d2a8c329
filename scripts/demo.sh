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
# Then access control (docs/access-control.md): the policy document with two
# groups (alice is in staff), an allowed and a denied access each with the
# audit lines they wrote, a live reload that grants alice a new service
# (route, traffic, no reconnect), and names answered by the agent's DNS.
# It ends with where the Intermediate's metrics and admin dashboard are
# (docs/operations.md, docs/dashboard.md) and a curl of /metrics.
# Cleans up on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s -j"$(nproc)" build/ztna build/ztna-intermediate build/ztna-connector build/ztna-agent

set +e
# The policy document with groups (ztna-env.sh's ZT_POLICY_DOC=1), and the
# audit log on the Intermediate and the connector.
export ZT_POLICY_DOC=1
# shellcheck source=../tests/netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../tests/netns/audit_lib.sh
source tests/netns/audit_lib.sh
audit_on() {
  IM_AUDIT=$ZT_WORK/audit-intermediate.jsonl
  CONN_AUDIT=$ZT_WORK/audit-connector.jsonl
  zt_audit_on "$ZT_WORK/intermediate.json" "$IM_AUDIT" "$ZT_WORK/connector.json" "$CONN_AUDIT"
}
# The operator's windows on the Intermediate, on its namespace's loopback:
# metrics (docs/operations.md) and the admin dashboard (docs/dashboard.md).
METRICS=127.0.0.1:9101
DASHBOARD=127.0.0.1:9180
demo_configs() {
  audit_on &&
    zt_config_set "$ZT_WORK/intermediate.json" metrics_listen "$METRICS" &&
    zt_config_set "$ZT_WORK/intermediate.json" dashboard_listen "$DASHBOARD"
}
ZT_AFTER_CONFIGS=demo_configs
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
lines() { wc -l <"$1"; }
# show_audit NAME FILE SINCE [FIELD=VALUE...]: FILE's lines after line SINCE
# that match, briefly (zt_audit_show).
show_audit() {
  local name=$1 file=$2 since=$3
  shift 3
  echo "   -- $name audit log ($(basename "$file")):"
  ZT_AUDIT_SKIP=$since zt_audit_show "$file" "$@"
}
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
                 (firewalled)     the \"internet\"        (firewalled)                        10.30.0.3 echo, admin"

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

say "access control: the policy document (two groups; the agent, alice, is in staff)"
sed -n '/"groups"/,/^  \]/p; /"rules"/,/^  \]/p' "$ZT_WORK/policy.json" | sed 's/^/   /'
run ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/intermediate.json"
echo "   alice: web (tcp/8080 tcp/5201 tcp/22 icmp, not tcp/$ZT_FORBIDDEN_PORT) and echo; admin is for ops"

say "an allowed access: alice fetches a page of web (tcp/8080), granted by rules[0]"
im0=$(lines "$IM_AUDIT")
cn0=$(lines "$CONN_AUDIT")
run A curl -sS --max-time 10 -o /dev/null -w 'HTTP %{http_code}, %{size_download} bytes\n' "http://$WEB_VIP:8080/" || exit 1
# The session (and so its audit lines) was opened by the first packet at
# the top of the demo: show every session line for alice.
show_audit Intermediate "$IM_AUDIT" 0 event=session identity=agent/alice
show_audit connector "$CONN_AUDIT" 0 event=session_new identity=agent/alice

say "a denied access: tcp/$ZT_FORBIDDEN_PORT of web (a listener is there, rules[0] does not grant it)"
if A curl -sS --max-time 3 -o /dev/null "http://$WEB_VIP:$ZT_FORBIDDEN_PORT/"; then
  echo "   tcp/$ZT_FORBIDDEN_PORT answered: it should not have"
  exit 1
fi
echo "   (refused: the connector dropped every packet)"
sleep 0.2
show_audit connector "$CONN_AUDIT" "$cn0" event=packet_denied identity=agent/alice
say "a denied access: the admin service (group ops only): no route to it on alice's host"
run A ip route get "$ADMIN_VIP"
if A curl -sS --max-time 3 -o /dev/null "http://$ADMIN_VIP:8081/" 2>/dev/null; then
  echo "   admin answered: it should not have"
  exit 1
fi
echo "   (no answer: admin is not in alice's service table)"
show_audit Intermediate "$IM_AUDIT" 0 event=session identity=agent/alice service=admin

say "live reload: a rule granting alice admin, then \`ztna reload\` (no restart, no reconnect)"
auths=$(grep -c "agent alice authenticated" "$ZT_WORK/intermediate.log")
im0=$(lines "$IM_AUDIT")
zt_write_policy "$ZT_RULES_DEFAULT,
    {\"agent\": \"alice\", \"services\": [\"admin\"]}"
echo "   added to policy.json: $(tail -n 3 "$ZT_WORK/policy.json" | head -n 1 | sed 's/^ *//')"
t0=$(date +%s%N)
run ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" reload --socket "$ZT_WORK/intermediate.sock" || exit 1
if ! zt_wait_log agent "added route $ADMIN_VIP" 5; then
  echo "   no route to admin 5 s after the reload"
  exit 1
fi
echo "   the route appeared $((($(date +%s%N) - t0) / 1000000)) ms after the reload; the agent's log:"
grep -h "added route $ADMIN_VIP" "$ZT_WORK/agent.log" | sed 's/^/   /'
run A curl -sS --max-time 10 -o /dev/null -w 'HTTP %{http_code}, %{size_download} bytes\n' "http://$ADMIN_VIP:8081/" || exit 1
run A "$ZT_PY" tests/netns/udp_echo.py client "$ADMIN_VIP" 9998 "admin over UDP" 3 || exit 1
echo "   alice authenticated $(grep -c "agent alice authenticated" "$ZT_WORK/intermediate.log") time(s) in all ($auths before the reload): no reconnect"
show_audit Intermediate "$IM_AUDIT" "$im0"

say "names: the agent answers DNS for its domain inside the tunnel"
dns=$(grep -o 'dns: answering [^ ]* at [0-9.]*' "$ZT_WORK/agent.log" | head -n1)
domain=$(awk '{print $3}' <<<"$dns")
dns_addr=$(awk '{print $5}' <<<"$dns")
echo "   the agent's log: $dns"
for name in web admin; do
  run A dig "@$dns_addr" +short +time=2 +tries=2 "$name.$domain"
done
printf '$ dig @%s nosuch.%s\n' "$dns_addr" "$domain"
A dig "@$dns_addr" +time=2 +tries=2 "nosuch.$domain" | grep -E 'status:' | sed 's/^;; */   /'

say "watching it: the Intermediate's metrics and admin dashboard (in its namespace, $ZT_NS_I)"
I() { ip netns exec "$ZT_NS_I" "$@"; }
echo "   dashboard: http://$DASHBOARD/  (peers, services, sessions, traffic; docs/dashboard.md)"
echo "   metrics:   http://$METRICS/metrics, /healthz, /readyz  (docs/operations.md)"
printf '$ curl -s http://%s/metrics | grep -E "^ztna_intermediate_(agents|connectors|sessions|relay_bytes_total) "\n' "$METRICS"
I curl -s --max-time 5 "http://$METRICS/metrics" |
  grep -E "^ztna_intermediate_(agents|connectors|sessions|relay_bytes_total) " | sed 's/^/   /'
if command -v chromium >/dev/null; then
  shot=/tmp/ztna-demo-dashboard.png
  I timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$ZT_WORK/chrome.XXXXXX")" --virtual-time-budget=4000 \
    --window-size=1200,900 --screenshot="$shot" "http://$DASHBOARD/" >/dev/null 2>&1 &&
    echo "   the dashboard as headless Chromium saw it: $shot"
fi

say "what each daemon saw"
for d in agent connector intermediate; do zt_stop "$d" TERM; done
grep -h "status:" "$ZT_WORK/agent.log" "$ZT_WORK/connector.log" "$ZT_WORK/intermediate.log" | sed 's/^/   /'
say "demo finished: cleaning up namespaces"
exit 0
