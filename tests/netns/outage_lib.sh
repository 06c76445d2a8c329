# shellcheck shell=bash
# Measuring an outage through the tunnel, for tests/netns/recovery.sh and
# bench/outage.sh: pings from the agent's namespace every 20 ms, each reply
# stamped (ping -D); the outage is the longest gap between two consecutive
# replies while the fault happened. Sourced after ztna-env.sh.

# zt_outage_start NAME [ADDR]: pings ADDR (default $WEB_VIP) every 20 ms
# until zt_outage_stop NAME.
zt_outage_start() {
  zt_bg "ping-$1" "$ZT_NS_A" ping -D -n -i 0.02 -W 1 "${2:-$WEB_VIP}"
}

# zt_outage_stop NAME: stops the pings and prints the outage in ms (the
# longest gap between replies), or "none" if fewer than two replies came.
zt_outage_stop() {
  zt_stop "ping-$1" INT
  awk '/bytes from/ { t = substr($1, 2, length($1) - 2) * 1000;
         if (last && t - last > gap) gap = t - last; last = t; n++ }
       END { if (n < 2) print "none"; else printf "%d\n", gap }' \
    "$ZT_WORK/ping-$1.log"
}

zt_ms() { echo $(($(date +%s%N) / 1000000)); }
