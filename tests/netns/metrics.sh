#!/usr/bin/env bash
# Metrics and health endpoints (docs/operations.md) of the three daemons,
# scraped by a real Prometheus server.
#
# A monitoring namespace M gets a point-to-point link into the agent's,
# the Intermediate's and the connector's namespaces (10.99.N.0/30); each
# daemon has "metrics_listen" on its end of that link, Prometheus runs in M
# (1 s scrapes, its own TSDB in the test's work directory) and is asked
# through its HTTP API.
#
#   healthz/readyz   200 from all three once the deployment is up
#   not-found        an unknown path is 404
#   promtool         `promtool check metrics` accepts each daemon's page
#   up               Prometheus scrapes all three targets (up == 1)
#   relayed-bytes    ztna_intermediate_relay_bytes_total grew with traffic
#                    through the tunnel, as Prometheus stored it
#   sessions         ztna_intermediate_sessions and ztna_agent_sessions are
#                    1 in Prometheus
#   handshakes       the handshake histograms counted the outer handshakes
#   readyz-503       the agent answers 503 once its Intermediate is gone
#
# Without Prometheus (Debian package prometheus, scripts/deps.sh) the
# server parts SKIP. BUILD=build|build-san picks the binaries. Exit
# status: failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent

ZT_NS_M="zt-m-$ZT_SUFFIX"
PORT=9101
PROM=10.99.1.1:9090
M() { ip netns exec "$ZT_NS_M" "$@"; }

# The monitoring namespace goes with the others, on every exit path.
eval "$(declare -f zt_env_down | sed '1s/zt_env_down/_zt_env_down_base/')"
zt_env_down() {
  _zt_env_down_base
  if ip netns list | grep -qw "$ZT_NS_M"; then
    ip netns pids "$ZT_NS_M" 2>/dev/null | xargs -r kill 2>/dev/null
    sleep 0.2
    ip netns del "$ZT_NS_M" 2>/dev/null
  fi
}

# link N NS: veth M <-> NS, 10.99.N.1 in M and 10.99.N.2 in NS.
link() {
  ip -n "$ZT_NS_M" link add "mon$1" type veth peer name mon netns "$2" &&
    ip -n "$ZT_NS_M" addr add "10.99.$1.1/30" dev "mon$1" &&
    ip -n "$2" addr add "10.99.$1.2/30" dev mon &&
    ip -n "$ZT_NS_M" link set "mon$1" up && ip -n "$2" link set mon up
}

# with_metrics FILE N: "metrics_listen" on 10.99.N.2 in a daemon's config.
with_metrics() {
  "$ZT_PY" - "$1" "10.99.$2.2:$PORT" <<'EOF'
import json, sys
path, addr = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
cfg["metrics_listen"] = addr
json.dump(cfg, open(path, "w"), indent=1)
EOF
}

# get N PATH: "CODE BODY" of GET http://10.99.N.2:PORT/PATH from M.
get() {
  M curl -s --max-time 5 -w '\n%{http_code}' "http://10.99.$1.2:$PORT$2" |
    { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}

# Before the daemons start (zt_env_up's hook): the monitoring links and
# metrics_listen in each configuration.
monitoring() {
  ip netns add "$ZT_NS_M" && ip -n "$ZT_NS_M" link set lo up || return 1
  link 1 "$ZT_NS_A" && link 2 "$ZT_NS_I" && link 3 "$ZT_NS_C" || return 1
  with_metrics "$ZT_WORK/agent.json" 1 && with_metrics "$ZT_WORK/intermediate.json" 2 &&
    with_metrics "$ZT_WORK/connector.json" 3
}
# Relay only: the relayed-bytes counter must carry the test's traffic.
if ! ZT_DIRECT=false ZT_AFTER_CONFIGS=monitoring zt_env_up; then
  fail start "the deployment did not come up"
  zt_summary metrics
fi

names=([1]=agent [2]=intermediate [3]=connector)
for n in 1 2 3; do
  h=$(get $n /healthz) r=$(get $n /readyz)
  if [ "${h%% *}" = 200 ] && [ "${r%% *}" = 200 ]; then
    pass "healthz/readyz ${names[$n]}: $h, $r"
  else
    fail "healthz/readyz ${names[$n]}" "healthz '$h', readyz '$r'"
  fi
done
nf=$(get 2 /nosuch)
[ "${nf%% *}" = 404 ] && pass "not-found: /nosuch is 404" || fail not-found "/nosuch: '$nf'"

# Traffic first, so every counter family has been touched once.
A() { ip netns exec "$ZT_NS_A" "$@"; }
A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 || fail traffic "no ping through the tunnel"

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  skip promtool "promtool/prometheus not installed (Debian package prometheus, scripts/deps.sh)"
  skip prometheus "prometheus not installed"
  zt_summary metrics
fi

for n in 1 2 3; do
  M curl -s --max-time 5 "http://10.99.$n.2:$PORT/metrics" >"$ZT_WORK/metrics.$n"
  fams=$(grep -c '^# TYPE' "$ZT_WORK/metrics.$n")
  if out=$(promtool check metrics <"$ZT_WORK/metrics.$n" 2>&1) && [ "$fams" -gt 5 ]; then
    pass "promtool ${names[$n]}: $fams metric families, no problems"
  else
    fail "promtool ${names[$n]}" "$fams families; $(head -c 600 <<<"$out")"
  fi
done

cat >"$ZT_WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ztna
    static_configs:
      - targets: ['10.99.1.2:$PORT', '10.99.2.2:$PORT', '10.99.3.2:$PORT']
EOF
zt_bg prometheus "$ZT_NS_M" prometheus --config.file="$ZT_WORK/prometheus.yml" \
  --storage.tsdb.path="$ZT_WORK/prom" --web.listen-address="$PROM" \
  --storage.tsdb.retention.time=1h --log.level=warn

# query EXPR: the first result's value, "" when there is none.
query() {
  M curl -s --max-time 5 -G "http://$PROM/api/v1/query" --data-urlencode "query=$1" |
    "$ZT_PY" -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
# wait_for EXPR SECONDS: polls until EXPR has a result; prints its value.
wait_for() {
  local i v
  for ((i = 0; i < $2 * 2; i++)); do
    v=$(query "$1")
    [ -n "$v" ] && { echo "$v"; return 0; }
    sleep 0.5
  done
  return 1
}

t0=$(date +%s)
if ! ups=$(wait_for 'count(up == 1) == 3' 90); then
  fail up "Prometheus did not scrape all three targets within 90 s: $(query 'up')"
  zt_summary metrics
fi
pass "up: Prometheus scraped the 3 daemons ($(($(date +%s) - t0)) s after its start)"

before=$(wait_for 'ztna_intermediate_relay_bytes_total' 10)
A curl -s --max-time 60 -o /dev/null "http://$WEB_VIP:8080/blob" ||
  fail traffic "download through the tunnel failed"
if grew=$(wait_for "ztna_intermediate_relay_bytes_total > ${before:-0} + 1000000" 20); then
  pass "relayed-bytes: ztna_intermediate_relay_bytes_total ${before:-?} -> $grew in Prometheus"
else
  fail relayed-bytes "still $(query ztna_intermediate_relay_bytes_total) (was ${before:-?})"
fi

si=$(wait_for 'ztna_intermediate_sessions == 1' 10)
sa=$(wait_for 'ztna_agent_sessions == 1' 10)
if [ "$si" = 1 ] && [ "$sa" = 1 ]; then
  pass "sessions: ztna_intermediate_sessions 1, ztna_agent_sessions 1"
else
  fail sessions "intermediate '$(query ztna_intermediate_sessions)', agent '$(query ztna_agent_sessions)'"
fi

hi=$(query 'ztna_intermediate_handshake_duration_seconds_count')
ha=$(query 'ztna_agent_uplink_handshake_duration_seconds_count')
if [ "${hi:-0}" -ge 2 ] && [ "${ha:-0}" -ge 1 ]; then
  pass "handshakes: Intermediate $hi, agent $ha (p50 $(query 'histogram_quantile(0.5, ztna_intermediate_handshake_duration_seconds_bucket)') s)"
else
  fail handshakes "Intermediate '$hi', agent '$ha'"
fi

# The Intermediate goes away: the agent is no longer ready.
zt_stop intermediate
r=""
for ((i = 0; i < 40; i++)); do
  r=$(get 1 /readyz)
  [ "${r%% *}" = 503 ] && break
  sleep 0.5
done
if [ "${r%% *}" = 503 ]; then
  pass "readyz-503: agent without its Intermediate: $r"
else
  fail readyz-503 "agent readyz '$r' 20 s after the Intermediate stopped"
fi

zt_summary metrics
