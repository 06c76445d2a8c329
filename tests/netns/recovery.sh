#!/usr/bin/env bash
# Recovery from restarts and deaths, with real daemons in namespaces:
#
#   connector restart    killed and started again at once during a
#                        checksummed download: it completes intact; outage
#                        printed. Stopped (SIGTERM) and started again: pings
#                        resume (outage printed); TCP flows do not survive
#                        that one (the stop removes the NAT table, and the
#                        kernel then drops the NAT state of every flow)
#   intermediate kill    kill -9 and an immediate restart during a download:
#                        completes intact, traffic resumed within 20 s
#   connector lost       kill -9, not restarted: the agent hears of it within
#                        the Intermediate's detection time (printed); its
#                        nftables table is left behind; started again, it
#                        replaces the table and the agent reopens its
#                        session by itself (no packet sent)
#   agent restart        SIGTERM, then kill -9: the agent gets its tunnel
#                        address back each time
#
# Outages are printed, never asserted against a target (figures in
# `make bench`, bench/outage.sh). BUILD=build|build-san picks the binaries.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=outage_lib.sh
source tests/netns/outage_lib.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

zt_env_up || { fail "setup"; exit 1; }
want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)

# download_through NAME FAULT: a 20 MB download at 4 MB/s (about 5 s) with
# FAULT run 1.5 s in; passes when it completes intact within 90 s.
download_through() {
  local name=$1 fault=$2 got rc outage
  rm -f "$ZT_WORK/dl"
  zt_outage_start "$name"
  A curl -s --max-time 90 --limit-rate 4M -o "$ZT_WORK/dl" "http://$WEB_VIP:8080/blob" &
  local cpid=$!
  sleep 1.5
  "$fault"
  wait "$cpid"
  rc=$?
  outage=$(zt_outage_stop "$name")
  got=$(sha256sum <"$ZT_WORK/dl" 2>/dev/null | cut -d' ' -f1)
  if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
    if [ "$outage" != none ] && [ "$outage" -lt 20000 ]; then
      pass "$name during a download: completed intact, outage $outage ms (pings every 20 ms)"
    else
      fail "$name" "download intact but traffic not resumed within 20 s (outage $outage ms)"
    fi
  else
    fail "$name" "download failed (curl rc $rc, sha256 ${got:-none}, outage $outage ms)"
  fi
}

n_restart=0
restart_connector() { # [SIGNAL]
  n_restart=$((n_restart + 1))
  zt_stop connector "${1:-KILL}"
  mv "$ZT_WORK/connector.log" "$ZT_WORK/connector-$n_restart.log"
  zt_start_connector
}
restart_term() { restart_connector TERM; }
kill_intermediate() {
  zt_stop intermediate KILL
  mv "$ZT_WORK/intermediate.log" "$ZT_WORK/intermediate-1.log"
  zt_start_intermediate
}

# ---- connector restarts, then Intermediate kill -9 + restart
download_through "connector kill -9 and restart" restart_connector
if grep -q "did not clean up" "$ZT_WORK/connector.log" &&
  grep -q "ip_forward turned on" "$ZT_WORK/connector.log"; then
  pass "the restarted connector found the killed one's leftovers and owns ip_forward again"
else
  fail "leftovers after kill -9" "$(grep 'ip_forward\|clean up' "$ZT_WORK/connector.log")"
fi
zt_wait_log agent "end-to-end session with connector conn-a established" 10 || true
sleep 1
# A clean restart (SIGTERM, as systemd's restart does) parks the table
# instead of removing it, so that TCP through the connector survives
# (platform/nft.h says why the parked table keeps its masquerade rule).
# Asserted: traffic resumes and a download running across it completes
# intact.
rm -f "$ZT_WORK/dl"
zt_outage_start "connector-term"
A curl -s --max-time 90 --limit-rate 4M -o "$ZT_WORK/dl" "http://$WEB_VIP:8080/blob" &
cpid=$!
sleep 1.5
restart_term
wait "$cpid"
rc=$?
outage=$(zt_outage_stop "connector-term")
got=$(sha256sum <"$ZT_WORK/dl" 2>/dev/null | cut -d' ' -f1)
[ "$rc" = 0 ] && [ "$got" = "$want" ] && tcp="survived intact" || tcp="was reset (curl rc $rc)"
if [ "$outage" != none ] && [ "$outage" -lt 20000 ] && [ "$tcp" = "survived intact" ]; then
  pass "connector stopped (SIGTERM) and started again: pings resumed, outage $outage ms; a TCP download across it $tcp"
else
  fail "connector SIGTERM restart" "pings not resumed (outage $outage ms); TCP download $tcp"
fi
zt_wait_log connector "service web registered" 10 || true
download_through "intermediate kill -9 and restart" kill_intermediate
for d in agent connector; do
  if zt_wait_log "$d" "reconnecting now" 20; then
    pass "$d redialled at once after the Intermediate's restart"
  else
    fail "$d redial" "no 'reconnecting now' after the restart: $(grep 'connection to intermediate lost\|reconnecting' "$ZT_WORK/$d.log" | tail -n 2)"
  fi
done

# ---- connector lost: kill -9, not restarted
table="ztna_ztna_c0"
opened() { grep -c 'end-to-end session with connector conn-a established' "$ZT_WORK/agent.log"; }
zt_wait_log connector "service web registered" 10 || true
sleep 1
zt_stop connector KILL
mv "$ZT_WORK/connector.log" "$ZT_WORK/connector-killed.log"
t0=$(zt_ms)
offline_before=$(grep -c 'via connector conn-a: offline' "$ZT_WORK/agent.log")
told=""
for _ in $(seq 600); do # 60 s: the Intermediate's idle timeout and a keepalive
  if [ "$(grep -c 'via connector conn-a: offline' "$ZT_WORK/agent.log")" -gt "$offline_before" ]; then
    told=$(($(zt_ms) - t0))
    break
  fi
  sleep 0.1
done
if [ -n "$told" ]; then
  pass "connector killed: the agent heard of it after $told ms (the Intermediate's detection: idle timeout 30 s after its last packet)"
else
  fail "connector lost" "the agent was not told within 60 s"
fi
if ip netns exec "$ZT_NS_C" nft list tables | grep -q "$table"; then
  pass "killed connector left its nftables table (as expected of kill -9)"
else
  skip "leftover table" "the table was already gone after kill -9"
fi

opened_before=$(opened)
zt_start_connector
if zt_wait_log connector "service web registered" 10 &&
  zt_wait_log agent "connector conn-a is online again: reopening the session" 5; then
  for _ in $(seq 50); do
    [ "$(opened)" -gt "$opened_before" ] && break
    sleep 0.1
  done
  if [ "$(opened)" -gt "$opened_before" ]; then
    pass "connector started again: the agent reopened its session by itself"
  else
    fail "reopen" "the agent asked for the session but it did not come up"
  fi
else
  fail "reopen" "the agent did not reopen its session when the connector came back"
fi
if [ "$(ip netns exec "$ZT_NS_C" nft list tables | grep -c "$table")" = 1 ] &&
  ip netns exec "$ZT_NS_C" nft list table inet "$table" | grep -q 'dnat ip to 10.30.0.2' &&
  A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 &&
  A curl -s --max-time 10 -o /dev/null "http://$WEB_VIP:8080/blob"; then
  pass "after kill -9 the next connector start replaced the leftover nftables table and works"
else
  fail "cleanup after kill -9" "$(ip netns exec "$ZT_NS_C" nft list tables)"
fi

# ---- agent restarted: same tunnel address (SIGTERM, then kill -9)
addr_of() { grep -o 'tunnel address [0-9.]*' "$ZT_WORK/agent.log" | tail -n1 | cut -d' ' -f3; }
addr0=$(addr_of)
for sig in TERM KILL; do
  zt_stop agent "$sig"
  mv "$ZT_WORK/agent.log" "$ZT_WORK/agent-$sig.log"
  zt_start_agent
  if zt_wait_log agent "added route $WEB_VIP" 15 &&
    [ "$(addr_of)" = "$addr0" ] &&
    A ping -c 2 -i 0.2 -W 3 "$WEB_VIP" >/dev/null 2>&1; then
    pass "agent restarted after SIG$sig: same tunnel address $addr0, traffic flows"
  else
    fail "agent restart (SIG$sig)" "address '$addr0' -> '$(addr_of)'"
  fi
done

# ---- clean shutdown: nothing left behind
for d in agent connector intermediate; do
  zt_stop "$d" TERM || fail "$d exit status" "non-zero"
done
parked=$(ip netns exec "$ZT_NS_C" nft list table inet "$table" 2>/dev/null)
if grep -q "dnat\|forward\|drop" <<<"$parked" || [ "$(grep -c masquerade <<<"$parked")" != 1 ]; then
  fail "parked table" "a clean stop leaves NAT chains with only the masquerade of marked flows: $parked"
else
  pass "clean stop: the table parked (no dnat, no filter, one masquerade of marked flows)"
fi
if [ "$BUILD" = build-san ] && grep -l "ERROR: AddressSanitizer\|runtime error:" "$ZT_WORK"/*.log; then
  fail "sanitizer reports"
fi
zt_summary recovery
