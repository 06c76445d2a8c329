#!/usr/bin/env bash
# Two Intermediates (multi_env.sh: the second at 198.51.100.4 in its own
# namespace, same CA, certificate and policy). The connector registers at
# both; the agent uses one. Relay only.
#
#   chosen     the agent uses one Intermediate, the connector is up at both
#   failover   a ping stream and a rate-limited 20 MB download run through
#              the tunnel; the Intermediate in use is killed with SIGKILL;
#              the agent moves to the other (it notices the silence within
#              seconds), its tunnel address unchanged; the outage (last
#              reply before the kill to the first after it) is printed,
#              and only a generous bound (20 s) asserted
#   download   the download completes after the move, checksum intact
#   status     the agent's status shows the other Intermediate in use
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=multi_env.sh
source tests/netns/multi_env.sh
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

zt_multi_up || exit 1
first=$(zt_multi_in_use)
if [ -n "$first" ] && grep -q "service echo registered" "$ZT_WORK/connector.log"; then
  pass "chosen (agent uses intermediate #$first, connector registered at both)"
else
  fail "chosen" "$(grep -E 'intermediate #|registered' "$ZT_WORK/agent.log" "$ZT_WORK/connector.log")"
fi

# 250 pings, 0.1 s apart (25 s); the download at 2 MB/s (10 s).
zt_bg ping "$ZT_NS_A" ping -D -n -i 0.1 -c 250 -W 1 "$WEB_VIP"
zt_bg curl "$ZT_NS_A" curl -sS --max-time 90 --limit-rate 2M \
  -o "$ZT_WORK/blob.got" "http://$WEB_VIP:8080/blob"
sleep 3
kill_at=$(date +%s.%N)
other=$(zt_multi_kill_in_use)
if zt_wait_log agent "moved from intermediate #$first to #$other" 20; then
  resumed=""
  for ((i = 0; i < 150; i++)); do
    resumed=$(zt_ping_outage_ms "$ZT_WORK/ping.log" "$kill_at")
    [ -n "$resumed" ] && break
    sleep 0.1
  done
  if [ -n "$resumed" ] && [ "$resumed" -lt 20000 ]; then
    pass "failover (#$first -> #$other, ping outage $resumed ms)"
  else
    fail "failover" "no ping reply within 20 s of the kill (${resumed:-none})"
  fi
else
  fail "failover" "the agent did not move"
fi
if grep -q "tunnel address changes" "$ZT_WORK/agent.log"; then
  fail "failover" "the tunnel address changed"
fi

# The download finishes (bounded by curl's --max-time) and is intact.
curl_pid=$(cat "$ZT_WORK/pids/curl")
for ((i = 0; i < 950; i++)); do
  kill -0 "$curl_pid" 2>/dev/null || break
  sleep 0.1
done
zt_stop curl
want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
got=$(sha256sum <"$ZT_WORK/blob.got" 2>/dev/null | cut -d' ' -f1)
if [ "$got" = "$want" ]; then
  pass "download (20 MB across the move, sha256 matches)"
else
  fail "download" "sha256 ${got:-none} != $want; $(cat "$ZT_WORK/curl.log")"
fi

if zt_status agent && grep -q "intermediate #$other .* up .*(in use)" "$ZT_WORK/agent.log"; then
  pass "status (#$other in use)"
else
  fail "status" "$(grep 'intermediate #' "$ZT_WORK/agent.log" | tail -3)"
fi
zt_stop ping

zt_summary multi_intermediate
