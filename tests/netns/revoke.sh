#!/usr/bin/env bash
# Revocation and expiry with the real daemons (docs/certificates.md):
#
#   crl-start     the Intermediate starts with a CRL (config `crl`) and
#                 alice, not in it, connects and reaches a service
#   bad-crl       a CRL not signed by the CA refuses to start, naming it
#   cut-off       `ztna cert revoke` alice, SIGHUP the Intermediate: her live
#                 connection is closed ("revoked" in its log) and pings stop
#   refused       her reconnects are refused at the handshake, with the
#                 reason on both sides (serial on the Intermediate,
#                 certificate_revoked on the agent)
#   audit         both are audit lines event=revoke naming agent/alice and
#                 the CRL (the Intermediate's audit_log)
#   status-warns  `ztna status` on the Intermediate flags a peer certificate
#                 within 30 days of expiry (and the log says so)
#   expiry        a new certificate for alice valid ~25 s (openssl ca): she
#                 connects, is cut off when it expires (the Intermediate's
#                 timer, not a handshake), and her reconnects are refused as
#                 expired on both sides
#   connector-crl the connector (config `crl`, the same file) reads its CRL
#                 again on SIGHUP: a new certificate of alice's, accepted by
#                 both, is revoked; with only the connector reloaded, her
#                 next inner session is refused by the connector (an audit
#                 revoke line there) while the Intermediate still lets her in
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=openssl_cert.sh
source tests/netns/openssl_cert.sh
# shellcheck source=audit_lib.sh
source tests/netns/audit_lib.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

zt_env_init
zt_topology_up || { fail topology; zt_summary revoke; }
zt_make_pki || { fail pki; zt_summary revoke; }
P=$ZT_WORK/pki
Z=$ZT_BIN/ztna

# A CRL from the start (revoking a certificate nobody uses), so that a
# SIGHUP has one to read again.
"$Z" cert issue --ca-dir "$P" --role agent --name nobody --out "$ZT_WORK/nobody" >/dev/null &&
  "$Z" cert revoke --ca-dir "$P" "$ZT_WORK/nobody.pem" --reason superseded >/dev/null ||
  { fail crl "ztna cert revoke"; zt_summary revoke; }
zt_write_configs || { fail configs; zt_summary revoke; }
sed -i "s|^  \"listen\": \"0.0.0.0:4433\",|&\n  \"crl\": \"$P/crl.pem\",|" "$ZT_WORK/intermediate.json"
grep -q '"crl"' "$ZT_WORK/intermediate.json" || { fail configs "crl not in intermediate.json"; zt_summary revoke; }
IM_AUDIT=$ZT_WORK/audit-intermediate.jsonl
CONN_AUDIT=$ZT_WORK/audit-connector.jsonl
zt_audit_on "$ZT_WORK/intermediate.json" "$IM_AUDIT" "$ZT_WORK/connector.json" "$CONN_AUDIT"
zt_json_set "$ZT_WORK/connector.json" crl "$P/crl.pem"

# bad-crl: another CA's CRL stops the start.
"$Z" cert issue --ca-dir "$P/other" --role agent --name x --out "$ZT_WORK/x" >/dev/null
"$Z" cert revoke --ca-dir "$P/other" "$ZT_WORK/x.pem" >/dev/null
sed "s|$P/crl.pem|$P/other/crl.pem|" "$ZT_WORK/intermediate.json" >"$ZT_WORK/bad.json"
ip netns exec "$ZT_NS_I" timeout 5 "$ZT_BIN/ztna-intermediate" --config "$ZT_WORK/bad.json" \
  --control-socket none >"$ZT_WORK/bad.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "crl $P/other/crl.pem: not signed by the CA in $P/ca.pem" "$ZT_WORK/bad.log"; then
  pass "bad-crl: $(grep -F 'not signed' "$ZT_WORK/bad.log" | head -n1 | cut -c1-200)"
else
  fail bad-crl "exit $rc: $(head -c 400 "$ZT_WORK/bad.log")"
fi

zt_start_backends || { fail backends; zt_summary revoke; }
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail start "$(tail -n 5 "$ZT_WORK/intermediate.log")"; zt_summary revoke; }
zt_start_connector
zt_wait_log connector "service echo registered" || fail start "connector"
zt_start_agent
if zt_wait_log agent "added route $ECHO_VIP" && grep -q "crl $P/crl.pem: 1 revoked" "$ZT_WORK/intermediate.log" &&
  A ping -c 2 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1; then
  pass "crl-start: started with the CRL, alice connected and answered"
else
  fail crl-start "$(tail -n 5 "$ZT_WORK/agent.log")"
fi

# cut-off: revoke alice, reload.
"$Z" cert revoke --ca-dir "$P" "$P/alice.pem" --reason keyCompromise >"$ZT_WORK/revoke.out" 2>&1 ||
  fail cut-off "ztna cert revoke: $(cat "$ZT_WORK/revoke.out")"
serial=$(awk '/alice/ {print $1}' "$P/revoked")
im_pid=$(zt_daemon_pid intermediate)
t0=$(date +%s.%N)
kill -HUP "$im_pid"
if zt_wait_log intermediate "agent alice: certificate serial .* revoked on .*: closing" 10; then
  ok=1
  # Pings stop (bounded: 10 tries of 1 s).
  for _ in $(seq 10); do
    A ping -c 1 -W 1 "$WEB_VIP" >/dev/null 2>&1 || { ok=0; break; }
  done
  t1=$(date +%s.%N)
  if [ $ok = 0 ]; then
    pass "cut-off: $(grep -o 'agent alice: certificate serial.*' "$ZT_WORK/intermediate.log" | head -n1 | cut -c1-160); pings stopped ($(echo "$t1 - $t0" | bc 2>/dev/null || echo '?') s after SIGHUP)"
  else
    fail cut-off "pings still answered 10 s after the reload"
  fi
else
  fail cut-off "no 'revoked' line: $(tail -n 5 "$ZT_WORK/intermediate.log")"
fi

# refused: the agent keeps trying; each attempt is refused, with reasons.
hex=$(echo "$serial" | sed 's/../&:/g; s/:$//')
if zt_wait_log intermediate "peer agent/alice: certificate serial $hex revoked" 20 &&
  zt_wait_log agent "certificate_revoked" 20; then
  pass "refused: intermediate: $(grep -o "peer agent/alice: certificate serial.*" "$ZT_WORK/intermediate.log" | head -n1 | cut -c1-120); agent: $(grep -o 'certificate_revoked.*' "$ZT_WORK/agent.log" | head -n1 | cut -c1-100)"
else
  fail refused "$(tail -n 3 "$ZT_WORK/intermediate.log"); agent: $(tail -n 3 "$ZT_WORK/agent.log")"
fi
zt_stop agent
zt_audit_check "audit: revoke line for the connection closed at reload" "$IM_AUDIT" \
  event=revoke identity=agent/alice decision=deny rule="crl $P/crl.pem" reason="live connection closed at reload"
zt_audit_check "audit: revoke line for the refused handshake, with her source address" "$IM_AUDIT" \
  event=revoke identity=agent/alice decision=deny rule="crl $P/crl.pem" reason="handshake refused" source~198.51.100.
if zt_audit_has "$IM_AUDIT" event=revoke identity~connector >/dev/null 2>&1; then
  fail "audit: revoke lines" "the connector, not revoked, has one"
fi

# expiry: a fresh certificate for alice (new serial, not revoked) that ends
# in ~25 s, made with openssl ca as certs.sh does.
if ! command -v openssl >/dev/null; then
  skip expiry "openssl not installed"
else
  start=$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)
  end=$(date -u -d '+25 seconds' +%y%m%d%H%M%SZ)
  if zt_openssl_cert "$ZT_WORK/short.pem" "$start" "$end" "$P/alice.key" "$P" ztna://agent/alice; then
    sed -i "s|$P/alice.pem|$ZT_WORK/short.pem|" "$ZT_WORK/agent.json"
    zt_start_agent
    # up to 3 pings: the first opens the session, which may take a moment
    if zt_wait_log agent "added route $ECHO_VIP" 15 && A ping -c 3 -i 0.5 -W 3 "$WEB_VIP" >/dev/null 2>&1; then
      # The status flags it (and the log warned once).
      ip netns exec "$ZT_NS_I" "$Z" status --socket "$ZT_WORK/intermediate.sock" \
        >"$ZT_WORK/status.out" 2>&1
      if grep -q "^alice .*(expires soon!)" "$ZT_WORK/status.out" &&
        grep -q "agent alice: certificate expires on" "$ZT_WORK/intermediate.log"; then
        pass "status-warns: $(grep '^alice' "$ZT_WORK/status.out" | tr -s ' ' | cut -c1-160)"
      else
        fail status-warns "$(cat "$ZT_WORK/status.out")"
      fi
      if zt_wait_log intermediate "agent alice: certificate expired on .*: closing" 40 &&
        zt_wait_log intermediate "certificate rejected" 20 &&
        zt_wait_log agent "certificate_expired" 20; then
        pass "expiry: $(grep -o 'agent alice: certificate expired on.*' "$ZT_WORK/intermediate.log" | head -n1 | cut -c1-120); reconnect refused: $(grep -o 'certificate_expired' "$ZT_WORK/agent.log" | head -n1)"
      else
        fail expiry "$(tail -n 4 "$ZT_WORK/intermediate.log"); agent: $(tail -n 3 "$ZT_WORK/agent.log")"
      fi
    else
      fail expiry "the agent with the short certificate did not connect: $(tail -n 4 "$ZT_WORK/agent.log")"
    fi
  else
    fail expiry "openssl could not make the certificate: $(cat "$ZT_WORK/oca/err")"
  fi
fi

# connector-crl: a new certificate for alice (a serial nobody revoked).
zt_stop agent
if "$Z" cert issue --ca-dir "$P" --role agent --name alice --out "$ZT_WORK/alice2" >/dev/null; then
  zt_json_set "$ZT_WORK/agent.json" cert "$ZT_WORK/alice2.pem" key "$ZT_WORK/alice2.key"
  zt_start_agent
  if zt_wait_log agent "added route $WEB_VIP" 15 && A ping -c 2 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1; then
    "$Z" cert revoke --ca-dir "$P" "$ZT_WORK/alice2.pem" >/dev/null
    n=$(wc -l <"$P/revoked")
    pkill -HUP -P "$(cat "$ZT_WORK/pids/connector")"
    if zt_wait_log connector "crl $P/crl.pem reloaded: $n revoked certificate(s)" 5; then
      pass "connector-crl: SIGHUP read it again ($n revoked)"
      out=$(ip netns exec "$ZT_NS_C" "$Z" reload --socket "$ZT_WORK/connector.sock" 2>&1)
      if [ $? = 0 ] && grep -q "^ok: .*crl $P/crl.pem reloaded: $n revoked" <<<"$out"; then
        pass "connector-crl: ztna reload on its socket too ($out)"
      else
        fail connector-crl "ztna reload: $out"
      fi
    else
      fail connector-crl "no reload line: $(tail -n 3 "$ZT_WORK/connector.log")"
    fi
    # Only the connector knows: her next inner session (opened by her first
    # packet) is refused there.
    zt_stop agent
    zt_start_agent
    if ! zt_wait_log agent "added route $WEB_VIP" 15; then
      fail connector-crl "alice not let in by the Intermediate: $(tail -n 3 "$ZT_WORK/agent.log")"
    elif A ping -c 3 -i 0.3 -W 1 "$WEB_VIP" >/dev/null 2>&1; then
      fail connector-crl "pings answered: the connector let her session in"
    elif zt_wait_log connector "refused agent session .*agent/alice: certificate serial .* revoked" 10; then
      pass "connector-crl: the Intermediate let alice in, the connector refused her session: $(grep -o 'refused agent session.*' "$ZT_WORK/connector.log" | tail -n1 | cut -c1-150)"
    else
      fail connector-crl "pings lost but no refusal at the connector: $(tail -n 3 "$ZT_WORK/connector.log")"
    fi
    zt_audit_check "connector-crl: audit revoke line at the connector" "$CONN_AUDIT" \
      event=revoke identity=agent/alice decision=deny rule="crl $P/crl.pem" reason="session refused"
    zt_audit_check "connector-crl: audit reload line for the crl" "$CONN_AUDIT" \
      event=reload rule=crl decision=allow reason~"reloaded: $n revoked"
  else
    fail connector-crl "alice's new certificate did not connect: $(tail -n 3 "$ZT_WORK/agent.log")"
  fi
else
  fail connector-crl "ztna cert issue"
fi

zt_summary revoke
