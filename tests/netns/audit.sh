#!/usr/bin/env bash
# The audit log with the real daemons (docs/audit.md): audit_log set on the
# Intermediate (a file) and the connector (a file); an allowed access (HTTP
# to web) and a denied one (a TCP port web's rules do not allow) each write
# their lines, as does an agent with a certificate of a foreign CA; every
# line parses as JSON with every documented field; SIGHUP after a rename
# (logrotate) reopens the file and writes a reload line into the new one.
#
# BUILD=build|build-san picks the binaries.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=audit_lib.sh
source tests/netns/audit_lib.sh
zt_need_bins ztna ztna-agent ztna-connector ztna-intermediate

zt_env_init
zt_topology_up || { fail "topology"; zt_summary audit; }
zt_make_pki || { fail "pki"; zt_summary audit; }
zt_write_configs || { fail "configs"; zt_summary audit; }
IM_AUDIT=$ZT_WORK/audit-intermediate.jsonl
CONN_AUDIT=$ZT_WORK/audit-connector.jsonl
zt_audit_on "$ZT_WORK/intermediate.json" "$IM_AUDIT" "$ZT_WORK/connector.json" "$CONN_AUDIT"
zt_start_all echo "$WEB_VIP" || { fail "$ZT_START_FAILED start"; zt_summary audit; }

check() { zt_audit_check "$@"; }

# ---- allowed: alice fetches a page of web (tcp/8080)
if ip netns exec "$ZT_NS_A" curl -sS --max-time 10 -o /dev/null "http://$WEB_VIP:8080/"; then
  pass "allowed access: http to web"
else
  fail "allowed access: http to web"
fi
check "audit: alice authenticated" "$IM_AUDIT" event=auth identity=agent/alice decision=allow
check "audit: conn-a registered web" "$IM_AUDIT" event=register identity=connector/conn-a service=web decision=allow
check "audit: session granted to alice for web by rules[0]" "$IM_AUDIT" \
  event=session identity=agent/alice service=web connector=conn-a decision=allow rule='rules[0]'
check "audit: connector accepted alice's session" "$CONN_AUDIT" event=session_new identity=agent/alice decision=allow

# ---- denied: a port web's rules do not allow (a listener is there)
if ip netns exec "$ZT_NS_A" curl -sS --max-time 3 -o /dev/null "http://$WEB_VIP:$ZT_FORBIDDEN_PORT/" 2>/dev/null; then
  fail "forbidden port refused" "tcp/$ZT_FORBIDDEN_PORT answered"
else
  pass "forbidden port refused"
fi
check "audit: packet to tcp/$ZT_FORBIDDEN_PORT denied" "$CONN_AUDIT" event=packet_denied \
  identity=agent/alice service=web proto=tcp port=$ZT_FORBIDDEN_PORT decision=deny

# ---- an agent certificate of a foreign CA, refused at the handshake
zt_start_foreign_agent
zt_wait_log intermediate "refused peer at" 10
zt_stop mallory
check "audit: foreign CA refused, no identity" "$IM_AUDIT" event=auth identity=null decision=deny

# ---- the status counts the lines written
if zt_status intermediate && grep -Eq 'status: audit lines [1-9][0-9]* write_errors 0' "$ZT_WORK/intermediate.log"; then
  pass "status: $(grep -m1 'status: audit lines' "$ZT_WORK/intermediate.log" | sed 's/.*status: //')"
else
  fail "status has the audit counters"
fi

# ---- logrotate: rename, SIGHUP, the new file gets the reload line
mv "$IM_AUDIT" "$IM_AUDIT.1"
pkill -HUP -P "$(cat "$ZT_WORK/pids/intermediate")"
check "audit: reopened on SIGHUP, reload line in the new file" "$IM_AUDIT" event=reload rule='audit log' decision=allow
grep -q '"event":"auth"' "$IM_AUDIT.1" && pass "audit: the rotated file keeps the earlier lines" ||
  fail "audit: rotated file" "no auth line in $IM_AUDIT.1"

zt_summary audit
