# shellcheck shell=bash
# Network changes on the agent's host A and the outage they cost, shared by
# tests/netns/roaming.sh and bench/outage_roaming.sh. Sourced after
# ztna-env.sh; every command runs inside the test's namespace A.

# zt_roam_prepare: lets a secondary address survive the removal of the
# primary one (by default the kernel deletes the secondaries with it).
zt_roam_prepare() {
  ip netns exec "$ZT_NS_A" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/eth0/promote_secondaries'
}

# zt_roam_move_address OLD NEW: A's address on eth0 changes from OLD to NEW
# (a /24 on the router's LAN), and the default route comes back: what a
# DHCP lease on another network looks like to the agent.
zt_roam_move_address() {
  ip -n "$ZT_NS_A" addr add "$2/24" dev eth0 &&
    ip -n "$ZT_NS_A" addr del "$1/24" dev eth0 &&
    ip -n "$ZT_NS_A" route replace default via 10.10.1.1
}

# zt_roam_flap SECONDS: eth0 down, SECONDS later up, default route back.
zt_roam_flap() {
  ip -n "$ZT_NS_A" link set eth0 down &&
    sleep "$1" &&
    ip -n "$ZT_NS_A" link set eth0 up &&
    ip -n "$ZT_NS_A" route replace default via 10.10.1.1
}

# zt_ping_stream NAME COUNT: COUNT pings every 20 ms to the web service in
# the background, with timestamps (ping -D), into $ZT_WORK/NAME.log.
zt_ping_stream() {
  zt_bg "$1" "$ZT_NS_A" ping -D -n -i 0.02 -W 1 -c "$2" "$WEB_VIP"
}

# zt_ping_gap NAME AFTER: the longest silence in ms between two replies of
# the stream NAME (or from AFTER, an epoch time in seconds with fraction,
# to its first reply), looking only at replies after AFTER's preceding
# reply. Prints "GAP_MS REPLIES_AFTER"; GAP_MS is -1 when no reply came
# after AFTER.
zt_ping_gap() {
  awk -v after="$2" '
    /bytes from/ {
      t = substr($1, 2, length($1) - 2) + 0
      if (t <= after) { last = t; next }
      n++
      if (last == "") last = after
      gap = (t - last) * 1000
      if (gap > max) max = gap
      last = t
    }
    END { if (n == 0) print -1, 0; else printf "%d %d\n", max, n }
  ' "$ZT_WORK/$1.log"
}

# zt_roam_idle_move OLD NEW: with no traffic through the tunnel, A's
# address moves; prints the ms until the Intermediate logs that the agent
# moved (it hears from the new address only when the agent sends: at once
# when the agent reacts to the change, else at its next keepalive, up to
# 10 s), or -1 after 15 s.
zt_roam_idle_move() {
  local before t0 i
  before=$(grep -c "agent alice moved to" "$ZT_WORK/intermediate.log")
  t0=$(date +%s%N)
  zt_roam_move_address "$1" "$2" || { echo -1; return 1; }
  for ((i = 0; i < 1500; i++)); do
    if [ "$(grep -c "agent alice moved to" "$ZT_WORK/intermediate.log")" -gt "$before" ]; then
      echo $((($(date +%s%N) - t0) / 1000000))
      return 0
    fi
    sleep 0.01
  done
  echo -1
}
