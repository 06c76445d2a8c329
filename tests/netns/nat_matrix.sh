#!/usr/bin/env bash
# Direct agent<->connector paths (UDP hole punching) through a matrix of
# NATs, in lib.sh's namespace topology plus an outsider X on the "internet"
# (ZT_OUTSIDER=1). RA and RC keep their stateful firewalls throughout
# (inbound on wan: only ct state established,related); what changes from
# layout to layout is their mapping, set with zt_router_set:
#   eim  plain masquerade: endpoint-independent mapping (Linux keeps the
#        source port), address-and-port-dependent filtering (the firewall)
#   edm  masquerade random,fully-random: a fresh port per destination
#   fwd  eim plus a UDP port forward of 4500 to the connector, whose
#        p2p_listen is 0.0.0.0:4500: a fixed public port, as an operator
#        would publish it
# Each layout restarts agent and connector (the routers' conntrack is
# flushed, so no mapping survives) and opens the session with a ping; the
# Intermediate and the backends run throughout. Every case asserts the path
# `ztna status --json` reports for the AGENT's session and that traffic
# flows through the tunnel.
#
#   1  agent eim, connector fwd (public p2p port)      direct
#   7  (same layout) forged and replayed probes from X: counted and dropped
#      by the receiver, path and remote unchanged
#   2  both eim                                         direct
#   5  (same layout) the direct path cut mid-transfer: relay, transfer
#      intact, back to direct once the cut is lifted; pings lost counted
#   6  (same layout) the Intermediate killed while direct: traffic goes
#      on; restarted: both uplinks up again
#   3  both edm                                         relay
#   4  agent edm, connector eim                         relay
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
export ZT_OUTSIDER=1
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh

# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
X() { ip netns exec "$ZT_NS_X" "$@"; }
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent
for t in tcpdump conntrack curl; do
  command -v "$t" >/dev/null || { echo "nat_matrix: needs $t (scripts/deps.sh)" >&2; exit 1; }
done

RA_PUB=198.51.100.2
RC_PUB=198.51.100.3
P2P_PORT=4500
FORGE="$ZT_ROOT/tests/netns/forge_probes.py"
PROBE_FILTER='udp and udp[8] = 0xc0 and udp[9:4] = 0x7a747031'

# ---- status --------------------------------------------------------------
status_json() { # agent|connector|intermediate: its status JSON, nothing when unreachable
  local ns=$ZT_NS_A
  [ "$1" = connector ] && ns=$ZT_NS_C
  [ "$1" = intermediate ] && ns=$ZT_NS_I
  ip netns exec "$ns" timeout 3 "$ZT_BIN/ztna" status --json \
    --socket "$ZT_WORK/$1.sock" 2>/dev/null
}

# q DAEMON EXPR...: each Python EXPR evaluated against the daemon's status,
# one line each, "?" when it cannot be (no status, no session, no field).
#   d  the whole status      u  d["uplink"]
#   s  the session: the ready one on a direct path if any, else the last
#      ready one (the connector may still list an older agent's)
#   c  counters.direct
q() {
  local who=$1
  shift
  status_json "$who" | "$ZT_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    d = {}
ready = [x for x in d.get("sessions", []) if x.get("state") == "ready"]
direct = [x for x in ready if x.get("path") == "direct"]
s = (direct or ready or [{}])[-1]
u = d.get("uplink", {})
c = d.get("counters", {}).get("direct", {})
for e in sys.argv[1:]:
    try:
        v = eval(e)
    except Exception:
        v = None
    print("?" if v is None else v)
' "$@"
}

# wait_path DAEMON WANT SECONDS: polls the session's path (about 4 times
# a second) until it is WANT, for at most SECONDS; the last one seen is in
# $last_path.
last_path=""
wait_path() {
  local end=$((SECONDS + $3))
  while :; do
    last_path=$(q "$1" 's["path"]')
    [ "$last_path" = "$2" ] && return 0
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.25
  done
}

# stays_path DAEMON WANT SECONDS: the path is WANT at every look (about
# twice a second) for SECONDS; otherwise the offending one is in $last_path.
stays_path() {
  local end=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$end" ]; do
    last_path=$(q "$1" 's["path"]')
    [ "$last_path" = "$2" ] || return 1
    sleep 0.5
  done
}

# ---- traffic ---------------------------------------------------------------
WANT_SMALL="" WANT_BLOB=""
# traffic LABEL: pings answered by the backend and a 2 MB file whose
# sha256 matches, through the tunnel.
traffic() {
  local got
  if ! A ping -n -q -c 3 -i 0.2 -W 2 "$WEB_VIP" >"$ZT_WORK/ping.out" 2>&1; then
    fail "$1: traffic" "ping $WEB_VIP: $(tail -n 2 "$ZT_WORK/ping.out" | tr '\n' ' ')"
    return 1
  fi
  got=$(A curl -sS --max-time 30 "http://$WEB_VIP:8080/small" 2>&1 | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$WANT_SMALL" ]; then
    fail "$1: traffic" "curl of a 2 MB file: sha256 $got, want $WANT_SMALL"
    return 1
  fi
  pass "$1: traffic flows (3 pings, 2 MB over http, sha256 matches)"
}

ping_lost() { # FILE: transmitted - received, from ping's summary
  awk '/packets transmitted/ {print $1 - $4; f = 1} END {if (!f) print "?"}' "$1"
}

# ---- layouts ---------------------------------------------------------------
# layout NAME AGENT_NAT CONNECTOR_NAT: AGENT_NAT eim|edm, CONNECTOR_NAT
# eim|edm|fwd (fwd: eim with udp/4500 forwarded to the connector, which
# binds it as p2p_listen). Agent and connector are restarted (their old logs
# kept as NAME-before-LAYOUT.log) and the session is opened with pings.
cur_layout=""
layout() {
  local name=$1 ra=$2 rc=$3 d i
  echo
  echo "---- layout $name: agent behind $ra NAT, connector behind $rc NAT"
  for d in agent connector; do
    zt_stop "$d"
    [ -e "$ZT_WORK/$d.log" ] && mv "$ZT_WORK/$d.log" "$ZT_WORK/$d-$cur_layout.log"
  done
  cur_layout=$name
  zt_router_set "$ZT_NS_RA" "$ra" || return 1
  if [ "$rc" = fwd ]; then
    zt_router_set "$ZT_NS_RC" eim "$P2P_PORT:10.20.1.2" || return 1
  else
    zt_router_set "$ZT_NS_RC" "$rc" || return 1
  fi
  # Both sides with "direct": true spelled out (the default), the connector
  # with its fixed port only where RC forwards it.
  sed 's|"tun": "ztna0"|&, "direct": true|' "$ZT_WORK/agent.base.json" >"$ZT_WORK/agent.json"
  if [ "$rc" = fwd ]; then
    sed "s|\"tun\": \"ztna-c0\",|&\n  \"direct\": true, \"p2p_listen\": \"0.0.0.0:$P2P_PORT\",|" \
      "$ZT_WORK/connector.base.json" >"$ZT_WORK/connector.json"
  else
    sed 's|"tun": "ztna-c0",|&\n  "direct": true,|' \
      "$ZT_WORK/connector.base.json" >"$ZT_WORK/connector.json"
  fi
  if [ "$cur_layout" = case1 ]; then
    zt_bg capture "$ZT_NS_RA" tcpdump -n -U -i wan -w "$ZT_WORK/probes.pcap" "$PROBE_FILTER"
    zt_wait_log capture "listening on" 5 || return 1
  fi
  zt_start_connector
  zt_wait_log connector "service echo registered" || return 1
  zt_start_agent
  zt_wait_log agent "added route $ECHO_VIP" || return 1
  for ((i = 0; i < 10; i++)); do
    A ping -n -q -c 1 -W 1 "$WEB_VIP" >/dev/null 2>&1 && break
  done
  for ((i = 0; i < 20; i++)); do
    [ "$(q agent 's.get("state")')" = ready ] && return 0
    sleep 0.25
  done
  echo "layout $name: no ready session at the agent" >&2
  return 1
}

# expect_direct LABEL [WANT_REMOTE]: the agent's session goes direct within
# 10 s (and uses WANT_REMOTE, when given).
expect_direct() {
  local t0=$SECONDS remote
  if wait_path agent direct 10; then
    remote=$(q agent 's["remote"]')
    if [ -n "${2:-}" ] && [ "$remote" != "$2" ]; then
      fail "$1: direct" "direct, but to $remote, want $2"
    else
      pass "$1: direct after $((SECONDS - t0)) s (agent's remote $remote, connector's $(q connector 's["remote"]'))"
    fi
  else
    fail "$1: direct" "agent's session path is '$last_path' after 10 s, want direct (remote $(q agent 's["remote"]'))"
    return 1
  fi
}

# expect_relay LABEL: relay, and still relay 5 s later.
expect_relay() {
  if stays_path agent relay 5; then
    pass "$1: relay for 5 s (remote $(q agent 's["remote"]'), path_switches $(q agent 's["path_switches"]'))"
  else
    fail "$1: relay" "agent's session path is '$last_path', want relay throughout 5 s"
  fi
}

# ---- the direct path cut between the NATs' public addresses (case 5) -----
cut_on() { zt_direct_cut on; }
cut_off() { zt_direct_cut off; }

# ---- setup -----------------------------------------------------------------
zt_env_init
zt_topology_up || { fail topology; exit 1; }
zt_topology_check >/dev/null || { fail "topology check"; exit 1; }
if X ping -n -q -c 1 -W 1 198.51.100.1 >/dev/null 2>&1; then
  pass "topology: up, NAT firewalls closed, outsider X on the internet segment"
else
  fail "topology" "X cannot reach 198.51.100.1"
  exit 1
fi
zt_make_pki || { fail pki; exit 1; }
zt_write_configs
cp "$ZT_WORK/agent.json" "$ZT_WORK/agent.base.json"
cp "$ZT_WORK/connector.json" "$ZT_WORK/connector.base.json"
zt_start_backends || { fail backends; exit 1; }
head -c 2000000 /dev/urandom >"$ZT_WORK/www/small"
WANT_SMALL=$(sha256sum <"$ZT_WORK/www/small" | cut -d' ' -f1)
WANT_BLOB=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
zt_start_intermediate
zt_wait_log intermediate "listening on udp" || { fail start-intermediate; exit 1; }

# ---- case 1: connector with a public p2p port, agent behind EIM ----------
# RC forwards udp/4500 to the connector's p2p_listen; masquerade keeps the
# port, so the connector is at RC_PUB:4500 both as the Intermediate sees it
# and for anyone who sends there.
c1_direct=0
if layout case1 eim fwd; then
  pass "case 1: layout up (tcpdump on RA's wan capturing probes for case 7)"
  expect_direct "case 1 (public connector port, agent EIM)" "$RC_PUB:$P2P_PORT" && c1_direct=1
  traffic "case 1"
else
  fail "case 1: layout"
fi

# ---- case 7: forged and replayed probes from X ---------------------------
# Targets from the status: the agent's remote is the connector's public
# address (RC_PUB:4500, forwarded: X reaches it from its own address), the
# connector's remote the agent's NAT mapping. RA's firewall lets in only
# what comes from RC_PUB:4500 on that mapping, so to reach the agent X
# forges that source too (a raw socket): an off-path attacker who knows the
# 4-tuple. The probe's authentication must not depend on the source either
# way. Kinds sent to each side: "random" (the probe header, then random
# bytes: malformed, or an unknown session when the receiver looks up the
# dst_key first, as zt_probe_dst_key allows), "unknown" (well-formed,
# random dst_key: no such session), "badtag" (the receiver's real dst_key
# from the capture, random tag: bad authentication); then every captured
# probe replayed to its destination (caught by the replay window).
# A direct path that carries traffic sends no probes of its own: a few
# `ztna ping`s put a PING to the connector and a PONG to the agent on the
# wire for the capture.
A "$ZT_BIN/ztna" ping -c 3 -i 0.1 --control-socket "$ZT_WORK/agent.sock" web >/dev/null 2>&1
sleep 0.3
zt_stop capture INT
if [ "$cur_layout" != case1 ] || [ "$c1_direct" != 1 ]; then
  fail "case 7: forged and replayed probes" "needs case 1's direct session (path '$last_path'): not run"
else
  "$ZT_PY" "$FORGE" keys "$ZT_WORK/probes.pcap" >"$ZT_WORK/probes.txt" 2>&1
  echo "case 7: $(wc -l <"$ZT_WORK/probes.txt") probes captured on RA's wan"
  read -r a_remote a_path a_sw < <(q agent 's["remote"]' 's["path"]' 's["path_switches"]' | paste -sd' ')
  read -r c_remote c_path c_sw < <(q connector 's["remote"]' 's["path"]' 's["path_switches"]' | paste -sd' ')
  # The receivers' key ids: what probes to each side carried.
  c_key=$(awk -v d="$a_remote" '$2 == d {print $4; exit}' "$ZT_WORK/probes.txt")
  a_key=$(awk -v d="$c_remote" '$2 == d {print $4; exit}' "$ZT_WORK/probes.txt")
  counters() { # DAEMON: malformed unknown_session bad_auth replayed
    q "$1" 'c["probe_malformed"]' 'c["probe_unknown_session"]' 'c["probe_bad_auth"]' \
      'c["probe_replayed"]' | paste -sd' '
  }
  c_before=$(counters connector) a_before=$(counters agent)
  # (a) forged
  for kind in random unknown badtag; do
    if [ "$kind" != badtag ] || [ -n "$c_key" ]; then
      X "$ZT_PY" "$FORGE" forge "$kind" "$a_remote" 20 --key "${c_key:-00000000}" >/dev/null
    fi
    if [ "$kind" != badtag ] || [ -n "$a_key" ]; then
      X "$ZT_PY" "$FORGE" forge "$kind" "$c_remote" 20 --key "${a_key:-00000000}" \
        --spoof "$a_remote" >/dev/null
    fi
  done
  sleep 0.5
  c_mid=$(counters connector) a_mid=$(counters agent)
  # (b) replayed
  n_c=$(X "$ZT_PY" "$FORGE" replay "$ZT_WORK/probes.pcap" "${a_remote%:*}")
  n_a=$(X "$ZT_PY" "$FORGE" replay "$ZT_WORK/probes.pcap" "${c_remote%:*}" --spoof)
  sleep 0.5
  c_after=$(counters connector) a_after=$(counters agent)
  # verdict WHO BEFORE MID AFTER REPLAYS_SENT KEY_KNOWN
  verdict() {
    "$ZT_PY" - "$@" <<'EOF'
import sys
who, b, m, a, sent, key = sys.argv[1:7]
try:
    b, m, a = ([int(x) for x in v.split()] for v in (b, m, a))
except ValueError:
    print("7a FAIL %s: no counters.direct in its status (%s / %s / %s)" % (who, sys.argv[2], sys.argv[3], sys.argv[4]))
    print("7b FAIL %s: no counters.direct in its status" % who)
    sys.exit()
d = [m[i] - b[i] for i in range(3)]
# Malformed is reported, not required: random bytes count as malformed or
# as an unknown session depending on which the receiver checks first.
bad = [n for n, x in zip(("probe_unknown_session", "probe_bad_auth"), d[1:]) if x <= 0]
msg = "%s: forged probes: probe_malformed +%d, probe_unknown_session +%d, probe_bad_auth +%d" % (
    who, d[0], d[1], d[2])
if not key:
    msg += " (no probe to it captured, so no real key id: no bad-tag probes sent)"
print("7a %s %s%s" % ("FAIL" if bad else "PASS", msg, " (not counted: %s)" % ", ".join(bad) if bad else ""))
r = a[3] - m[3]
if int(sent) == 0:
    print("7b FAIL %s: no captured probe addressed to it, nothing to replay" % who)
else:
    print("7b %s %s: %s replayed probes, probe_replayed +%d" % ("PASS" if r > 0 else "FAIL", who, sent, r))
EOF
  }
  while read -r tag result rest; do
    if [ "$result" = PASS ]; then pass "case $tag: $rest"; else fail "case $tag" "$rest"; fi
  done < <(verdict connector "$c_before" "$c_mid" "$c_after" "${n_c:-0}" "$c_key"
    verdict agent "$a_before" "$a_mid" "$a_after" "${n_a:-0}" "$a_key")
  read -r a_remote2 a_path2 a_sw2 < <(q agent 's["remote"]' 's["path"]' 's["path_switches"]' | paste -sd' ')
  read -r c_remote2 c_path2 c_sw2 < <(q connector 's["remote"]' 's["path"]' 's["path_switches"]' | paste -sd' ')
  if [ "$a_remote2 $a_path2 $a_sw2" = "$a_remote $a_path $a_sw" ] &&
    [ "$c_remote2 $c_path2 $c_sw2" = "$c_remote $c_path $c_sw" ]; then
    pass "case 7: agent still $a_path2 to $a_remote2, connector $c_path2 to $c_remote2, no path switch"
  else
    fail "case 7: path unchanged" "agent $a_path $a_remote ($a_sw switches) -> $a_path2 $a_remote2 ($a_sw2); connector $c_path $c_remote ($c_sw) -> $c_path2 $c_remote2 ($c_sw2)"
  fi
  traffic "case 7"
fi

# ---- case 2: both behind EIM NAT -----------------------------------------
# No fixed port anywhere: only simultaneous probing opens both firewalls
# (each side's outgoing probe makes the conntrack entry the other's
# incoming one matches).
if layout case2 eim eim; then
  expect_direct "case 2 (both EIM)"
  traffic "case 2"
else
  fail "case 2: layout"
fi

# ---- case 5: the direct path cut mid-transfer ----------------------------
if [ "$cur_layout" != case2 ] || ! wait_path agent direct 10; then
  fail "case 5: direct path cut" "needs a direct session to cut (path '$last_path'): not run"
else
  rm -f "$ZT_WORK/blob.got"
  # 20 MB at 2 MB/s: ten seconds, the cut lands in the middle.
  A curl -sS --max-time 60 --limit-rate 2M -o "$ZT_WORK/blob.got" \
    "http://$WEB_VIP:8080/blob" >"$ZT_WORK/curl5.out" 2>&1 &
  curl_pid=$!
  ip netns exec "$ZT_NS_A" ping -n -i 0.05 -W 1 -w 60 "$WEB_VIP" >"$ZT_WORK/ping5a.out" 2>&1 &
  ping_pid=$!
  sleep 1.5
  sw_before=$(q agent 's["path_switches"]')
  t0=$SECONDS
  if ! cut_on; then
    fail "case 5: cut" "nft on RA failed"
  elif wait_path agent relay 10; then
    pass "case 5: cut -> relay after $((SECONDS - t0)) s (path_switches $sw_before -> $(q agent 's["path_switches"]'), reason '$(q agent 's["last_switch_reason"]')')"
  else
    fail "case 5: cut" "agent's session still '$last_path' 10 s after the cut, want relay"
  fi
  sleep 1
  kill -INT "$ping_pid" 2>/dev/null
  wait "$ping_pid"
  echo "pings lost around switch to relay: $(ping_lost "$ZT_WORK/ping5a.out") ($(grep 'packets transmitted' "$ZT_WORK/ping5a.out"))"
  if wait "$curl_pid" && [ "$(sha256sum <"$ZT_WORK/blob.got" | cut -d' ' -f1)" = "$WANT_BLOB" ]; then
    pass "case 5: 20 MB transfer across the switch completed, sha256 matches"
  else
    fail "case 5: transfer" "$(cat "$ZT_WORK/curl5.out") size $(stat -c %s "$ZT_WORK/blob.got" 2>/dev/null)"
    for who in agent connector intermediate; do # what each end thought then
      echo "---- $who status at the failure"
      status_json "$who"
      echo
    done
  fi
  rm -f "$ZT_WORK/blob.got"
  ip netns exec "$ZT_NS_A" ping -n -i 0.05 -W 1 -w 60 "$WEB_VIP" >"$ZT_WORK/ping5b.out" 2>&1 &
  ping_pid=$!
  sleep 1
  cut_off
  t0=$SECONDS
  if wait_path agent direct 15; then
    pass "case 5: cut lifted -> direct again after $((SECONDS - t0)) s (remote $(q agent 's["remote"]'))"
  else
    fail "case 5: recovery" "agent's session still '$last_path' 15 s after the cut was lifted, want direct"
  fi
  sleep 1
  kill -INT "$ping_pid" 2>/dev/null
  wait "$ping_pid"
  echo "pings lost around switch back to direct: $(ping_lost "$ZT_WORK/ping5b.out") ($(grep 'packets transmitted' "$ZT_WORK/ping5b.out"))"
fi
ip netns exec "$ZT_NS_RA" nft delete table inet ztcut 2>/dev/null

# ---- case 6: the Intermediate killed while direct ------------------------
# Runs on whatever path the session has (so that the restart half is
# checked on a relay-only build too); only a direct path can carry the
# pings while the Intermediate is down.
if [ "$cur_layout" = case2 ]; then
  wait_path agent direct 10
  path6=$last_path
  a_conn=$(q agent 'u["connects"]') c_conn=$(q connector 'u["connects"]')
  [[ $a_conn =~ ^[0-9]+$ ]] || a_conn=0
  [[ $c_conn =~ ^[0-9]+$ ]] || c_conn=0
  zt_stop intermediate KILL
  mv "$ZT_WORK/intermediate.log" "$ZT_WORK/intermediate-1.log"
  ok=$(A ping -n -q -c 40 -i 0.1 -W 1 "$WEB_VIP" 2>&1 | awk '/packets transmitted/ {print $4}')
  if [ "$path6" = direct ] && [ "${ok:-0}" -ge 32 ]; then
    pass "case 6: Intermediate down, direct session: ${ok}/40 pings answered"
  else
    fail "case 6: Intermediate down" "${ok:-0}/40 pings answered (want >= 32), session path was '$path6', want direct"
  fi
  zt_start_intermediate
  zt_wait_log intermediate "listening on udp" || fail "case 6: Intermediate restart"
  up=0
  for ((i = 0; i < 120; i++)); do
    read -r as ac < <(q agent 'u["state"]' 'u["connects"]' | paste -sd' ')
    read -r cs cc < <(q connector 'u["state"]' 'u["connects"]' | paste -sd' ')
    if [ "$as" = up ] && [ "$cs" = up ] && [ "$ac" != "?" ] && [ "$cc" != "?" ] &&
      [ "$ac" -gt "$a_conn" ] && [ "$cc" -gt "$c_conn" ]; then
      up=1
      break
    fi
    sleep 0.25
  done
  if [ "$up" = 1 ]; then
    pass "case 6: Intermediate restarted: agent and connector uplinks up again after $((i / 4)) s (connects $a_conn -> $ac, $c_conn -> $cc)"
  else
    fail "case 6: uplinks" "30 s after the restart: agent $as (connects $a_conn -> $ac), connector $cs ($c_conn -> $cc)"
  fi
  for ((i = 0; i < 10; i++)); do # a new session, if the old one went with its channel
    A ping -n -q -c 1 -W 1 "$WEB_VIP" >/dev/null 2>&1 && break
  done
  traffic "case 6"
else
  fail "case 6: Intermediate killed" "needs case 2's layout: not run"
fi

# ---- case 3: both behind endpoint-dependent NAT --------------------------
# Every destination gets a fresh port on both sides: the addresses each
# learns from the Intermediate are not the ones the other's probes would
# arrive from, and both firewalls drop what they do not expect.
if layout case3 edm edm; then
  expect_relay "case 3 (both EDM)"
  traffic "case 3"
else
  fail "case 3: layout"
fi

# ---- case 4: agent EDM, connector EIM ------------------------------------
# Relay, even though one side's mapping is endpoint-independent. The
# connector's probes go to the agent's mapping toward the Intermediate,
# RA_PUB:x: RA only lets in replies from the Intermediate there. The
# agent's probes to RC_PUB:q (the connector's stable mapping) leave RA from
# a fresh random port y; RC's stateful firewall filters by address AND
# port: its conntrack holds the connector's flows to the Intermediate and
# to RA_PUB:x, never to RA_PUB:y, so RC drops them. Nothing ever arrives in
# either direction, no side learns the other's real mapping, and there is
# no port forward to fall back on. (Only a connector without such
# filtering, like case 1's forwarded port, would let an EDM agent in.)
if layout case4 edm eim; then
  expect_relay "case 4 (agent EDM, connector EIM)"
  traffic "case 4"
else
  fail "case 4: layout"
fi

# ---- shutdown ----------------------------------------------------------------
for d in agent connector intermediate; do
  zt_stop "$d" TERM || fail "$d exit status" "non-zero"
done
if [ "$BUILD" = build-san ] && grep -l "ERROR: AddressSanitizer\|runtime error:" "$ZT_WORK"/*.log; then
  fail "sanitizer reports"
fi

zt_summary nat_matrix
