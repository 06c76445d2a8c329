#!/usr/bin/env bash
# Certificate rotation without downtime (docs/operations.md), with the real
# daemons and a ping through the tunnel running all along:
#
#   renew-im      `ztna cert renew` the Intermediate's certificate (new key,
#                 400 days), SIGHUP: its log names the new serial and expiry
#                 and `ztna status` shows them
#   renew-agent   the same for alice's certificate and her agent
#   live          alice's connection to the Intermediate is the one from
#                 before (the Intermediate still shows her old certificate's
#                 expiry): nothing was re-established
#   broken        a key that is not the certificate's, then an unreadable
#                 certificate, on SIGHUP: refused with the file and the
#                 reason, the serial in use unchanged
#   pings         the ping loop never stopped: every reply came back (or at
#                 most 2 lost of ~100), printed with the count
#   new-handshake a connector restarted now (after the pings: a restart is
#                 an outage of its own) is shown the Intermediate's new
#                 certificate (its uplink's cert_not_after is the new one)
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
t_start=$(date +%s)
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

zt_env_up || { fail setup "$(tail -n 5 "$ZT_WORK"/*.log)"; zt_summary rotate; }
P=$ZT_WORK/pki
Z=$ZT_BIN/ztna

# status_field NAME KEY[.KEY]: one field of the daemon's `ztna status --json`.
status_field() {
  ip netns exec "$ZT_NS_I" "$Z" status --json --socket "$ZT_WORK/$1.sock" 2>/dev/null |
    python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k) if v else None
print(v if v is not None else "")' "$2"
}
# peer_expiry NAME: the Intermediate's view of peer NAME's certificate.
peer_expiry() {
  ip netns exec "$ZT_NS_I" "$Z" status --json --socket "$ZT_WORK/intermediate.sock" 2>/dev/null |
    python3 -c 'import json,sys
print(next((p.get("cert_not_after") or "" for p in json.load(sys.stdin).get("peers",[]) if p.get("name")==sys.argv[1]),""))' "$1"
}
# The serial as the status writes it (hex bytes joined by ':', lower case).
file_serial() {
  openssl x509 -noout -serial -in "$1" | sed 's/^serial=//; s/../&:/g; s/:$//' | tr 'A-F' 'a-f'
}
# reload NAME: SIGHUP, then wait for the SIGHUP line that follows it.
reload() {
  local before
  before=$(grep -c 'SIGHUP: ' "$ZT_WORK/$1.log")
  kill -HUP "$(zt_daemon_pid "$1")"
  for _ in $(seq 50); do
    [ "$(grep -c 'SIGHUP: ' "$ZT_WORK/$1.log")" -gt "$before" ] && return 0
    sleep 0.1
  done
  return 1
}
last_sighup() { grep 'SIGHUP: ' "$ZT_WORK/$1.log" | tail -n1; }

# The ping loop: 0.2 s apart for the whole test (bounded: 150 = 30 s).
A ping -i 0.2 -c 150 -W 2 "$WEB_VIP" >"$ZT_WORK/ping.out" 2>&1 &
ping_pid=$!
sleep 1

# renew-im
im_old_serial=$(status_field intermediate cert_serial)
alice_old_expiry=$(peer_expiry alice)
"$Z" cert renew --ca-dir "$P" --days 400 "$P/intermediate.pem" >"$ZT_WORK/renew-im.out" 2>&1 ||
  fail renew-im "ztna cert renew: $(cat "$ZT_WORK/renew-im.out")"
want=$(file_serial "$P/intermediate.pem")
reload intermediate || fail renew-im "no SIGHUP line"
got=$(status_field intermediate cert_serial)
im_new_expiry=$(status_field intermediate cert_not_after)
if [ -n "$want" ] && [ "$got" = "$want" ] && [ "$got" != "$im_old_serial" ] &&
  last_sighup intermediate | grep -qF "cert $P/intermediate.pem reloaded: serial $want, expires $im_new_expiry"; then
  pass "renew-im: $(cat "$ZT_WORK/renew-im.out"); $(last_sighup intermediate | grep -o 'cert .*reloaded: [^;]*')"
else
  fail renew-im "status serial '$got' (old '$im_old_serial', file '$want'): $(last_sighup intermediate)"
fi
if ip netns exec "$ZT_NS_I" "$Z" status --socket "$ZT_WORK/intermediate.sock" 2>&1 | head -n1 | grep -qF "(serial $want)"; then
  pass "status-text: $(ip netns exec "$ZT_NS_I" "$Z" status --socket "$ZT_WORK/intermediate.sock" | head -n1)"
else
  fail status-text "$(ip netns exec "$ZT_NS_I" "$Z" status --socket "$ZT_WORK/intermediate.sock" 2>&1 | head -n1)"
fi

# renew-agent
a_old=$(status_field agent cert_serial)
"$Z" cert renew --ca-dir "$P" --days 300 "$P/alice.pem" >"$ZT_WORK/renew-a.out" 2>&1 ||
  fail renew-agent "ztna cert renew: $(cat "$ZT_WORK/renew-a.out")"
want=$(file_serial "$P/alice.pem")
reload agent || fail renew-agent "no SIGHUP line"
got=$(status_field agent cert_serial)
if [ "$got" = "$want" ] && [ "$got" != "$a_old" ] && last_sighup agent | grep -qF "reloaded: serial $want"; then
  pass "renew-agent: serial $a_old -> $got, expires $(status_field agent cert_not_after)"
else
  fail renew-agent "status serial '$got' (old '$a_old', file '$want'): $(last_sighup agent)"
fi

# live: the Intermediate still holds alice's connection made with her old
# certificate, and the agent's uplink was not re-established.
alice_expiry=$(peer_expiry alice)
if [ -n "$alice_old_expiry" ] && [ "$alice_expiry" = "$alice_old_expiry" ] &&
  ! grep -qiE 'uplink (down|lost)|reconnect' "$ZT_WORK/agent.log"; then
  pass "live: alice's connection is the one from before (her certificate there: until $alice_expiry)"
else
  fail live "alice's certificate at the Intermediate '$alice_expiry' (was '$alice_old_expiry'); agent log: $(grep -iE 'uplink|reconnect' "$ZT_WORK/agent.log" | tail -n 2)"
fi

# broken: another key; then no certificate file at all. Each: SIGHUP, the
# reason in the log, the serial in use unchanged.
serial=$(status_field intermediate cert_serial)
broken() { # NAME EXPECTED-LOG-TEXT
  reload intermediate
  local line
  line=$(last_sighup intermediate)
  if echo "$line" | grep -qF "$2; keeping the previous certificate" &&
    [ "$(status_field intermediate cert_serial)" = "$serial" ]; then
    pass "$1: $(echo "$line" | cut -c1-200)"
  else
    fail "$1" "$line; serial $(status_field intermediate cert_serial), want $serial"
  fi
}
cp "$P/intermediate.key" "$ZT_WORK/im.key.good"
cp "$P/conn-a.key" "$P/intermediate.key"
broken broken-key "cert $P/intermediate.pem and key $P/intermediate.key do not match"
cp "$ZT_WORK/im.key.good" "$P/intermediate.key"
mv "$P/intermediate.pem" "$ZT_WORK/im.pem.good"
broken broken-missing "cert $P/intermediate.pem: No such file or directory"
mv "$ZT_WORK/im.pem.good" "$P/intermediate.pem"

# pings: the loop ran through all of it.
wait "$ping_pid"
sent=$(grep -o '[0-9]* packets transmitted' "$ZT_WORK/ping.out" | cut -d' ' -f1)
recv=$(grep -o '[0-9]* received' "$ZT_WORK/ping.out" | cut -d' ' -f1)
if [ -n "$sent" ] && [ -n "$recv" ] && [ "$sent" -ge 100 ] && [ $((sent - recv)) -le 2 ]; then
  pass "pings: $recv of $sent answered through two reloads and two refused ones ($(tail -n1 "$ZT_WORK/ping.out"))"
else
  fail pings "$(tail -n 3 "$ZT_WORK/ping.out")"
fi

# new-handshake: a connector started now sees the new certificate. After
# the ping loop: a restarted connector is an outage of its own, not what
# the pings measure.
zt_stop connector
zt_start_connector
if zt_wait_log connector "service echo registered" 20; then
  got=$(status_field connector uplink.cert_not_after)
  if [ "$got" = "$im_new_expiry" ]; then
    pass "new-handshake: a connector connecting now is shown the Intermediate's new certificate (until $got)"
  else
    fail new-handshake "connector sees the Intermediate's certificate until '$got', want '$im_new_expiry'"
  fi
else
  fail new-handshake "connector did not come back: $(tail -n 3 "$ZT_WORK/connector.log")"
fi

echo "rotate: $(($(date +%s) - t_start)) s"
zt_summary rotate
