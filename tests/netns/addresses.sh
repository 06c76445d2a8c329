#!/usr/bin/env bash
# Service addresses allocated from service_pool (docs/policy.md, "Service
# addresses"), with real daemons in namespaces:
#
#   check-config  what each service gets is printed; a range too small, a
#                 service_pool overlapping agent_pool and a fixed address
#                 inside agent_pool are refused with a clear message
#   allocate      web has no address: it gets the lowest free one of
#                 service_pool (not echo's fixed one); the agent routes it
#                 and reaches the backend (curl, ping); `ztna status` and
#                 the state file show it
#   reload        SIGHUP adding a second address-less service listed before
#                 web: web keeps its address, the new one gets the next
#   restart       the Intermediate killed and started again: web has the
#                 same address (a fresh allocation would now differ), and
#                 the agent reaches it again
#
# BUILD=build|build-san picks the binaries.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

POOL=10.100.7.0/24
FIXED=10.100.7.1 # echo's, inside the pool: never allocated
WEB=10.100.7.2   # the lowest free address: web's
API=10.100.7.3   # the next one, for the service added at the reload

# write_policy SERVICES...: each "name" (no address) or "name=ADDRESS";
# alice may reach all of them.
write_policy() {
  local s names="" list="" sep=""
  for s in "$@"; do
    local n=${s%%=*} addr=""
    [ "$n" != "$s" ] && addr="\"address\": \"${s#*=}\", "
    list+="$sep    {\"name\": \"$n\", $addr\"connector\": \"conn-a\"}"
    names+="$sep\"$n\""
    sep=",
"
  done
  cat >"$ZT_WORK/policy.json" <<EOF
{
  "services": [
$list
  ],
  "rules": [{"agent": "alice", "services": [${names//$'\n'/ }]}]
}
EOF
}
# write_im FILE POOL [AGENT_POOL]
write_im() {
  local p="$ZT_WORK/pki"
  cat >"$1" <<EOF
{
  "listen": "0.0.0.0:4433",
  "ca": "$p/ca.pem", "cert": "$p/intermediate.pem", "key": "$p/intermediate.key",
  "agent_pool": "${3:-100.64.0.0/16}",
  "service_pool": "$2",
  "state_dir": "$ZT_WORK/state",
  "policy": "policy.json"
}
EOF
}
check_config() { "$ZT_BIN/ztna-intermediate" --check-config "$1" 2>&1; }
# The address the Intermediate's status gives service $1.
status_addr() {
  ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/intermediate.sock" |
    "$ZT_PY" -c 'import json,sys
for s in json.load(sys.stdin)["services"]:
    if s["name"] == sys.argv[1]: print(s["address"])' "$1"
}
web_ok() { A curl -s --max-time 5 -o /dev/null "http://$WEB:8080/"; }
# Bounded wait until web answers through the tunnel (after a restart).
wait_web() {
  local i
  for ((i = 0; i < 40; i++)); do
    web_ok && return 0
    sleep 0.5
  done
  return 1
}

zt_env_init
zt_topology_up || { fail setup "topology"; exit 1; }
zt_make_pki || { fail setup "pki"; exit 1; }
zt_write_configs || { fail setup "configs"; exit 1; }
write_im "$ZT_WORK/intermediate.json" "$POOL"

# ---- check-config: conflicts refused ---------------------------------------
# refused NAME FILE PATTERN: --check-config FILE exits 1 saying PATTERN.
refused() {
  local out rc
  out=$(check_config "$2")
  rc=$?
  if [ $rc = 1 ] && grep -q -- "$3" <<<"$out"; then
    pass "check-config refuses $1: $out"
  else
    fail "check-config $1" "rc $rc: $out"
  fi
}
write_policy a b c
write_im "$ZT_WORK/small.json" 10.100.9.0/30
refused "a range too small" "$ZT_WORK/small.json" \
  "small.json: service_pool 10.100.9.0/30 is too small: 3 service(s) need an address, 2 available"
write_im "$ZT_WORK/overlap.json" 100.64.0.0/24
refused "service_pool overlapping agent_pool" "$ZT_WORK/overlap.json" \
  "overlap.json:5: service_pool: 100.64.0.0/24 overlaps agent_pool 100.64.0.0/16"
write_policy web "echo=100.64.3.3"
refused "a fixed address inside agent_pool, with its line" "$ZT_WORK/intermediate.json" \
  "policy.json:4: services\[1\].address: 100.64.3.3 (service 'echo') is inside agent_pool 100.64.0.0/16"
write_policy web "echo=$FIXED"
out=$(check_config "$ZT_WORK/intermediate.json")
rc=$?
if [ $rc = 0 ] && grep -q "service web: $WEB (from service_pool)" <<<"$out" &&
  grep -q "service echo: $FIXED (fixed)" <<<"$out" && [ ! -e "$ZT_WORK/state/service-addresses" ]; then
  pass "check-config: web would get $WEB, echo keeps $FIXED, nothing written"
else
  fail "check-config good" "rc $rc: $out"
fi

# ---- allocate ---------------------------------------------------------------
zt_start_backends || { fail setup "backends"; exit 1; }
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail setup "intermediate"; exit 1; }
zt_start_connector
zt_wait_log connector "service web registered" || { fail setup "connector"; exit 1; }
zt_start_agent
if zt_wait_log agent "added route $WEB" 20; then
  sleep 0.5
  if web_ok && A ping -c 1 -W 3 "$WEB" >/dev/null; then
    pass "web at its allocated $WEB: route, curl and ping through the tunnel"
  else
    fail "allocate" "route to $WEB but web not reached"
  fi
else
  fail "allocate" "no route to $WEB"
fi
got=$(status_addr web)
table=$(ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" status --socket "$ZT_WORK/intermediate.sock" 2>&1)
if [ "$got" = "$WEB" ] && grep -Eq "^web +$WEB +conn-a.* +yes" <<<"$table" &&
  grep -qx "web $WEB" "$ZT_WORK/state/service-addresses" 2>/dev/null; then
  pass "ztna status shows web at $got; state file: $(tr '\n' ' ' <"$ZT_WORK/state/service-addresses")"
else
  fail "status/state" "status $got: $table; state: $(cat "$ZT_WORK/state/service-addresses" 2>&1)"
fi

# ---- reload: a second address-less service, listed first --------------------
write_policy api web "echo=$FIXED"
kill -HUP "$(zt_daemon_pid intermediate)"
if zt_wait_log intermediate "SIGHUP: .*policy reloaded" 5 &&
  zt_wait_log agent "added route $API" 5 && [ "$(status_addr web)" = "$WEB" ] &&
  [ "$(status_addr api)" = "$API" ] && web_ok &&
  ! grep -q "removed route $WEB" "$ZT_WORK/agent.log"; then
  pass "SIGHUP adding api before web: web keeps $WEB (route never removed), api gets $API"
else
  fail "reload" "web $(status_addr web), api $(status_addr api)"
fi

# ---- restart: the same addresses from the state file ------------------------
zt_stop intermediate KILL
cp "$ZT_WORK/intermediate.log" "$ZT_WORK/intermediate-1.log"
t0=$(date +%s%N)
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail restart "intermediate did not start"; exit 1; }
if [ "$(status_addr web)" = "$WEB" ] && [ "$(status_addr api)" = "$API" ]; then
  pass "restart: web still $WEB, api still $API (a fresh allocation would swap them)"
else
  fail "restart addresses" "web $(status_addr web), api $(status_addr api)"
fi
if wait_web; then
  pass "restart: agent reaches web at $WEB again after $((($(date +%s%N) - t0) / 1000000)) ms"
else
  fail "restart traffic" "web not reached within 20 s"
fi

zt_summary addresses
