#!/usr/bin/env bash
# Certificate trouble at start, with the real daemons: each problem is
# refused before the daemon touches the network, with an exit status of
# non-zero and a message that names the file and the reason; a certificate
# close to its end starts with a warning. The daemons run inside a
# namespace of this test's own (a TUN of a daemon that did start must not
# appear on the machine's own interfaces).
#
#   missing-cert, missing-key   the file named
#   key-mismatch                both files named
#   foreign-ca                  "not signed by the CA in <ca file>"
#   wrong-role                  a connector's certificate given to an agent
#   expired, not-yet-valid      the date (certificates signed with openssl ca,
#                               whose -startdate/-enddate set any dates)
#   expires-soon                starts, warns with the days left
#
# BUILD=build|build-san picks the binaries.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=harness.sh
source tests/netns/harness.sh
zt_need_bins ztna ztna-agent ztna-connector ztna-intermediate
command -v openssl >/dev/null || {
  skip expired "openssl not installed"
  skip not-yet-valid "openssl not installed"
}

zt_env_init
NS="zt-certs-$ZT_SUFFIX"
ip netns add "$NS" || { fail "namespace" "ip netns add $NS"; zt_summary certs; }
ip -n "$NS" link set lo up
# Torn down with the rest (harness.sh traps EXIT and calls zt_env_down).
zt_env_down_certs() { ip netns del "$NS" 2>/dev/null; }
trap 'zt_env_down_certs; _zt_harness_cleanup' EXIT
zt_make_pki || { fail "pki"; zt_summary certs; }
P=$ZT_WORK/pki

# start DAEMON LOG ARGS...: runs the daemon for at most 3 s in the test's
# namespace; its exit status (124: still running after 3 s).
start() {
  local d=$1 log=$2
  shift 2
  ip netns exec "$NS" timeout 3 "$ZT_BIN/ztna-$d" --intermediate 127.0.0.1:9 \
    --control-socket none "$@" >"$ZT_WORK/$log.log" 2>&1
}

# refused NAME DAEMON TEXT ARGS...: the daemon exits non-zero at once and
# its output holds TEXT.
refused() {
  local name=$1 d=$2 text=$3 rc
  shift 3
  start "$d" "$name" "$@"
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- "$text" "$ZT_WORK/$name.log"; then
    pass "$name: refused at start: $(grep -F -- "$text" "$ZT_WORK/$name.log" | head -n1 | cut -c1-220)"
  else
    fail "$name" "exit $rc, want a refusal saying '$text': $(head -c 400 "$ZT_WORK/$name.log")"
  fi
}

agent_args=(--ca "$P/ca.pem" --tun ztna-t0)
refused missing-cert agent "$ZT_WORK/nope.pem" \
  "${agent_args[@]}" --cert "$ZT_WORK/nope.pem" --key "$P/alice.key"
refused missing-key agent "$ZT_WORK/nope.key" \
  "${agent_args[@]}" --cert "$P/alice.pem" --key "$ZT_WORK/nope.key"
refused key-mismatch agent "cert $P/alice.pem and key $P/conn-a.key do not match" \
  "${agent_args[@]}" --cert "$P/alice.pem" --key "$P/conn-a.key"
refused foreign-ca agent "not signed by the CA in $P/ca.pem" \
  "${agent_args[@]}" --cert "$P/mallory.pem" --key "$P/mallory.key"
refused wrong-role agent "not" \
  "${agent_args[@]}" --cert "$P/conn-a.pem" --key "$P/conn-a.key"
grep -q "connector" "$ZT_WORK/wrong-role.log" ||
  fail "wrong-role" "the message does not say which role it is: $(cat "$ZT_WORK/wrong-role.log")"

# A certificate for alice, issued by the deployment's CA with the dates
# given (openssl ca: YYMMDDHHMMSSZ), carrying the role as ztna issues it
# (a SAN URI ztna://agent/alice).
# shellcheck source=openssl_cert.sh
source tests/netns/openssl_cert.sh
openssl_cert() { # OUT START END
  zt_openssl_cert "$1" "$2" "$3" "$P/alice.key" "$P" ztna://agent/alice
}
if command -v openssl >/dev/null; then
  if openssl_cert "$ZT_WORK/expired.pem" 200101000000Z 200201000000Z; then
    refused expired agent "expired on" \
      "${agent_args[@]}" --cert "$ZT_WORK/expired.pem" --key "$P/alice.key"
  else
    fail expired "openssl could not make the certificate: $(cat "$ZT_WORK/oca/err")"
  fi
  if openssl_cert "$ZT_WORK/future.pem" 400101000000Z 410101000000Z; then
    refused not-yet-valid agent "is not valid before" \
      "${agent_args[@]}" --cert "$ZT_WORK/future.pem" --key "$P/alice.key"
  else
    fail not-yet-valid "openssl could not make the certificate: $(cat "$ZT_WORK/oca/err")"
  fi
fi

# Ten days left: the agent starts (and is still running after 3 s), and
# says when its certificate ends.
"$ZT_BIN/ztna" cert issue --ca-dir "$P" --role agent --name alice --days 10 \
  --out "$ZT_WORK/soon" >/dev/null
start agent expires-soon "${agent_args[@]}" --cert "$ZT_WORK/soon.pem" --key "$ZT_WORK/soon.key"
rc=$?
if [ $rc -eq 124 ] && grep -qi "expires" "$ZT_WORK/expires-soon.log"; then
  pass "expires-soon: started, and warned: $(grep -i expires "$ZT_WORK/expires-soon.log" | head -n1 | cut -c1-200)"
else
  fail "expires-soon" "exit $rc (124: ran), want a warning: $(head -c 400 "$ZT_WORK/expires-soon.log")"
fi

zt_summary certs
