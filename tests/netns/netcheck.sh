#!/usr/bin/env bash
# `ztna netcheck` through the NATs of lib.sh's topology, against a real
# ztna-intermediate with a STUN port (3478 here, set in its config).
#
#   eim       behind RA's default masquerade (Linux keeps one mapping per
#             source port: endpoint-independent), netcheck from A reports
#             the NAT's public address 198.51.100.2, "endpoint-independent"
#             and a likely direct path, in text and in --json
#   edm       with RA's rule re-applied as ZT_NAT_MODE=edm (random,
#             fully-random: a mapping per destination), "endpoint-dependent"
#             and no likely direct path
#   unknown   with a STUN port nobody listens on, the mapping is "unknown"
#             and the exit status still 0 (the main port answered)
#   down      no Intermediate at all: exit status 1
#   counted   the Intermediate's status counts the answers
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh

# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
STUN_PORT=3478
zt_need_bins ztna ztna-intermediate

netcheck() { # ARGS...: ztna netcheck from the agent's host A
  A timeout 20 "$ZT_BIN/ztna" netcheck --intermediate 198.51.100.1:4433 \
    --timeout 2000 "$@"
}

zt_env_init
zt_topology_up || exit 1
zt_make_pki || exit 1
zt_write_configs
sed -i "s|\"listen\": \"0.0.0.0:4433\",|&\n  \"stun_port\": $STUN_PORT,|" "$ZT_WORK/intermediate.json"
zt_start_intermediate
zt_wait_log intermediate "stun on udp port $STUN_PORT" || exit 1

# eim: the default NAT.
out=$(netcheck --stun-port "$STUN_PORT" --json)
rc=$?
echo "eim: $out"
if [ $rc -eq 0 ] && grep -q '"mapping":"endpoint-independent"' <<<"$out" &&
  grep -q '"observed":"198.51.100.2:[0-9]*"' <<<"$out" &&
  grep -q '"direct_path_likely":true' <<<"$out"; then
  pass "eim (json)"
else
  fail "eim (json)" "rc $rc: $out"
fi
out=$(netcheck --stun-port "$STUN_PORT")
rc=$?
if [ $rc -eq 0 ] && grep -q '^observed address: 198.51.100.2:' <<<"$out" &&
  grep -q '^mapping: endpoint-independent$' <<<"$out" &&
  grep -q '^direct path likely: yes$' <<<"$out"; then
  pass "eim (text)"
else
  fail "eim (text)" "rc $rc: $out"
fi

# unknown: nothing on the STUN port asked.
out=$(netcheck --stun-port 3479 --json --timeout 2000) # the main port must answer in it
rc=$?
if [ $rc -eq 0 ] && grep -q '"mapping":"unknown"' <<<"$out" &&
  grep -q '"observed_stun_port":null' <<<"$out" &&
  grep -q '"direct_path_likely":null' <<<"$out"; then
  pass "unknown"
else
  fail "unknown" "rc $rc: $out"
fi

# edm: RA's masquerade re-applied with a random mapping per destination.
if ZT_NAT_MODE=edm _zt_router_up "$ZT_NS_RA"; then
  out=$(netcheck --stun-port "$STUN_PORT" --json)
  rc=$?
  echo "edm: $out"
  if [ $rc -eq 0 ] && grep -q '"mapping":"endpoint-dependent"' <<<"$out" &&
    grep -q '"observed":"198.51.100.2:[0-9]*"' <<<"$out" &&
    grep -q '"direct_path_likely":false' <<<"$out"; then
    pass "edm"
  else
    fail "edm" "rc $rc: $out"
  fi
else
  fail "edm" "cannot re-apply RA's rules"
fi

if zt_status intermediate &&
  grep -q 'stun: answered [1-9][0-9]* dropped 0' "$ZT_WORK/intermediate.log"; then
  pass "counted"
else
  fail "counted" "$(grep 'stun: answered' "$ZT_WORK/intermediate.log" | tail -1)"
fi

# down: nobody answers at all.
zt_stop intermediate
netcheck --stun-port "$STUN_PORT" --timeout 400 >/dev/null 2>&1
rc=$?
if [ $rc -eq 1 ]; then pass "down"; else fail "down" "exit status $rc, want 1"; fi

zt_summary netcheck
