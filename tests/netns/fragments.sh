#!/usr/bin/env bash
# Datagrams bigger than the tunnel's MTU, in the namespaces of lib.sh with
# the daemons of ztna-env.sh. The agent's kernel fragments them for its TUN
# (MTU ZT_TUN_MTU); the connector reassembles them so its port rules see
# the whole datagram, and writes the datagram whole into its TUN, which the
# kernel forwards and fragments again for the backend's link.
#
#   echo-1300     1300-byte UDP echo: 20/20 intact (fits, no fragments)
#   echo-3000     3000-byte UDP echo: 20/20 intact, payload compared
#   echo-8000     8000-byte UDP echo: 20/20 intact
#   whole         the connector reassembled them and its TUN took every
#                 write longer than its MTU (no tun_write_errors)
#   denied-port   3000-byte datagrams to a port the echo service does not
#                 allow: none reaches a listener there on the backend (a
#                 counter of B's, shown to count by a positive control from
#                 the connector's host), and the connector counts them
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
A() { ip netns exec "$ZT_NS_A" "$@"; }
B() { ip netns exec "$ZT_NS_B" "$@"; }
C() { ip netns exec "$ZT_NS_C" "$@"; }
DENIED_PORT=9998 # on the echo backend; the echo service allows udp/9999 only
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

if ! zt_env_up; then
  fail start "the deployment did not come up"
  zt_summary fragments
fi

# B counts UDP datagrams for the denied port (input sees them reassembled)
# and runs a listener there, so only the policy can stop them.
B nft -f - <<NFT
table inet ztfrag {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $DENIED_PORT counter name denied
  }
  counter denied { }
}
NFT
zt_bg denied "$ZT_NS_B" "$ZT_PY" tests/netns/udp_echo.py server 10.30.0.3 "$DENIED_PORT" "$ZT_LIFETIME"
denied_count() { B nft list counter inet ztfrag denied | awk '/packets/ {print $2}'; }

# The session up: the first datagram opens it.
for _ in $(seq 20); do
  A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 warmup 1 >/dev/null && break
done

echo_size() { # NAME SIZE
  local out
  if out=$(A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" 9999 "frag-$2" 20 "$2"); then
    pass "$1 ($out)"
  else
    fail "$1" "$out"
  fi
}
echo_size echo-1300 1300
echo_size echo-3000 3000
echo_size echo-8000 8000

# From the connector's latest status: a field of its line "reasm:
# fragments F reassembled R not_allowed N ...", and the driver's
# tun_write_errors.
reasm_field() { # FIELD
  grep -o "reasm: .*" "$ZT_WORK/connector.log" | tail -n1 |
    awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'
}
tun_write_errors() {
  grep -o "tun_write_errors [0-9]*" "$ZT_WORK/connector.log" | tail -n1 | awk '{print $2}'
}
if zt_status connector; then
  r=$(reasm_field reassembled) e=$(tun_write_errors)
  if [ "${r:-0}" -ge 40 ] && [ "${e:-x}" = 0 ]; then
    pass "whole (reassembled $r datagrams, tun_write_errors $e)"
  else
    fail whole "reassembled ${r:-?}, tun_write_errors ${e:-?}"
  fi
else
  fail whole "no status from the connector"
fi

# Positive control: B's counter counts a fragmented datagram sent to the
# denied port from the connector's own host (no ztna on that path).
before=$(denied_count)
C "$ZT_PY" tests/netns/udp_echo.py client 10.30.0.3 "$DENIED_PORT" control 1 3000 >/dev/null
control=$(($(denied_count) - before))
na_before=$(reasm_field not_allowed)
before=$(denied_count)
A "$ZT_PY" tests/netns/udp_echo.py client "$ECHO_VIP" "$DENIED_PORT" denied 5 3000 >/dev/null
through=$(($(denied_count) - before))
zt_status connector
na=$(($(reasm_field not_allowed) - ${na_before:-0}))
if [ "$control" -ge 1 ] && [ "$through" = 0 ] && [ "$na" = 5 ]; then
  pass "denied-port (0 of 5 reached the backend, connector not_allowed +$na; control $control)"
else
  fail denied-port "through the tunnel $through, connector not_allowed +$na, control $control"
fi

# Allowed traffic still flows after the denied datagrams.
echo_size echo-3000-after 3000
zt_summary fragments
