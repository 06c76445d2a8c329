#!/usr/bin/env bash
# Two groups of agents with the real daemons (docs/policy.md, docs/audit.md),
# the policy document of ztna-env.sh's ZT_POLICY_DOC=1: staff (alice) may
# reach web (tcp/8080 and others, not tcp/2222) and echo (udp/9999); ops
# (bob) may reach admin (tcp/8081, udp/9998), and bob's own rule denies him
# web. All three services are on one connector, conn-a.
#
#   alice     reaches web over TCP and echo over UDP; refused admin over TCP
#             and UDP (no route); refused web tcp/2222, a port of web her
#             rule does not grant (the connector drops it; a listener is
#             there)
#   bob       (run after alice on the same host) reaches admin over TCP and
#             UDP; refused web (TCP) and echo (UDP)
#   audit     the Intermediate's lines: an allow per granted service naming
#             its rule, a deny per refused one naming the deny rule
#             (rules[3]) or "default deny"; the connector's: each session
#             accepted, the tcp/2222 packets denied
#   conn-b    a connector with a valid certificate that policy does not
#             name registers web: refused (audit register deny), and alice's
#             web traffic still goes to conn-a, none to conn-b
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
export ZT_POLICY_DOC=1
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=audit_lib.sh
source tests/netns/audit_lib.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

tcp_ok() { # ADDR PORT: an HTTP answer within 5 s
  A curl -s --max-time 5 -o /dev/null "http://$1:$2/"
}
udp_ok() { # ADDR PORT: a UDP echo answered (3 tries)
  A "$ZT_PY" tests/netns/udp_echo.py client "$1" "$2" groups 3 >/dev/null 2>&1
}
# expect WHO yes|no PROTO ADDR PORT LABEL: PASS when reachability matches.
expect() {
  local who=$1 want=$2 proto=$3 addr=$4 port=$5 label=$6 got=no
  "${proto}_ok" "$addr" "$port" && got=yes
  if [ "$got" = "$want" ]; then
    [ "$want" = yes ] && pass "$who reaches $label" || pass "$who refused $label"
  else
    [ "$want" = yes ] && fail "$who $label" "not reached" || fail "$who $label" "reached"
  fi
}

zt_env_init
zt_topology_up || { fail setup topology; zt_summary groups; }
zt_make_pki || { fail setup pki; zt_summary groups; }
zt_write_configs || { fail setup configs; zt_summary groups; }
IM_AUDIT=$ZT_WORK/audit-intermediate.jsonl
CONN_AUDIT=$ZT_WORK/audit-connector.jsonl
zt_audit_on "$ZT_WORK/intermediate.json" "$IM_AUDIT" "$ZT_WORK/connector.json" "$CONN_AUDIT"
if out=$("$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/intermediate.json" 2>&1); then
  pass "check-config: $(tail -n1 <<<"$out")"
else
  fail check-config "$out"
fi
zt_start_backends || { fail setup backends; zt_summary groups; }
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail setup intermediate; zt_summary groups; }
zt_start_connector
zt_wait_log connector "service admin registered" || { fail setup connector; zt_summary groups; }

# ---- alice (staff) ----------------------------------------------------------
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" || { fail setup "alice's routes"; zt_summary groups; }
sleep 0.3
expect alice yes tcp "$WEB_VIP" 8080 "web tcp/8080 (rules[0])"
expect alice yes udp "$ECHO_VIP" 9999 "echo udp/9999 (rules[1])"
expect alice no tcp "$ADMIN_VIP" 8081 "admin tcp/8081 (ops only)"
expect alice no udp "$ADMIN_VIP" 9998 "admin udp/9998 (ops only)"
expect alice no tcp "$WEB_VIP" "$ZT_FORBIDDEN_PORT" "web tcp/$ZT_FORBIDDEN_PORT (a port of web rules[0] does not grant)"
if grep -q "added route $ADMIN_VIP" "$ZT_WORK/agent.log"; then
  fail "alice admin route" "installed"
fi
zt_audit_check "audit: alice granted web by rules[0]" "$IM_AUDIT" \
  event=session identity=agent/alice service=web connector=conn-a decision=allow rule='rules[0]'
zt_audit_check "audit: alice granted echo by rules[1]" "$IM_AUDIT" \
  event=session identity=agent/alice service=echo decision=allow rule='rules[1]'
zt_audit_check "audit: alice denied admin by default deny" "$IM_AUDIT" \
  event=session identity=agent/alice service=admin decision=deny rule='default deny'
zt_audit_check "audit: connector accepted alice's session" "$CONN_AUDIT" \
  event=session_new identity=agent/alice decision=allow
zt_audit_check "audit: connector denied alice web tcp/$ZT_FORBIDDEN_PORT" "$CONN_AUDIT" \
  event=packet_denied identity=agent/alice service=web proto=tcp port="$ZT_FORBIDDEN_PORT" decision=deny rule=connector
if zt_audit_has "$IM_AUDIT" event=session identity=agent/alice service=admin decision=allow >/dev/null 2>&1; then
  fail "audit: alice" "an allow line for admin"
fi

# ---- conn-b: a valid connector certificate policy does not name -----------
"$ZT_BIN/ztna" cert issue --ca-dir "$ZT_WORK/pki" --role connector --name conn-b \
  --out "$ZT_WORK/pki/conn-b" >/dev/null || fail conn-b "certificate"
sed -e "s|pki/conn-a|pki/conn-b|g" -e 's|"ztna-c0"|"ztna-c1"|' "$ZT_WORK/connector.json" |
  "$ZT_PY" -c 'import json,sys; c=json.load(sys.stdin); c.pop("audit_log"); c["services"]=c["services"][:1]; print(json.dumps(c))' \
  >"$ZT_WORK/conn-b.json"
# On the agent's host (a second connector beside conn-a would share its
# nftables table): it only needs to reach the Intermediate.
zt_bg connb "$ZT_NS_A" "$ZT_BIN/ztna-connector" --config "$ZT_WORK/conn-b.json" \
  --control-socket "$ZT_WORK/conn-b.sock"
if zt_wait_log connb "service web refused by intermediate" 10; then
  pass "conn-b: its register of web refused ($(grep -o 'service web refused.*' "$ZT_WORK/connb.log" | head -n1))"
else
  fail conn-b "no refusal: $(tail -n 3 "$ZT_WORK/connb.log")"
fi
zt_audit_check "audit: conn-b's register of web denied" "$IM_AUDIT" \
  event=register identity=connector/conn-b service=web decision=deny
expect alice yes tcp "$WEB_VIP" 8080 "web tcp/8080 with conn-b connected"
A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 || fail "alice ping web with conn-b connected"
if grep -q "session announced" "$ZT_WORK/connb.log"; then
  fail conn-b "was announced a session: it captured traffic"
else
  pass "conn-b: no session announced to it, web still served by conn-a"
fi
zt_stop connb

# ---- bob (ops) ---------------------------------------------------------------
zt_stop agent
cp "$ZT_WORK/agent.log" "$ZT_WORK/agent-alice.log"
zt_bg agent "$ZT_NS_A" "$ZT_BIN/ztna-agent" --config "$ZT_WORK/agent-bob.json" \
  --control-socket "$ZT_WORK/agent.sock"
if zt_wait_log agent "added route $ADMIN_VIP" 20; then
  sleep 0.3
  expect bob yes tcp "$ADMIN_VIP" 8081 "admin tcp/8081 (rules[2])"
  expect bob yes udp "$ADMIN_VIP" 9998 "admin udp/9998 (rules[2])"
  expect bob no tcp "$WEB_VIP" 8080 "web tcp/8080 (his own deny, rules[3])"
  expect bob no udp "$ECHO_VIP" 9999 "echo udp/9999 (staff only)"
  if grep -Eq "added route ($WEB_VIP|$ECHO_VIP)" "$ZT_WORK/agent.log"; then
    fail "bob routes" "a route to web or echo"
  fi
  zt_audit_check "audit: bob granted admin by rules[2]" "$IM_AUDIT" \
    event=session identity=agent/bob service=admin decision=allow rule='rules[2]'
  zt_audit_check "audit: bob denied web by his deny rule rules[3]" "$IM_AUDIT" \
    event=session identity=agent/bob service=web decision=deny rule='rules[3]'
  zt_audit_check "audit: bob denied echo by default deny" "$IM_AUDIT" \
    event=session identity=agent/bob service=echo decision=deny rule='default deny'
  zt_audit_check "audit: connector accepted bob's session" "$CONN_AUDIT" \
    event=session_new identity=agent/bob decision=allow
else
  fail bob "no route to admin: $(tail -n 3 "$ZT_WORK/agent.log")"
fi

zt_summary groups
