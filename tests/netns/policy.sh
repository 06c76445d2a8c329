#!/usr/bin/env bash
# The policy document with real daemons in namespaces (docs/policy.md):
#
#   groups        alice (group web-users) reaches web tcp/8080 and is
#                 refused web tcp/5201 (a port of the service her rule does
#                 not grant; iperf3 listens there) and echo (UDP); bob
#                 (group echo-users, a second agent certificate, run after
#                 alice in the same namespace) reaches echo and is refused
#                 web
#   check-config  --check-config on a good file (exit 0, summary) and a
#                 broken one (exit 1, file:line: key: reason)
#   broken reload a broken policy file on SIGHUP and `ztna reload`: the old
#                 policy stays (traffic still flows), the reason is logged
#   grant         SIGHUP with a rule granting alice echo: the route appears
#                 and UDP flows, with no reconnect
#   revoke        `ztna reload` without alice's web rule: her route goes,
#                 the connector drops the session
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

# write_policy RULES: the policy document with these rules (JSON array body).
write_policy() {
  cat >"$ZT_WORK/policy.json" <<EOF
{
  "groups": [
    {"name": "web-users", "agents": ["alice"]},
    {"name": "echo-users", "agents": ["bob"]}
  ],
  "services": [
    {"name": "web",  "address": "$WEB_VIP",  "connector": "conn-a",
     "ports": ["tcp/8080", "tcp/5201", "icmp"]},
    {"name": "echo", "address": "$ECHO_VIP", "connector": "conn-a",
     "ports": ["udp/9999", "icmp"]}
  ],
  "rules": [
$1
  ]
}
EOF
}
RULE_WEB='    {"group": "web-users", "services": ["web"], "ports": ["tcp/8080"]}'
RULE_ECHO='    {"group": "echo-users", "services": ["echo"]}'
RULE_ALICE_ECHO='    {"agent": "alice", "services": ["echo"]}'

web_ok() { A curl -s --max-time 5 -o /dev/null "http://$WEB_VIP:8080/" ; }
tcp_open() { # ADDR PORT: a TCP connection completes within 3 s
  A timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
echo_ok() {
  A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 policy 3 >/dev/null 2>&1
}
reload_cli() {
  ip netns exec "$ZT_NS_I" "$ZT_BIN/ztna" reload --socket "$ZT_WORK/intermediate.sock"
}
count() { grep -c -- "$2" "$ZT_WORK/$1.log" 2>/dev/null; }
# The connector's count of agents' packets refused by policy or port rules.
conn_refused() {
  ip netns exec "$ZT_NS_C" "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/connector.sock" |
    "$ZT_PY" -c 'import json,sys; print(json.load(sys.stdin)["counters"]["rx"]["not_allowed"])'
}

zt_env_init
zt_topology_up || { fail setup "topology"; exit 1; }
zt_make_pki || { fail setup "pki"; exit 1; }
"$ZT_BIN/ztna" cert issue --ca-dir "$ZT_WORK/pki" --role agent --name bob \
  --out "$ZT_WORK/pki/bob" >/dev/null || { fail setup "bob's certificate"; exit 1; }
zt_write_configs || { fail setup "configs"; exit 1; }
# intermediate.json names the policy document instead of inline policy.
p="$ZT_WORK/pki"
zt_write_intermediate_doc_config
write_policy "$RULE_WEB,
$RULE_ECHO"
sed "s|$p/alice|$p/bob|g" "$ZT_WORK/agent.json" >"$ZT_WORK/agent-bob.json"

# ---- check-config ----------------------------------------------------------
if out=$("$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/intermediate.json" 2>&1) &&
  grep -q "policy.json: ok: 2 service(s), 2 group(s), 2 rule(s)" <<<"$out"; then
  pass "check-config: good file accepted ($out)"
else
  fail "check-config good" "$out"
fi
cp "$ZT_WORK/policy.json" "$ZT_WORK/policy.good"
write_policy '    {"group": "web-users", "services": ["wbe"]}'
out=$("$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/intermediate.json" 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "policy.json:13: rules\[0\].services\[0\]: no service named 'wbe'" <<<"$out"; then
  pass "check-config: broken file refused, exit 1: $out"
else
  fail "check-config bad" "rc $rc: $out"
fi
cp "$ZT_WORK/policy.good" "$ZT_WORK/policy.json"

zt_start_all echo "$WEB_VIP" || { fail setup "$ZT_START_FAILED"; exit 1; }
sleep 0.5

# ---- alice: web tcp/8080 only ---------------------------------------------
if web_ok; then pass "alice reaches web tcp/8080 (her group's rule)"; else fail "alice web"; fi
refused0=$(conn_refused)
if tcp_open "$WEB_VIP" 5201; then
  fail "alice web tcp/5201" "connected to a port her rule does not grant"
elif [ "$(conn_refused)" -gt "${refused0:-0}" ]; then
  pass "alice refused web tcp/5201 by the connector (a port of web her rule does not grant; refused $refused0 -> $(conn_refused))"
else
  fail "alice web tcp/5201" "not connected, but the connector counted no refusal"
fi
if echo_ok; then fail "alice echo" "UDP echo answered"; else pass "alice refused echo (UDP)"; fi
if grep -q "added route $ECHO_VIP" "$ZT_WORK/agent.log"; then
  fail "alice echo route" "route to echo installed"
fi

# ---- broken file: nothing changes -----------------------------------------
auth_before=$(count intermediate "agent alice authenticated")
write_policy '    {"group": "nobody", "services": ["web"]}'
kill -HUP "$(zt_daemon_pid intermediate)"
if zt_wait_log intermediate "SIGHUP: .*policy not reloaded, the old one stays: .*policy.json:13: rules\[0\].group: no group named 'nobody'" 5 &&
  web_ok; then
  pass "SIGHUP with a broken file: old policy kept, reason logged, web still reached"
else
  fail "broken SIGHUP"
fi
out=$(reload_cli 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "old one stays" <<<"$out" && web_ok; then
  pass "ztna reload with a broken file: exit 1, old policy kept ($out)"
else
  fail "broken ztna reload" "rc $rc: $out"
fi

# ---- grant: SIGHUP adds echo for alice, no reconnect ------------------------
write_policy "$RULE_WEB,
$RULE_ECHO,
$RULE_ALICE_ECHO"
t0=$(date +%s%N)
kill -HUP "$(zt_daemon_pid intermediate)"
if zt_wait_log agent "added route $ECHO_VIP" 5; then
  ms=$((($(date +%s%N) - t0) / 1000000))
  # the connector's copy of the grant may come a moment after the agent's
  # route; echo_ok needs every datagram answered
  zt_wait_log connector "grant updated" 10 || true
  if echo_ok; then
    pass "SIGHUP granting echo: route after $ms ms, UDP echo answered"
  else
    fail "grant" "route in place but UDP echo not answered"
  fi
else
  fail "grant" "no route to echo after SIGHUP"
fi
# Her session to conn-a (web) now grants echo too: updated in place, the
# same session, not closed and opened again.
if zt_wait_log connector "grant updated" 5 &&
  ! grep -q "closed: the policy grants nothing" "$ZT_WORK/intermediate.log"; then
  pass "the session's grant updated in place, not reopened"
else
  fail "regrant" "no 'grant updated' at the connector, or the channel was closed"
fi
if [ "$(count intermediate "agent alice authenticated")" = "$auth_before" ]; then
  pass "no reconnect for the reloads"
else
  fail "reconnect" "alice authenticated again"
fi

# ---- revoke: ztna reload without alice's web rule -------------------------
write_policy "$RULE_ECHO,
$RULE_ALICE_ECHO"
if out=$(reload_cli 2>&1) && grep -q "policy reloaded" <<<"$out"; then
  pass "ztna reload: $out"
else
  fail "ztna reload" "$out"
fi
if zt_wait_log agent "removed route $WEB_VIP" 5; then
  pass "revoke: alice's route to web removed"
else
  fail "revoke" "route to web still there"
fi
if web_ok; then fail "revoke web" "web still reached"; else pass "revoke: web no longer reached"; fi
if echo_ok; then pass "revoke: echo (still granted) still answered"; else fail "revoke echo" "echo lost"; fi

# ---- bob: echo, not web ----------------------------------------------------
zt_stop agent
cp "$ZT_WORK/agent.log" "$ZT_WORK/agent-alice.log"
zt_bg agent "$ZT_NS_A" "$ZT_BIN/ztna-agent" --config "$ZT_WORK/agent-bob.json" \
  --control-socket "$ZT_WORK/agent.sock"
if zt_wait_log agent "added route $ECHO_VIP" 20; then
  sleep 0.5
  if echo_ok; then pass "bob reaches echo (his group's rule)"; else fail "bob echo"; fi
  if grep -q "added route $WEB_VIP" "$ZT_WORK/agent.log"; then
    fail "bob web route" "route to web installed"
  elif web_ok; then
    fail "bob web" "web reached"
  else
    pass "bob refused web (no route, no session)"
  fi
else
  fail "bob" "no route to echo"
fi

zt_summary policy
