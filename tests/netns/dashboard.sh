#!/usr/bin/env bash
# The Intermediate's admin dashboard (docs/dashboard.md) in a real browser.
#
# The deployment runs in namespaces with "dashboard_listen" on the
# Intermediate's public address (so HTTPS by default, with its own
# certificate) and a token file; traffic goes through the tunnel so a
# session exists. curl checks the server against the deployment CA (the
# certificate names 198.51.100.1). Headless Chromium runs in the
# Intermediate's namespace, opens the page with the token in the URL
# fragment, lets its script run, and dumps the DOM:
#   page          the page, its style and script are served over HTTPS,
#                 with the security headers (CSP default-src 'self', nosniff)
#   unauthorized  /api/status and /api/traffic without a token, or with a
#                 wrong one: 401 and no data; with the token: 200
#   admin-cert    an admin client certificate (ztna cert issue --role
#                 admin) alone gets the data; no certificate and no token
#                 401; an agent's certificate (same CA) 403, another CA's
#                 403; each refusal logged with its reason
#   plain-http    the same listener does not answer plain HTTP
#   refuses       a non-loopback dashboard with "dashboard_tls": false and
#                 no "dashboard_allow_http" is refused, naming file:line: key
#   traffic       /api/traffic has the relayed megabytes once sampled
#   token-reload  SIGHUP reads the token file again: the new token works,
#                 the old one gets 401; a broken file keeps the token and
#                 the log says why
#   cert-rotate   after `ztna cert renew` and SIGHUP the dashboard serves
#                 the new certificate to new connections
#   browser-dom   the rendered DOM shows the peers (alice, conn-a), the
#                 services (web, echo, conn-a online) and the session
#                 with its path (relay)
#   browser-401   without the token the page shows its login form, no data
#   screenshot    a PNG of the page (its path is printed)
# Chromium trusts exactly the Intermediate's key for this test
# (--ignore-certificate-errors-spki-list with its hash: a private CA is not
# in its store), nothing else. Without chromium (Debian package chromium,
# scripts/deps.sh) the browser parts SKIP. BUILD=build|build-san picks the binaries. Exit status:
# failures.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
zt_need_bins ztna ztna-intermediate ztna-connector ztna-agent
t_start=$(date +%s)

DASH=198.51.100.1:9180
I() { ip netns exec "$ZT_NS_I" "$@"; }
A() { ip netns exec "$ZT_NS_A" "$@"; }

dashboard_on() {
  head -c 32 /dev/urandom | base64 >"$ZT_WORK/dashboard.token" &&
    chmod 600 "$ZT_WORK/dashboard.token" &&
    "$ZT_BIN/ztna" cert issue --ca-dir "$ZT_WORK/pki" --role admin --name ops \
      --out "$ZT_WORK/pki/ops" >/dev/null &&
    "$ZT_BIN/ztna" cert issue --ca-dir "$ZT_WORK/pki/other" --role admin \
      --name ops --out "$ZT_WORK/pki/ops-other" >/dev/null &&
    zt_config_set "$ZT_WORK/intermediate.json" dashboard_listen "$DASH" &&
    zt_config_set "$ZT_WORK/intermediate.json" dashboard_token_file "$ZT_WORK/dashboard.token"
}
# Relay only: the session's path is "relay" and the relay counter grows.
if ! ZT_DIRECT=false ZT_AFTER_CONFIGS=dashboard_on zt_env_up; then
  fail start "the deployment did not come up"
  zt_summary dashboard
fi
TOKEN=$(cat "$ZT_WORK/dashboard.token")
P=$ZT_WORK/pki
grep -q "dashboard on https://$DASH/ (admin certificate or token)" "$ZT_WORK/intermediate.log" ||
  fail start "no 'dashboard on https' line in the Intermediate's log"

# Traffic through the tunnel: a session, and bytes for the chart.
A ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >/dev/null 2>&1 || fail traffic "no ping through the tunnel"
A curl -s --max-time 60 -o /dev/null "http://$WEB_VIP:8080/blob" ||
  fail traffic "download through the tunnel failed"

# code [CURL ARGS...] PATH: the HTTP status of GET https://$DASH/PATH, the
# server verified against the deployment CA.
code() {
  local path=${*: -1}
  I curl -s -o /dev/null --max-time 5 --cacert "$P/ca.pem" -w '%{http_code}' \
    "${@:1:$#-1}" "https://$DASH$path"
}
hdrs=$(I curl -s -D - -o /dev/null --max-time 5 --cacert "$P/ca.pem" "https://$DASH/")
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
body=$(I curl -s --max-time 5 --cacert "$P/ca.pem" "https://$DASH/api/status")
good=$(code -H "Authorization: Bearer $TOKEN" /api/status)
if [ "$none" = 401 ] && [ "$none2" = 401 ] && [ "$wrong" = 401 ] && [ "$wrong2" = 401 ] &&
  [ "$good" = 200 ] && ! grep -q alice <<<"$body"; then
  pass "unauthorized: no token $none/$none2, wrong token $wrong/$wrong2 (no data), right token $good"
else
  fail unauthorized "no token $none/$none2, wrong $wrong/$wrong2, right $good; body without token: ${body:0:200}"
fi

# The admin certificate: alone it is a credential; other certificates are
# refused with 403 (a credential, not an operator's), nothing gets 401.
OPS=(--cert "$P/ops.pem" --key "$P/ops.key")
ALICE=(--cert "$P/alice.pem" --key "$P/alice.key")
OTHER=(--cert "$P/ops-other.pem" --key "$P/ops-other.key")
admin=$(code "${OPS[@]}" /api/status) admin2=$(code "${OPS[@]}" /api/traffic)
agent=$(code "${ALICE[@]}" /api/status) other=$(code "${OTHER[@]}" /api/status)
adminbody=$(I curl -s --max-time 5 --cacert "$P/ca.pem" "${OPS[@]}" "https://$DASH/api/status")
agentbody=$(I curl -s --max-time 5 --cacert "$P/ca.pem" "${ALICE[@]}" "https://$DASH/api/status")
nothing=$(code /api/status)
if [ "$admin" = 200 ] && [ "$admin2" = 200 ] && grep -q '"alice"' <<<"$adminbody" &&
  [ "$nothing" = 401 ] && [ "$agent" = 403 ] && [ "$other" = 403 ] &&
  ! grep -q alice <<<"$agentbody" &&
  grep -q "dashboard: refused .* with 403: certificate of role agent (ztna://agent/alice), not admin" "$ZT_WORK/intermediate.log" &&
  grep -q "dashboard: refused .* with 403: not accepted by the deployment CA" "$ZT_WORK/intermediate.log" &&
  grep -q "dashboard: refused .* with 401: no token and no certificate" "$ZT_WORK/intermediate.log"; then
  pass "admin-cert: admin certificate $admin/$admin2 (data), nothing $nothing, agent certificate $agent, other CA's admin $other; refusals logged with reasons"
else
  fail admin-cert "admin $admin/$admin2, nothing $nothing, agent $agent, other CA $other; log: $(grep 'dashboard: refused' "$ZT_WORK/intermediate.log" | tail -n 4)"
fi

# Plain HTTP on the HTTPS port: no data.
plain=$(I curl -s -o /dev/null --max-time 5 -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$DASH/api/status")
if [ "$plain" != 200 ]; then
  pass "plain-http: plain HTTP to the HTTPS listener gets no answer (curl: $plain)"
else
  fail plain-http "plain HTTP answered 200"
fi

# A dashboard on a non-loopback address over plain HTTP, not asked for
# knowingly: refused.
"$ZT_PY" -c 'import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["dashboard_tls"] = False
cfg["dashboard_listen"] = "0.0.0.0:9180"
json.dump(cfg, open(sys.argv[2], "w"), indent=1)' "$ZT_WORK/intermediate.json" "$ZT_WORK/exposed.json"
if out=$("$ZT_BIN/ztna-intermediate" --check-config "$ZT_WORK/exposed.json" 2>&1); then
  fail refuses "--check-config accepted a non-loopback plain HTTP dashboard: $out"
elif grep -q "exposed.json:[0-9]*: dashboard_listen.*dashboard_allow_http" <<<"$out"; then
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
  tr=$(I curl -s --max-time 5 --cacert "$P/ca.pem" -H "Authorization: Bearer $TOKEN" "https://$DASH/api/traffic")
  relayed "$tr" && break
  sleep 0.5
done
if relayed "$tr"; then
  pass "traffic: $(cut -c1-100 <<<"$tr")..."
else
  fail traffic "no relayed megabyte in /api/traffic: ${tr:0:300}"
fi

# sighup: SIGHUP to the Intermediate, then wait for the line that ends it.
sighup() {
  local before
  before=$(grep -c 'SIGHUP: ' "$ZT_WORK/intermediate.log")
  kill -HUP "$(zt_daemon_pid intermediate)"
  for _ in $(seq 50); do
    [ "$(grep -c 'SIGHUP: ' "$ZT_WORK/intermediate.log")" -gt "$before" ] && return 0
    sleep 0.1
  done
  return 1
}

# The token file read again on SIGHUP; a broken one keeps the token.
OLD=$TOKEN
head -c 32 /dev/urandom | base64 >"$ZT_WORK/dashboard.token"
TOKEN=$(cat "$ZT_WORK/dashboard.token")
sighup || fail token-reload "no SIGHUP line"
old=$(code -H "Authorization: Bearer $OLD" /api/status) new=$(code -H "Authorization: Bearer $TOKEN" /api/status)
echo short >"$ZT_WORK/dashboard.token"
sighup || fail token-reload "no SIGHUP line"
kept=$(code -H "Authorization: Bearer $TOKEN" /api/status)
echo "$TOKEN" >"$ZT_WORK/dashboard.token"
if [ "$old" = 401 ] && [ "$new" = 200 ] && [ "$kept" = 200 ] &&
  grep -q "reload: dashboard token reloaded from $ZT_WORK/dashboard.token" "$ZT_WORK/intermediate.log" &&
  grep -q "reload: dashboard_token_file .*too short.*keeping the previous dashboard token" "$ZT_WORK/intermediate.log"; then
  pass "token-reload: after SIGHUP the old token $old, the new $new; a broken file keeps it ($kept): $(grep -o 'reload: dashboard_token_file.*' "$ZT_WORK/intermediate.log" | tail -n1 | cut -c1-120)"
else
  fail token-reload "old $old, new $new, kept $kept; log: $(grep 'reload: dashboard' "$ZT_WORK/intermediate.log" | tail -n 2)"
fi

# Certificate rotation reaches the dashboard's next connections.
served_serial() {
  I openssl s_client -connect "$DASH" -CAfile "$P/ca.pem" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
before=$(served_serial)
"$ZT_BIN/ztna" cert renew --ca-dir "$P" --days 400 "$P/intermediate.pem" >"$ZT_WORK/renew.out" 2>&1 ||
  fail cert-rotate "ztna cert renew: $(cat "$ZT_WORK/renew.out")"
want=$(openssl x509 -noout -serial -in "$P/intermediate.pem" | sed 's/^serial=//')
sighup || fail cert-rotate "no SIGHUP line"
after=$(served_serial)
still=$(code "${OPS[@]}" /api/status)
if [ -n "$before" ] && [ "$after" = "$want" ] && [ "$after" != "$before" ] && [ "$still" = 200 ]; then
  pass "cert-rotate: served serial $before, after renew and SIGHUP $after (the new file's); admin certificate still $still"
else
  fail cert-rotate "served before '$before', after '$after', file '$want', admin $still"
fi

CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ]; then
  skip browser-dom "chromium not installed (Debian package chromium, scripts/deps.sh)"
  skip browser-401 "chromium not installed"
  skip screenshot "chromium not installed"
  zt_summary dashboard
fi
# chrome URL ARGS...: headless Chromium in the Intermediate's namespace
# (as root it needs --no-sandbox), a fresh profile each time, trusting the
# Intermediate's current key only (its SPKI hash): the test's CA is not in
# Chromium's store.
chrome() {
  local url=$1 profile spki
  shift
  profile=$(mktemp -d "$ZT_WORK/chrome.XXXXXX")
  spki=$(openssl x509 -in "$P/intermediate.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
  I timeout 60 "$CHROME" --headless=new --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-dev-shm-usage --user-data-dir="$profile" \
    --ignore-certificate-errors-spki-list="$spki" \
    --virtual-time-budget=5000 "$@" "$url" 2>>"$ZT_WORK/chromium.log"
}
chrome "https://$DASH/#token=$TOKEN" --dump-dom >"$ZT_WORK/dom.html"
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

dom=$(chrome "https://$DASH/" --dump-dom)
if grep -q '<form id="login">' <<<"$dom" && ! grep -q '>alice<' <<<"$dom"; then
  pass "browser-401: without the token the page shows its login form and no peer"
else
  fail browser-401 "$(head -c 600 <<<"$dom")"
fi

shot="$ZT_WORK/dashboard.png"
chrome "https://$DASH/#token=$TOKEN" --screenshot="$shot" --window-size=1200,900 >/dev/null
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
