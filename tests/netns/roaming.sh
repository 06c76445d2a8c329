#!/usr/bin/env bash
# Roaming: the agent's network changes under a ping stream and a download
# through the tunnel (topology in lib.sh, daemons in ztna-env.sh).
#
#   address   A's address changes (10.10.1.2 -> 10.10.1.3, default route
#             back) in the middle of a 20 MB download and a ping every
#             20 ms: pings resume within 15 s, the agent logs the change
#             and migrates its outer connection, the Intermediate sees it
#             move, and the download finishes intact (its TCP connection
#             survived: the tunnel address stayed). Prints the outage.
#   idle      the address moves back with no traffic: the Intermediate
#             hears from the new address within 15 s (at once when the agent
#             reacts, rather than at its 10 s keepalive). Prints the time.
#   flap      eth0 down, 1 s, up, default route back: pings resume within
#             15 s of the link coming back. Prints the outage.
#   status    `ztna status --json` counts the changes and shows the last.
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
# shellcheck source=roam_lib.sh
source tests/netns/roam_lib.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

zt_env_up || { fail "environment"; exit 1; }
zt_roam_prepare || { fail "promote_secondaries"; exit 1; }
A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 || { fail "tunnel up before the change"; exit 1; }

# ---- address: a new address under a download and a ping stream
want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
zt_bg curl "$ZT_NS_A" curl -sS --max-time 90 --limit-rate 4M -o "$ZT_WORK/blob.got" \
  -w '%{size_download} bytes in %{time_total} s' "http://$WEB_VIP:8080/blob"
zt_ping_stream pings 1000 # 20 s
sleep 2
t0=$(date +%s.%N)
zt_roam_move_address 10.10.1.2 10.10.1.3 || fail "address change" "ip failed"
zt_wait_log agent "network changed (addr removed 10.10.1.2" 5 &&
  grep -q "network changed (.*-> 10.10.1.3:[0-9]*: migrate" "$ZT_WORK/agent.log" &&
  pass "agent saw the change and migrated ($(grep -o 'network changed (addr removed 10.10.1.2.*' "$ZT_WORK/agent.log" | head -n1))" ||
  fail "agent migrated" "$(grep 'network changed' "$ZT_WORK/agent.log" | tail -n 3)"
zt_wait_log intermediate "agent alice moved to 198.51.100.2" 10 &&
  pass "intermediate saw the agent move" || fail "intermediate saw the move"
for _ in $(seq 150); do # up to 15 s for a reply after the change
  read -r gap n < <(zt_ping_gap pings "$t0")
  [ "$n" -gt 0 ] && break
  sleep 0.1
done
if [ "$n" -gt 0 ] && [ "$gap" -lt 15000 ]; then
  pass "address change: pings resumed, outage ${gap} ms"
else
  fail "address change: pings resumed" "gap ${gap} ms, ${n} replies after the change"
fi
curl_pid=$(cat "$ZT_WORK/pids/curl")
for _ in $(seq 900); do # the download's own --max-time bounds it
  kill -0 "$curl_pid" 2>/dev/null || break
  sleep 0.1
done
if zt_stop curl; then
  got=$(sha256sum <"$ZT_WORK/blob.got" | cut -d' ' -f1)
  [ "$got" = "$want" ] && pass "download across the change intact ($(cat "$ZT_WORK/curl.log"))" ||
    fail "download intact" "sha256 $got != $want"
else
  fail "download across the change" "curl: $(cat "$ZT_WORK/curl.log")"
fi
zt_stop pings
read -r gap n < <(zt_ping_gap pings "$t0")
echo "address change: longest gap after the change ${gap} ms over ${n} replies"

# ---- idle: the address moves back with nothing in the tunnel; only the
# agent's reaction tells the Intermediate (else its keepalive, up to 10 s)
sleep 1
ms=$(zt_roam_idle_move 10.10.1.3 10.10.1.2)
if [ "$ms" -ge 0 ]; then
  pass "idle address change: the intermediate saw the agent move after ${ms} ms"
else
  fail "idle address change" "the intermediate did not see the agent move within 15 s"
fi

# ---- flap: the link down for a second and up again
zt_ping_stream pings2 1500 # 30 s, stopped below: outlives the 15 s wait
sleep 1
tdown=$(date +%s.%N)
zt_roam_flap 1 || fail "link flap" "ip failed"
t1=$(date +%s.%N)
for _ in $(seq 150); do
  read -r _ n < <(zt_ping_gap pings2 "$t1")
  [ "$n" -gt 0 ] && break
  sleep 0.1
done
read -r gap _ < <(zt_ping_gap pings2 "$tdown")
first=$(awk -v after="$t1" '/bytes from/ { t = substr($1, 2, length($1) - 2) + 0
  if (t > after) { printf "%d\n", (t - after) * 1000; exit } }' "$ZT_WORK/pings2.log")
if [ "$n" -gt 0 ] && [ "$gap" -lt 15000 ]; then
  pass "link flap: pings resumed ${first} ms after the link and route came back (longest silence ${gap} ms, link down 1 s of it)"
else
  fail "link flap: pings resumed" "${n} replies after the link came back"
fi
zt_stop pings2
grep 'network changed' "$ZT_WORK/agent.log" | tail -n 3 | sed 's/^/  agent: /'

# ---- status
js=$(A "$ZT_BIN/ztna" status --json --socket "$ZT_WORK/agent.sock" 2>&1)
if "$ZT_PY" - "$js" <<'PY'; then
import json, sys
r = json.loads(sys.argv[1])["counters"]["roaming"]
assert r["changes"] >= 2, r
assert r["migrations"] >= 1, r
assert r["last_change"]["what"], r
print("  roaming:", json.dumps(r))
PY
  pass "status counts the changes"
else
  fail "status" "$js"
fi
human=$(A "$ZT_BIN/ztna" status --socket "$ZT_WORK/agent.sock" 2>&1)
grep -q "^roaming: [0-9]* network change(s): [1-9][0-9]* migration(s)" <<<"$human" &&
  pass "ztna status shows roaming ($(grep '^roaming:' <<<"$human"))" ||
  fail "ztna status roaming line" "$human"

zt_summary roaming
