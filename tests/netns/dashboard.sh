#!/usr/bin/env bash
# The Intermediate's admin dashboard (docs/dashboard.md) in a real browser.
#
# The deployment runs in namespaces with "dashboard_listen" on the
# Intermediate's loopback and a token file; traffic goes through the tunnel
# so a session exists. Headless Chromium runs in the Intermediate's
# namespace, opens the page with the token in the URL fragment, lets its
# script run, and dumps the DOM:
#   page          the page, its style and script are served, with the
#                 security headers (CSP default-src 'self', nosniff)
#   unauthorized  /api/status and /api/traffic without a token, or with a
#                 wrong one: 401 and no data; with the token: 200
#   refuses       a dashboard on a non-loopback address without a token
#                 file is refused, naming file:line: key
#   traffic       /api/traffic has the relayed megabytes once sampled
#   browser-dom   the rendered DOM shows the peers (alice, conn-a), the
#                 services (web, echo, conn-a online) and the session
#                 with its path (relay)
#   browser-401   without the token the page shows its login form, no data
#   screenshot    a PNG of the page (its path is printed)
# Without chromium (Debian package chromium, scripts/deps.sh) the browser
# parts SKIP. BUILD=build|build-san picks the binaries. Exit status:
# failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent
t_start=$(date +%s)

DASH=127.0.0.1:9180
I() { ip netns exec "$ZT_NS_I" "$@"; }
A() { ip netns exec "$ZT_NS_A" "$@"; }

dashboard_on() {
  head -c 32 /dev/urandom | base64 >"$ZT_WORK/dashboard.token" &&
    chmod 600 "$ZT_WORK/dashboard.token" &&
    zt_config_set "$ZT_WORK/intermediate.json" dashboard_listen "$DASH" &&
    zt_config_set "$ZT_WORK/intermediate.json" dashboard_token_file "$ZT_WORK/dashboard.token"
}
# Relay only: the session's path is "relay" and the relay counter grows.
if ! ZT_DIRECT=false ZT_AFTER_CONFIGS=dashboard_on zt_env_up; then
  fail start "the deployment did not come up"
  zt_summary dashboard
fi
TOKEN=$(cat "$ZT_WORK/dashboard.token")
grep -q "dashboard on http://$DASH/ (token required)" "$ZT_WORK/intermediate.log" ||
  fail start "no 'dashboard on' line in the Intermediate's log"

# Traffic through the tunnel: a session, and bytes for the chart.
A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 || fail traffic "no ping through the tunnel"
A curl -s --max-time 60 -o /dev/null "http://$WEB_VIP:8080/blob" ||
  fail traffic "download through the tunnel failed"

# code [CURL ARGS...] PATH: the HTTP status of GET http://$DASH/PATH.
code() {
  local path=${*: -1}
  I curl -s -o /dev/null --max-time 5 -w '%{http_code}' "${@:1:$#-1}" "http://$DASH$path"
}
hdrs=$(I curl -s -D - -o /dev/null --max-time 5 "http://$DASH/")
if [ "$(code /)" = 200 ] && [ "$(code /dashboard.js)" = 200 ] &&
  [ "$(code /dashboard.css)" = 200 ] &&
  grep -qi "^content-security-policy: default-src 'self'" <<<"$hdrs" &&
  grep -qi '^x-content-type-options: nosniff' <<<"$hdrs"; then
  pass "page: /, /dashboard.js, /dashboard.css 200 with CSP and nosniff"
else
  fail page "headers: $hdrs"
fi

none=$(code /api/status) wrong=$(code -H "Authorization: Bearer ${TOKEN}x" /api/status)
wrong2=$(code -H "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" /api/traffic)
none2=$(code /api/traffic)
body=$(I curl -s --max-time 5 "http://$DASH/api/status")
good=$(code -H "Authorization: Bearer $TOKEN" /api/status)
if [ "$none" = 401 ] && [ "$none2" = 401 ] && [ "$wrong" = 401 ] && [ "$wrong2" = 401 ] &&
  [ "$good" = 200 ] && ! grep -q alice <<<"$body"; then
  pass "unauthorized: no token $none/$none2, wrong token $wrong/$wrong2 (no data), right token $good"
else
  fail unauthorized "no token $none/$none2, wrong $wrong/$wrong2, right $good; body without token: ${body:0:200}"
fi

# A dashboard on a non-loopback address without a token file: refused.
"$ZT_PY" -c 'import json, sys
cfg = json.load(open(sys.argv[1]))
del cfg["dashboard_token_file"]
cfg["dashboard_listen"] = "0.0.0.0:9180"
json.dump(cfg, open(sys.argv[2], "w"), indent=1)' "$ZT_WORK/intermediate.json" "$ZT_WORK/exposed.json"
if out=$("$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/exposed.json" 2>&1); then
  fail refuses "--check-config accepted a non-loopback dashboard without a token: $out"
elif grep -q "exposed.json:[0-9]*: dashboard_listen" <<<"$out"; then
  pass "refuses: $(head -n1 <<<"$out")"
else
  fail refuses "unexpected message: $out"
fi

# The traffic ring takes a sample every 5 s: wait for the download's.
relayed() {
  "$ZT_PY" -c 'import json, sys
s = json.loads(sys.argv[1])["samples"]
sys.exit(0 if sum(b for _, b in s) > 1000000 else 1)' "$1" 2>/dev/null
}
tr=""
for ((i = 0; i < 24; i++)); do
  tr=$(I curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" "http://$DASH/api/traffic")
  relayed "$tr" && break
  sleep 0.5
done
if relayed "$tr"; then
  pass "traffic: $(cut -c1-100 <<<"$tr")..."
else
  fail traffic "no relayed megabyte in /api/traffic: ${tr:0:300}"
fi

CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ]; then
  skip browser-dom "chromium not installed (Debian package chromium, scripts/deps.sh)"
  skip browser-401 "chromium not installed"
  skip screenshot "chromium not installed"
  zt_summary dashboard
fi
# chrome URL ARGS...: headless Chromium in the Intermediate's namespace
# (as root it needs --no-sandbox), a fresh profile each time.
chrome() {
  local url=$1 profile
  shift
  profile=$(mktemp -d "$ZT_WORK/chrome.XXXXXX")
  I timeout 60 "$CHROME" --headless=new --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-dev-shm-usage --user-data-dir="$profile" \
    --virtual-time-budget=5000 "$@" "$url" 2>>"$ZT_WORK/chromium.log"
}
chrome "http://$DASH/#token=$TOKEN" --dump-dom >"$ZT_WORK/dom.html"
# The text of the rendered cells and pills.
cells() { grep -o "<$1[^>]*>[^<]*</$1>" "$ZT_WORK/dom.html" | sed 's/<[^>]*>//g'; }
td=$(cells td) pills=$(cells span)
missing=""
for w in alice conn-a web echo; do
  grep -qx -- "$w" <<<"$td" || missing+=" $w"
done
grep -qx "conn-a online" <<<"$pills" || missing+=" 'conn-a online'"
grep -qx "relay" <<<"$pills" || missing+=" 'relay'"
grep -q '<form id="login" hidden' "$ZT_WORK/dom.html" || missing+=" (the login form is shown)"
if [ -z "$missing" ] && grep -q 'id="sessions-n">(1)' "$ZT_WORK/dom.html"; then
  pass "browser-dom: peers alice and conn-a, services web and echo (conn-a online), 1 session (relay) in the rendered page"
else
  fail browser-dom "missing:$missing; sessions $(grep -o 'id="sessions-n">[^<]*' "$ZT_WORK/dom.html"); DOM: $(head -c 1500 "$ZT_WORK/dom.html")"
fi

dom=$(chrome "http://$DASH/" --dump-dom)
if grep -q '<form id="login">' <<<"$dom" && ! grep -q '>alice<' <<<"$dom"; then
  pass "browser-401: without the token the page shows its login form and no peer"
else
  fail browser-401 "$(head -c 600 <<<"$dom")"
fi

shot="$ZT_WORK/dashboard.png"
chrome "http://$DASH/#token=$TOKEN" --screenshot="$shot" --window-size=1200,900 >/dev/null
if [ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
  # Kept past the work directory's removal, for a look.
  keep="${ZT_SHOT_DIR:-/tmp}/ztna-dashboard-$ZT_SUFFIX.png"
  cp "$shot" "$keep"
  pass "screenshot: $keep ($(wc -c <"$keep") bytes)"
else
  fail screenshot "no PNG at $shot"
fi

echo "dashboard.sh: $(($(date +%s) - t_start)) s"
zt_summary dashboard
