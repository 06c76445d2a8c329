# shellcheck shell=bash
# What every namespace test script shares: PASS/FAIL/SKIP lines and their
# counts, logs shown on failure, the namespaces torn down on every exit
# path, and the binaries checked up front. Sourced after ztna-env.sh.
#
# A skip prints SKIP and is counted; under CI=true it is also a failure
# unless its name is in ZT_EXPECTED_SKIPS (comma-separated), as in the unit
# tests' harness (tests/unit/test.h).

failures=0 passes=0 skips=0
pass() { echo "PASS $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failures=$((failures + 1)); }
skip() { # NAME REASON
  echo "SKIP $1: $2"
  skips=$((skips + 1))
  if [ "${CI:-}" = true ] && ! [[ ",${ZT_EXPECTED_SKIPS:-}," == *",$1,"* ]]; then
    fail "$1" "skipped under CI=true and not in ZT_EXPECTED_SKIPS"
  fi
}

_zt_harness_cleanup() {
  local rc=$?
  if [ "$failures" -gt 0 ] || [ $rc -ne 0 ]; then
    for f in "$ZT_WORK"/*.log; do
      [ -e "$f" ] || continue
      echo "---- $(basename "$f") (last 30 lines)"
      tail -n 30 "$f"
    done
  fi
  zt_env_down
}
trap _zt_harness_cleanup EXIT
trap 'exit 130' INT TERM

# zt_need_bins NAME...: every binary is built, or the script stops.
zt_need_bins() {
  local b
  for b in "$@"; do
    [ -x "$ZT_BIN/$b" ] || {
      echo "missing $ZT_BIN/$b: run make${BUILD/build-san/ SAN=1}" >&2
      exit 1
    }
  done
}

# zt_summary NAME: the closing line; exits with the number of failures.
zt_summary() {
  echo
  echo "$1: $passes passed, $skips skipped, $failures failed"
  exit "$failures"
}

# zt_http_blob LABEL [CURL OPTION...]: the agent downloads B's 20 MB blob
# through the tunnel; PASS when its sha256 matches, FAIL otherwise.
zt_http_blob() {
  local label=$1 want got
  shift
  want=$(sha256sum <"$ZT_WORK/www/blob" | cut -d' ' -f1)
  if ip netns exec "$ZT_NS_A" curl -sS --max-time 120 "$@" -o "$ZT_WORK/blob.got" \
    -w '%{size_download} bytes in %{time_total} s' "http://$WEB_VIP:8080/blob" \
    >"$ZT_WORK/curl.out" 2>&1; then
    got=$(sha256sum <"$ZT_WORK/blob.got" | cut -d' ' -f1)
    if [ "$got" = "$want" ]; then
      pass "${label}http 20 MB download, sha256 matches ($(cat "$ZT_WORK/curl.out"))"
    else
      fail "${label}http download" "sha256 $got != $want"
    fi
  else
    fail "${label}http download" "$(cat "$ZT_WORK/curl.out")"
  fi
  rm -f "$ZT_WORK/blob.got"
}
