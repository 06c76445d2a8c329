# shellcheck shell=bash
# A second Intermediate on lib.sh's topology, for tests/netns/
# multi_intermediate.sh and bench/outage_failover.sh. Sourced after
# ztna-env.sh and harness.sh.
#
#   RA ==== br0 (in I) ==== RC
#            | i2                      veth born in I2, peer in I, on br0
#           eth0 198.51.100.4          namespace I2: the second Intermediate
#
# Both Intermediates use the same certificate, CA and policy; each has its
# own state directory. The connector and the agent list both (the agent
# then uses one, the connector registers at both). Relay only
# (ZT_DIRECT=false): a direct session would not need the Intermediate, and
# the point is to measure the move of relayed traffic.

export ZT_NS_I2="zt-i2-$ZT_SUFFIX"

# Removes I2 (and with it the veth pair) after the harness's own cleanup.
_zt_multi_cleanup() {
  local rc=$?
  _zt_harness_cleanup
  [ -e "/run/netns/$ZT_NS_I2" ] && ip netns del "$ZT_NS_I2"
  exit $rc
}
trap _zt_multi_cleanup EXIT

_zt_multi_topology() {
  ip netns add "$ZT_NS_I2" || return 1
  ip -n "$ZT_NS_I2" link set lo up &&
    _zt_veth "$ZT_NS_I2" eth0 "$ZT_NS_I" i2 &&
    ip -n "$ZT_NS_I" link set i2 master br0 &&
    ip -n "$ZT_NS_I" link set i2 up &&
    _zt_addr "$ZT_NS_I2" eth0 198.51.100.4/24
}

zt_start_intermediate2() {
  zt_bg intermediate2 "$ZT_NS_I2" "$ZT_BIN/ztna-intermediate" \
    --config "$ZT_WORK/intermediate2.json" \
    --control-socket "$ZT_WORK/intermediate2.sock"
}

# Everything up: both Intermediates, the connector registered at both, the
# agent using one of them with its route in place.
zt_multi_up() {
  ZT_DIRECT=false
  zt_env_init
  zt_topology_up || return 1
  _zt_multi_topology || { echo "cannot build namespace I2" >&2; return 1; }
  zt_make_pki || return 1
  zt_write_configs || return 1
  sed -e 's|"listen": "0.0.0.0:4433"|"listen": "198.51.100.4:4433"|' \
    -e "s|\"state_dir\": \"$ZT_WORK/state\"|\"state_dir\": \"$ZT_WORK/state2\"|" \
    "$ZT_WORK/intermediate.json" >"$ZT_WORK/intermediate2.json"
  sed -i 's|"intermediate": "198.51.100.1:4433",|"intermediate": ["198.51.100.1:4433", "198.51.100.4:4433"],|' \
    "$ZT_WORK/connector.json" "$ZT_WORK/agent.json"
  zt_start_backends || return 1
  zt_start_intermediate
  zt_start_intermediate2
  zt_wait_log intermediate "listening on udp" || return 1
  zt_wait_log intermediate2 "listening on udp" || return 1
  zt_start_connector
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(grep -c 'service echo registered' "$ZT_WORK/connector.log" 2>/dev/null)" -ge 2 ] 2>/dev/null && break
    sleep 0.1
  done
  [ "$i" -lt 200 ] || { echo "connector not registered at both" >&2; return 1; }
  zt_start_agent
  zt_wait_log agent "using intermediate #" || return 1
  zt_wait_log agent "added route $ECHO_VIP" || return 1
}

# The index (0 or 1) of the Intermediate the agent uses now.
zt_multi_in_use() {
  grep -o 'using intermediate #[0-9]' "$ZT_WORK/agent.log" | tail -n1 | tr -dc 0-9
}

# Kills (SIGKILL) the Intermediate the agent uses: no CONNECTION_CLOSE,
# no stateless reset afterwards. Prints the other's index.
zt_multi_kill_in_use() {
  case "$(zt_multi_in_use)" in
  0) zt_stop intermediate KILL; echo 1 ;;
  1) zt_stop intermediate2 KILL; echo 0 ;;
  *) return 1 ;;
  esac
}

# zt_ping_outage_ms LOG T: from the output of `ping -D`, the longest time
# in ms between two consecutive replies, the later one after T (epoch
# seconds, fractional): the outage of a failure at T. Nothing unless
# replies kept coming for at least 0.5 s after that gap (the traffic is
# back, not merely a reply that was in flight at T). Call it after the
# move, with pings still running.
zt_ping_outage_ms() {
  awk -v t="$2" '
    /bytes from/ {
      ts = substr($1, 2, length($1) - 2) + 0
      if (ts > t && prev && ts - prev > gap) { gap = ts - prev; end = ts }
      prev = ts
    }
    END { if (gap && prev - end >= 0.5) printf "%d\n", gap * 1000 }' "$1"
}
