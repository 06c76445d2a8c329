#!/usr/bin/env bash
# DNS inside the tunnel, with the real daemons of ztna-env.sh: dig on the
# agent's host asks the agent's DNS address (10.100.255.53, inside
# service_range, routed into the TUN device and answered by the agent
# itself from the services the Intermediate pushed).
#
#   a-web          web.ztna.internal A -> 10.100.0.1
#   a-echo         echo.ztna.internal A -> 10.100.0.2
#   case           WeB.ZTNA.internal A -> 10.100.0.1 (names are caseless)
#   edns           the same with dig's default EDNS0, and with +noedns
#   aaaa           web.ztna.internal AAAA: NOERROR, no answer
#   nxdomain       nosuch.ztna.internal: NXDOMAIN
#   refused        example.com: REFUSED (not a recursive resolver)
#   counters       the agent's status counts the queries by outcome
#   resolved       the agent left the host's resolver alone (dns_resolved
#                  false in the test config) and said where it answers
#
# BUILD=build|build-san picks the binaries. Exit status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
DNS_ADDR=10.100.255.53
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

if ! command -v dig >/dev/null; then
  skip dns "dig not installed (Debian package bind9-dnsutils, scripts/deps.sh)"
  zt_summary dns
fi
if ! zt_env_up; then
  fail start "the deployment did not come up"
  zt_summary dns
fi

# dig NAME [TYPE] [OPTION...]: dig's full answer from the agent's host,
# bounded (2 s a try, 3 tries).
q() {
  local name=$1 type=${2:-A}
  shift 2 2>/dev/null || shift
  ip netns exec "$ZT_NS_A" dig "@$DNS_ADDR" +time=5 +tries=1 "$@" "$name" "$type"
}
status_of() { grep -o 'status: [A-Z]*' <<<"$1" | head -n1 | cut -d' ' -f2; }
answer_of() { q "$@" +short | tr -d '\n'; }

check_a() { # TEST NAME WANT [OPTION...]
  local t=$1 name=$2 want=$3 got
  shift 3
  got=$(answer_of "$name" A "$@")
  if [ "$got" = "$want" ]; then pass "$t: $name -> $got"; else fail "$t" "$name -> '$got', want $want"; fi
}
check_status() { # TEST NAME TYPE WANT_STATUS WANT_ANSWERS
  local out st an
  out=$(q "$2" "$3")
  st=$(status_of "$out")
  an=$(grep -o 'ANSWER: [0-9]*' <<<"$out" | cut -d' ' -f2)
  if [ "$st" = "$4" ] && [ "$an" = "$5" ]; then
    pass "$1: $2 $3 -> $st, $an answer(s)"
  else
    fail "$1" "$2 $3 -> status '$st' answers '$an', want $4 and $5"
  fi
}

check_a a-web web.ztna.internal "$WEB_VIP"
check_a a-echo echo.ztna.internal "$ECHO_VIP"
check_a case WeB.ZTNA.internal "$WEB_VIP"
check_a edns-off web.ztna.internal "$WEB_VIP" +noedns
check_a edns-on web.ztna.internal "$WEB_VIP" +edns=0 +bufsize=4096
check_status aaaa web.ztna.internal AAAA NOERROR 0
check_status nxdomain nosuch.ztna.internal A NXDOMAIN 0
check_status refused example.com A REFUSED 0

# 8 queries: 5 answered, 1 no data, 1 NXDOMAIN, 1 REFUSED (dig retries
# nothing that was answered).
if zt_status agent; then
  line=$(grep 'dns ztna.internal at' "$ZT_WORK/agent.log" | tail -n1)
  if [[ "$line" == *"queries 8 answers 5 nxdomain 1 refused 1 other 1 malformed 0"* ]]; then
    pass "counters: ${line#*: }"
  else
    fail counters "status line '$line'"
  fi
else
  fail counters "no status from the agent"
fi

if grep -q "dns: answering ztna.internal at $DNS_ADDR:53 inside ztna0" "$ZT_WORK/agent.log" &&
  ! grep -q "systemd-resolved sends" "$ZT_WORK/agent.log"; then
  pass "resolved: host resolver untouched, the log says where DNS answers"
else
  fail resolved "$(grep 'dns:' "$ZT_WORK/agent.log")"
fi

zt_summary dns
