# shellcheck shell=bash
# The test topology in network namespaces, with ip(8) and nft only.
# Sourced (by ztna-env.sh); callers may run with set -euo pipefail.
#
#   A ------------ RA ============ I ============ RC ------------ C ------ B
#   eth0        lan    wan       br0          wan    lan       eth0 eth1   eth0
#   10.10.1.2   .1/24  .2/24     198.51.100.1 .3/24  10.20.1.1  .2  10.30.0.1 10.30.0.2
#   (agent)     (NAT, firewall)  ("internet")  (NAT, firewall)  (connector) (backend)
#
# RA and RC masquerade out of wan and drop new connections coming in on it,
# like a home router: nothing on the "internet" can open a connection to A
# or C. ZT_NAT_MODE=edm makes the mapping random per destination (a
# symmetric NAT) instead of Linux's port-preserving default;
# zt_direct_cut on|off: on the agent's NAT router, drop UDP between the two
# NATs' public addresses (198.51.100.2 and .3), both ways: the direct path
# between agent and connector is cut, the Intermediate (.1) still reached.
# Inbound before conntrack, outbound after masquerade.
zt_direct_cut() {
  if [ "$1" = off ]; then
    ip netns exec "$ZT_NS_RA" nft delete table inet ztcut
    return
  fi
  ip netns exec "$ZT_NS_RA" nft -f - <<'EOF'
table inet ztcut {
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "wan" ip saddr 198.51.100.3 ip daddr 198.51.100.2 meta l4proto udp drop
  }
  chain post {
    type filter hook postrouting priority 110; policy accept;
    oifname "wan" ip saddr 198.51.100.2 ip daddr 198.51.100.3 meta l4proto udp drop
  }
}
EOF
}

# zt_router_set NS MODE [PORT:IP] re-applies one router's rules with its own
# mode and, optionally, a UDP port forward (a "public" port behind the NAT).
#
# ZT_OUTSIDER=1 adds a seventh namespace X, a host on the "internet" segment
# (198.51.100.9/24, eth0) that is neither party: an attacker's vantage point.
#
# ZT_DELAY_MS=N (unset: none) puts a delay box on the Intermediate's link
# only, so that relayed traffic pays 2*N ms more per round trip than traffic
# between the two NATs. I's address leaves br0 for a veth "srv" whose peer
# is in a seventh namespace D, where tests/tools/delayfwd (path in
# ZT_DELAYFWD, its output in ZT_DELAYFWD_LOG) bridges it to a port "dly"
# of br0, N ms each way (ZT_DELAY_ARGS: more delayfwd options, e.g. loss):
#
#   RA ==== br0 (I, no address) ==== RC     NAT to NAT: no delay
#            | dly
#           fwb D: delayfwd fwa <-> fwb      N ms each way
#           fwa
#            | srv 198.51.100.1 (I)         the Intermediate's address
#
# In I arp_ignore=1: the bridge must not answer ARP for srv's address with
# its own MAC (the frames would skip the delay).
#
# ZT_DELAY_AT=agent puts the same box on the agent's access link instead,
# between RA's wan and br0: everything the agent's side sends to the
# "internet" crosses it once, relayed or direct, to the Intermediate's
# address or to the other NAT. The same link with and without the tunnel
# (bench/lossy.sh): the relayed path crosses it once each way too.
#
#   RA wan ---- fwa D: delayfwd fwb ---- ra br0 (198.51.100.1, I) ==== RC
#
# SAFETY: nothing here touches the machine's own network namespace. Every
# command runs inside one of the six namespaces (ip -n NS / ip netns exec
# NS), and each veth pair is created from inside its first namespace with
# its peer placed directly into the second: no interface ever exists in the
# root namespace, so no `ip link set ... netns` of a name we did not create.
# `ip -n NS` fails, rather than falling back to the root namespace, when NS
# does not exist.
#
# Functions: zt_topology_up, zt_topology_down, zt_topology_check,
# zt_nsx NS CMD... (ip netns exec), zt_router_set.

ZT_SUFFIX=${ZT_SUFFIX:-$$}
export ZT_SUFFIX
export ZT_NS_A="zt-a-$ZT_SUFFIX"
export ZT_NS_RA="zt-ra-$ZT_SUFFIX"
export ZT_NS_I="zt-i-$ZT_SUFFIX"
export ZT_NS_RC="zt-rc-$ZT_SUFFIX"
export ZT_NS_C="zt-c-$ZT_SUFFIX"
export ZT_NS_B="zt-b-$ZT_SUFFIX"
export ZT_NS_X="zt-x-$ZT_SUFFIX"
export ZT_NS_D="zt-d-$ZT_SUFFIX" # only with ZT_DELAY_MS

zt_nsx() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# Teardown always looks for X too (it is skipped when it does not exist).
_zt_all_ns() {
  echo "$ZT_NS_A $ZT_NS_RA $ZT_NS_I $ZT_NS_RC $ZT_NS_C $ZT_NS_B $ZT_NS_X $ZT_NS_D"
}
_zt_built_ns() {
  echo "$ZT_NS_A $ZT_NS_RA $ZT_NS_I $ZT_NS_RC $ZT_NS_C $ZT_NS_B"
  [ "${ZT_OUTSIDER:-0}" = 1 ] && echo "$ZT_NS_X"
  [ -n "${ZT_DELAY_MS:-}" ] && echo "$ZT_NS_D"
  return 0
}

_zt_ns_exists() {
  [ -n "$1" ] && [ -e "/run/netns/$1" ]
}

# Runs a step; on failure says which one and returns 1. Every step of
# zt_topology_up goes through here and is followed by `|| return 1`: set -e
# does not apply inside a function called as `zt_topology_up || ...`.
_zt_step() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "lib.sh: failed: $*${out:+: $out}" >&2
    return 1
  fi
}

# _zt_veth NS1 IF1 NS2 IF2: a veth pair created inside NS1 with its peer
# born directly in NS2.
_zt_veth() {
  if ! _zt_ns_exists "$1" || ! _zt_ns_exists "$3"; then
    echo "lib.sh: veth $2/$4: namespace $1 or $3 missing" >&2
    return 1
  fi
  _zt_step ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
}

# _zt_addr NS IF CIDR: address and up.
_zt_addr() {
  _zt_step ip -n "$1" addr add "$3" dev "$2" &&
    _zt_step ip -n "$1" link set "$2" up
}

_zt_sysctl() { # NS KEY VALUE (key as a /proc/sys path under net/)
  _zt_step ip netns exec "$1" sh -c "echo $3 > /proc/sys/$2"
}

# The NAT router's rules: masquerade out of wan; stateful firewall on wan
# for both forwarded traffic and the router itself.
# _zt_router_rules [MODE [PORT:IP]]: MODE eim or edm (default $ZT_NAT_MODE,
# else eim); PORT:IP forwards UDP PORT arriving on wan to IP:PORT.
_zt_router_rules() {
  local mode=${1:-${ZT_NAT_MODE:-eim}} fwd=${2:-} flags="" dnat="" dnat_ok=""
  case "$mode" in
  edm) flags=" random,fully-random" ;;
  eim) ;;
  *)
    echo "lib.sh: NAT mode '$mode': expected eim or edm" >&2
    return 1
    ;;
  esac
  if [ -n "$fwd" ]; then
    if ! [[ "$fwd" =~ ^([0-9]+):([0-9.]+)$ ]]; then
      echo "lib.sh: port forward '$fwd': expected PORT:IP" >&2
      return 1
    fi
    dnat="iifname \"wan\" udp dport ${BASH_REMATCH[1]} dnat ip to ${BASH_REMATCH[2]}:${BASH_REMATCH[1]}"
    dnat_ok="iifname \"wan\" ct status dnat accept"
  fi
  cat <<EOF
table inet ztnat
delete table inet ztnat
table inet ztnat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    $dnat
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade$flags
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state established,related accept
    $dnat_ok
    iifname "wan" drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
EOF
}

_zt_router_up() { # NS [MODE [PORT:IP]]
  local rules
  rules=$(_zt_router_rules "${2:-}" "${3:-}") || return 1
  _zt_sysctl "$1" net/ipv4/ip_forward 1 || return 1
  if ! printf '%s\n' "$rules" | ip netns exec "$1" nft -f - >&2; then
    echo "lib.sh: nft rules in $1 failed" >&2
    return 1
  fi
}

# zt_router_set NS MODE [PORT:IP]: replaces router NS's rules (atomically)
# and forgets its connection tracking, so that no mapping made under the
# old rules survives (as if the router had rebooted).
zt_router_set() {
  _zt_router_up "$@" || return 1
  ip netns exec "$1" conntrack -F >/dev/null 2>&1 || true
}

# The delay box of ZT_DELAY_MS (see the header), forwarder running.
_zt_delay_box() {
  local d=$ZT_NS_D i
  if [ ! -x "${ZT_DELAYFWD:-}" ]; then
    echo "lib.sh: ZT_DELAY_MS needs ZT_DELAYFWD, the delayfwd binary (make)" >&2
    return 1
  fi
  # D speaks no IP at all: no IPv6 chatter on the bridged ports.
  _zt_sysctl "$d" net/ipv6/conf/all/disable_ipv6 1 || return 1
  _zt_sysctl "$d" net/ipv6/conf/default/disable_ipv6 1 || return 1
  if [ "${ZT_DELAY_AT:-intermediate}" = agent ]; then
    # fwa and fwb were made with the links (RA's wan, I's port ra).
    _zt_addr "$ZT_NS_I" br0 198.51.100.1/24 || return 1
  else
    _zt_sysctl "$ZT_NS_I" net/ipv4/conf/all/arp_ignore 1 || return 1
    _zt_veth "$ZT_NS_I" srv "$d" fwa || return 1
    _zt_veth "$d" fwb "$ZT_NS_I" dly || return 1
    _zt_step ip -n "$ZT_NS_I" link set dly master br0 || return 1
    _zt_step ip -n "$ZT_NS_I" link set dly up || return 1
    _zt_step ip -n "$ZT_NS_I" link set br0 up || return 1
    _zt_addr "$ZT_NS_I" srv 198.51.100.1/24 || return 1
  fi
  _zt_step ip -n "$d" link set fwa up || return 1
  _zt_step ip -n "$d" link set fwb up || return 1
  local log=${ZT_DELAYFWD_LOG:-/dev/null}
  # shellcheck disable=SC2086 # ZT_DELAY_ARGS: options, split on purpose
  ip netns exec "$d" timeout "${ZT_LIFETIME:-900}" "$ZT_DELAYFWD" --a fwa --b fwb \
    --delay-ms "$ZT_DELAY_MS" ${ZT_DELAY_ARGS:-} </dev/null >"$log" 2>&1 &
  if [ "$log" = /dev/null ]; then
    sleep 0.3
    return 0
  fi
  for ((i = 0; i < 50; i++)); do
    grep -q 'delayfwd: ready' "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "lib.sh: delayfwd did not start: $(cat "$log")" >&2
  return 1
}

_zt_topology_build() {
  local ns
  for ns in $(_zt_built_ns); do
    _zt_step ip netns add "$ns" || return 1
    _zt_step ip -n "$ns" link set lo up || return 1
  done

  # Links (each pair born across its two namespaces).
  _zt_veth "$ZT_NS_A" eth0 "$ZT_NS_RA" lan || return 1
  if [ -n "${ZT_DELAY_MS:-}" ] && [ "${ZT_DELAY_AT:-intermediate}" = agent ]; then
    _zt_veth "$ZT_NS_RA" wan "$ZT_NS_D" fwa || return 1
    _zt_veth "$ZT_NS_D" fwb "$ZT_NS_I" ra || return 1
  else
    _zt_veth "$ZT_NS_RA" wan "$ZT_NS_I" ra || return 1
  fi
  _zt_veth "$ZT_NS_RC" wan "$ZT_NS_I" rc || return 1
  _zt_veth "$ZT_NS_RC" lan "$ZT_NS_C" eth0 || return 1
  _zt_veth "$ZT_NS_C" eth1 "$ZT_NS_B" eth0 || return 1

  # I: the "internet", one broadcast segment.
  _zt_step ip -n "$ZT_NS_I" link add br0 type bridge || return 1
  _zt_step ip -n "$ZT_NS_I" link set ra master br0 || return 1
  _zt_step ip -n "$ZT_NS_I" link set rc master br0 || return 1
  _zt_step ip -n "$ZT_NS_I" link set ra up || return 1
  _zt_step ip -n "$ZT_NS_I" link set rc up || return 1
  if [ -n "${ZT_DELAY_MS:-}" ]; then
    _zt_delay_box || return 1
  else
    _zt_addr "$ZT_NS_I" br0 198.51.100.1/24 || return 1
  fi

  # X, the outsider on the "internet" (ZT_OUTSIDER=1 only).
  if [ "${ZT_OUTSIDER:-0}" = 1 ]; then
    _zt_veth "$ZT_NS_X" eth0 "$ZT_NS_I" x || return 1
    _zt_step ip -n "$ZT_NS_I" link set x master br0 || return 1
    _zt_step ip -n "$ZT_NS_I" link set x up || return 1
    _zt_addr "$ZT_NS_X" eth0 198.51.100.9/24 || return 1
  fi

  # A, the agent's host.
  _zt_addr "$ZT_NS_A" eth0 10.10.1.2/24 || return 1
  _zt_step ip -n "$ZT_NS_A" route add default via 10.10.1.1 || return 1

  # RA, the agent's NAT router.
  _zt_addr "$ZT_NS_RA" lan 10.10.1.1/24 || return 1
  _zt_addr "$ZT_NS_RA" wan 198.51.100.2/24 || return 1
  _zt_router_up "$ZT_NS_RA" || return 1

  # RC, the connector's NAT router.
  _zt_addr "$ZT_NS_RC" wan 198.51.100.3/24 || return 1
  _zt_addr "$ZT_NS_RC" lan 10.20.1.1/24 || return 1
  _zt_router_up "$ZT_NS_RC" || return 1

  # C, the connector's host, on its LAN and on the service LAN.
  _zt_addr "$ZT_NS_C" eth0 10.20.1.2/24 || return 1
  _zt_step ip -n "$ZT_NS_C" route add default via 10.20.1.1 || return 1
  _zt_addr "$ZT_NS_C" eth1 10.30.0.1/24 || return 1

  # B, the backend.
  _zt_addr "$ZT_NS_B" eth0 10.30.0.2/24 || return 1
  _zt_step ip -n "$ZT_NS_B" route add default via 10.30.0.1 || return 1
}

# Idempotent: leftovers of the same suffix go first. On failure, whatever
# was built is removed again.
zt_topology_up() {
  if ! command -v ip >/dev/null || ! command -v nft >/dev/null; then
    echo "lib.sh: needs ip (iproute2) and nft (nftables)" >&2
    return 1
  fi
  zt_topology_down
  if ! _zt_topology_build; then
    echo "lib.sh: topology $ZT_SUFFIX failed; removing it" >&2
    zt_topology_down
    return 1
  fi
}

# Never fails: namespaces already gone are fine. Processes still inside a
# namespace are killed first (an `ip netns del` would otherwise leave them
# running in a namespace nobody can name any more).
zt_topology_down() {
  local ns pids i
  for ns in $(_zt_all_ns); do
    _zt_ns_exists "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill $pids 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && break
        sleep 0.1
      done
      # shellcheck disable=SC2086
      [ -n "$pids" ] && { kill -KILL $pids 2>/dev/null || true; }
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
  return 0
}

_zt_ping() { # NS ADDR: up to three one-second tries
  local i
  for i in 1 2 3; do
    ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  return 1
}

# The Intermediate is reachable from both hosts through their NATs, and the
# NAT's firewall keeps the "internet" out: even with a route to the agent's
# LAN, I cannot reach A.
zt_topology_check() {
  local ok=0
  if _zt_ping "$ZT_NS_A" 198.51.100.1; then
    echo "topology: A reaches 198.51.100.1 through its NAT"
  else
    echo "topology: A cannot reach 198.51.100.1" >&2
    ok=1
  fi
  if _zt_ping "$ZT_NS_C" 198.51.100.1; then
    echo "topology: C reaches 198.51.100.1 through its NAT"
  else
    echo "topology: C cannot reach 198.51.100.1" >&2
    ok=1
  fi
  if _zt_ping "$ZT_NS_C" 10.30.0.2; then
    echo "topology: C reaches the backend 10.30.0.2"
  else
    echo "topology: C cannot reach 10.30.0.2" >&2
    ok=1
  fi
  # A route that no real internet would have, so that only the firewall
  # (not a missing route) can be what stops the ping.
  if ! ip -n "$ZT_NS_I" route add 10.10.1.0/24 via 198.51.100.2 2>/dev/null; then
    echo "topology: cannot add the probe route in $ZT_NS_I" >&2
    return 1
  fi
  if ip netns exec "$ZT_NS_I" ping -n -q -c 1 -W 1 10.10.1.2 >/dev/null 2>&1; then
    echo "topology: 10.10.1.2 is reachable from I: the NAT firewall is open" >&2
    ok=1
  else
    echo "topology: 10.10.1.2 is not reachable from I (firewalled)"
  fi
  ip -n "$ZT_NS_I" route del 10.10.1.0/24 via 198.51.100.2 2>/dev/null || true
  return $ok
}
