# ztna on top of the namespace topology of lib.sh: certificates, configs,
# backends and the three daemons. Sourced by e2e.sh, scripts/demo.sh and
# bench/run.sh. Every process started here is bounded by `timeout` and is
# killed by zt_env_down (namespaces going away kill the rest).
#
# Services (connector conn-a, backends on host B):
#   web   10.100.0.1 -> 10.30.0.2   tcp/8080 (HTTP), tcp/5201 (iperf3),
#                                   tcp/22 (sshd, zt_start_sshd only), icmp
#   echo  10.100.0.2 -> 10.30.0.3   udp/9999 (UDP echo), icmp
# Policy: agent alice may reach both; nobody else anything.
# B also listens on tcp/$ZT_FORBIDDEN_PORT at 10.30.0.2, a port web does NOT
# allow: reachable from the connector's network, so the policy test proves
# that the connector's port rule, not a missing listener, stops it.
#
# ZT_POLICY_DOC=1 (opt-in; the default is the inline policy above): the
# Intermediate reads a policy document with groups, $ZT_WORK/policy.json
# (docs/policy.md; zt_write_policy rewrites it), and there is a third
# service and a second agent certificate (bob, config agent-bob.json):
#   admin 10.100.0.3 -> 10.30.0.3   tcp/8081 (HTTP), udp/9998 (UDP echo), icmp
# web's connector rule also allows tcp/$ZT_FORBIDDEN_PORT: there the policy's
# grant is what refuses it. Groups staff = alice, ops = bob; rules:
#   rules[0] staff: web tcp/8080 tcp/5201 tcp/22 icmp (not $ZT_FORBIDDEN_PORT)
#   rules[1] staff: echo
#   rules[2] ops:   admin
#   rules[3] bob:   web, deny (bob's own rule beats any group's)

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ZT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
ZT_BIN="$ZT_ROOT/$BUILD"
ZT_LIFETIME=${ZT_LIFETIME:-900} # seconds any background process may live
# Debian's python3, not a per-user shim (pyenv and the like start slowly
# and differently inside namespaces).
ZT_PY=$(command -v /usr/bin/python3 || command -v python3)
WEB_VIP=10.100.0.1
ECHO_VIP=10.100.0.2
ADMIN_VIP=10.100.0.3
ZT_FORBIDDEN_PORT=2222

# The delay box of lib.sh (ZT_DELAY_MS): the forwarder of this build.
ZT_DELAYFWD=${ZT_DELAYFWD:-$ZT_BIN/tests/delayfwd}

zt_env_init() {
  ZT_WORK=$(mktemp -d /tmp/ztna-test.XXXXXX)
  ZT_DELAYFWD_LOG="$ZT_WORK/delayfwd.log"
  mkdir -p "$ZT_WORK/pki" "$ZT_WORK/www" "$ZT_WORK/pids"
}

zt_env_down() {
  local f
  for f in "$ZT_WORK"/pids/*; do
    [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 0.3
  zt_topology_down
  [ "${ZT_KEEP_WORK:-0}" = 1 ] || rm -rf "$ZT_WORK"
}

# zt_bg NAME NS CMD...: runs CMD in namespace NS in the background, output to
# $ZT_WORK/NAME.log, pid in $ZT_WORK/pids/NAME.
zt_bg() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" timeout "$ZT_LIFETIME" "$@" >"$ZT_WORK/$name.log" 2>&1 &
  echo $! >"$ZT_WORK/pids/$name"
}

zt_stop() { # NAME [SIGNAL]: stops a zt_bg process, returns its exit status
  local f="$ZT_WORK/pids/$1" pid rc
  [ -e "$f" ] || return 0
  pid=$(cat "$f")
  # $pid is `timeout`, which forwards TERM and INT to the program it runs
  # but cannot forward KILL: that one goes to the program directly.
  [ "${2:-TERM}" = KILL ] && pkill -KILL -P "$pid" 2>/dev/null
  kill -"${2:-TERM}" "$pid" 2>/dev/null
  # Bounded: a daemon that does not exit (seen once: LeakSanitizer's exit
  # check spinning under ptrace) fails the test instead of hanging the run.
  local i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "zt_stop: $1 still running 60 s after SIG${2:-TERM}; killing it" >&2
    pkill -KILL -P "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$f"
    return 124
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  rm -f "$f"
  return $rc
}

# zt_wait_log NAME PATTERN [SECONDS]: waits until the log shows PATTERN.
zt_wait_log() {
  local i
  for ((i = 0; i < ${3:-20} * 10; i++)); do
    grep -q -- "$2" "$ZT_WORK/$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1.log" >&2
  return 1
}

zt_make_pki() {
  local z="$ZT_BIN/ztna" p="$ZT_WORK/pki"
  "$z" ca init --dir "$p" --name ztna-test-ca >/dev/null &&
    "$z" cert issue --ca-dir "$p" --role intermediate --name intermediate \
      --ip 198.51.100.1 --out "$p/intermediate" >/dev/null &&
    "$z" cert issue --ca-dir "$p" --role connector --name conn-a --out "$p/conn-a" >/dev/null &&
    "$z" cert issue --ca-dir "$p" --role agent --name alice --out "$p/alice" >/dev/null &&
    { [ "${ZT_POLICY_DOC:-0}" != 1 ] ||
      "$z" cert issue --ca-dir "$p" --role agent --name bob --out "$p/bob" >/dev/null; } &&
    "$z" ca init --dir "$p/other" --name some-other-ca >/dev/null &&
    "$z" cert issue --ca-dir "$p/other" --role agent --name alice --out "$p/mallory" >/dev/null
}

# ZT_DIRECT=true|false adds "direct" to the agent's and the connector's
# config (direct paths allowed, or relay only); unset leaves the key out
# (the daemons' default).
zt_write_configs() {
  local p="$ZT_WORK/pki" direct=""
  case "${ZT_DIRECT:-}" in
  true | false) direct="
  \"direct\": $ZT_DIRECT," ;;
  "") ;;
  *)
    echo "ztna-env.sh: ZT_DIRECT=$ZT_DIRECT: expected true or false" >&2
    return 1
    ;;
  esac
  cat >"$ZT_WORK/intermediate.json" <<EOF
{
  "listen": "0.0.0.0:4433",
  "ca": "$p/ca.pem", "cert": "$p/intermediate.pem", "key": "$p/intermediate.key",
  "agent_pool": "100.64.0.0/16",
  "state_dir": "$ZT_WORK/state",
  "services": [
    {"name": "web",  "address": "$WEB_VIP",  "connector": "conn-a"},
    {"name": "echo", "address": "$ECHO_VIP", "connector": "conn-a"}
  ],
  "policy": [
    {"agent": "alice", "services": ["web", "echo"]}
  ]
}
EOF
  cat >"$ZT_WORK/connector.json" <<EOF
{
  "intermediate": "198.51.100.1:4433",$direct
  "ca": "$p/ca.pem", "cert": "$p/conn-a.pem", "key": "$p/conn-a.key",
  "tun": "ztna-c0",
  "services": [
    {"name": "web",  "backend": "10.30.0.2", "ports": ["tcp/8080", "tcp/5201", "tcp/22", "icmp"]},
    {"name": "echo", "backend": "10.30.0.3", "ports": ["udp/9999", "icmp"]}
  ]
}
EOF
  cat >"$ZT_WORK/agent.json" <<EOF
{
  "intermediate": "198.51.100.1:4433",$direct
  "ca": "$p/ca.pem", "cert": "$p/alice.pem", "key": "$p/alice.key",
  "tun": "ztna0",
  "dns_resolved": false
}
EOF
  [ "${ZT_POLICY_DOC:-0}" != 1 ] || zt_write_policy_doc_configs
}

# intermediate.json naming the policy document policy.json instead of
# listing services and policy itself.
zt_write_intermediate_doc_config() {
  local p="$ZT_WORK/pki"
  cat >"$ZT_WORK/intermediate.json" <<EOF
{
  "listen": "0.0.0.0:4433",
  "ca": "$p/ca.pem", "cert": "$p/intermediate.pem", "key": "$p/intermediate.key",
  "agent_pool": "100.64.0.0/16",
  "state_dir": "$ZT_WORK/state",
  "policy": "policy.json"
}
EOF
}

# ZT_POLICY_DOC=1's configs over zt_write_configs' (see the header):
# intermediate.json names policy.json, the connector serves admin too, bob
# gets an agent config. ($direct: zt_write_configs'.)
zt_write_policy_doc_configs() {
  local p="$ZT_WORK/pki"
  zt_write_intermediate_doc_config
  zt_write_policy
  cat >"$ZT_WORK/connector.json" <<EOF
{
  "intermediate": "198.51.100.1:4433",$direct
  "ca": "$p/ca.pem", "cert": "$p/conn-a.pem", "key": "$p/conn-a.key",
  "tun": "ztna-c0",
  "services": [
    {"name": "web",   "backend": "10.30.0.2", "ports": ["tcp/8080", "tcp/5201", "tcp/22", "tcp/$ZT_FORBIDDEN_PORT", "icmp"]},
    {"name": "echo",  "backend": "10.30.0.3", "ports": ["udp/9999", "icmp"]},
    {"name": "admin", "backend": "10.30.0.3", "ports": ["tcp/8081", "udp/9998", "icmp"]}
  ]
}
EOF
  sed "s|$p/alice|$p/bob|g" "$ZT_WORK/agent.json" >"$ZT_WORK/agent-bob.json"
}

# zt_write_policy [RULES]: $ZT_WORK/policy.json with the groups and services
# of ZT_POLICY_DOC=1 and these rules (a JSON array's body; default: the
# header's). The Intermediate reads it again on SIGHUP or `ztna reload`.
ZT_RULES_DEFAULT='    {"group": "staff", "services": ["web"], "ports": ["tcp/8080", "tcp/5201", "tcp/22", "icmp"]},
    {"group": "staff", "services": ["echo"]},
    {"group": "ops", "services": ["admin"]},
    {"agent": "bob", "services": ["web"], "action": "deny"}'
zt_write_policy() {
  cat >"$ZT_WORK/policy.json.new" <<EOF
{
  "groups": [
    {"name": "staff", "agents": ["alice"]},
    {"name": "ops", "agents": ["bob"]}
  ],
  "services": [
    {"name": "web",   "address": "$WEB_VIP",   "connector": "conn-a",
     "ports": ["tcp/8080", "tcp/5201", "tcp/22", "tcp/$ZT_FORBIDDEN_PORT", "icmp"]},
    {"name": "echo",  "address": "$ECHO_VIP",  "connector": "conn-a",
     "ports": ["udp/9999", "icmp"]},
    {"name": "admin", "address": "$ADMIN_VIP", "connector": "conn-a",
     "ports": ["tcp/8081", "udp/9998", "icmp"]}
  ],
  "rules": [
${1:-$ZT_RULES_DEFAULT}
  ]
}
EOF
  # Renamed into place: a reload never reads half a file.
  mv "$ZT_WORK/policy.json.new" "$ZT_WORK/policy.json"
}

all_in() { # TEXT WORD...: every WORD occurs in TEXT
  local text=$1 w
  shift
  for w in "$@"; do grep -q "$w" <<<"$text" || return 1; done
}

# Backends on host B: a second address for the echo service, an HTTP server
# with a 20 MB file, iperf3, a UDP echo; a counter of ICMP echo requests
# that reach B itself (proof that pings are answered by the real host).
zt_start_backends() {
  ip -n "$ZT_NS_B" addr add 10.30.0.3/24 dev eth0
  ip netns exec "$ZT_NS_B" nft -f - <<'EOF'
table inet ztcount {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request counter name pings
  }
  counter pings { }
}
EOF
  head -c 20000000 /dev/urandom >"$ZT_WORK/www/blob"
  (cd "$ZT_WORK/www" && zt_bg http "$ZT_NS_B" "$ZT_PY" -u -m http.server 8080 --bind 10.30.0.2)
  zt_bg iperf "$ZT_NS_B" iperf3 -s -B 10.30.0.2 -p 5201
  zt_bg udpecho "$ZT_NS_B" "$ZT_PY" "$ZT_ROOT/tests/netns/udp_echo.py" server 10.30.0.3 9999 "$ZT_LIFETIME"
  # A listener on a port no service allows (see the header).
  (cd "$ZT_WORK/www" && zt_bg forbidden "$ZT_NS_B" "$ZT_PY" -u -m http.server "$ZT_FORBIDDEN_PORT" --bind 10.30.0.2)
  local want="10.30.0.2:8080 10.30.0.2:5201 10.30.0.3:9999 10.30.0.2:$ZT_FORBIDDEN_PORT"
  if [ "${ZT_POLICY_DOC:-0}" = 1 ]; then # admin's HTTP and UDP echo
    (cd "$ZT_WORK/www" && zt_bg adminhttp "$ZT_NS_B" "$ZT_PY" -u -m http.server 8081 --bind 10.30.0.3)
    zt_bg adminecho "$ZT_NS_B" "$ZT_PY" "$ZT_ROOT/tests/netns/udp_echo.py" server 10.30.0.3 9998 "$ZT_LIFETIME"
    want="$want 10.30.0.3:8081 10.30.0.3:9998"
  fi
  # Every backend listening before anyone measures anything.
  local i
  for i in $(seq 100); do
    ss_out=$(ip netns exec "$ZT_NS_B" ss -Hlntu 2>/dev/null)
    all_in "$ss_out" $want && return 0
    sleep 0.1
  done
  echo "backends did not start (want $want): $(cat "$ZT_WORK"/http.log "$ZT_WORK"/iperf.log "$ZT_WORK"/udpecho.log "$ZT_WORK"/forbidden.log)" >&2
  return 1
}

# An OpenSSH server on B (10.30.0.2:22) with a key of its own and one
# authorized client key, both in $ZT_WORK/ssh; zt_ssh CMD... runs CMD on B
# through the tunnel as root from the agent's host. Not started by
# zt_env_up: the tests that want ssh call it.
zt_start_sshd() {
  local d="$ZT_WORK/ssh"
  mkdir -p "$d" /run/sshd
  ssh-keygen -q -t ed25519 -N "" -f "$d/host_key" &&
    ssh-keygen -q -t ed25519 -N "" -f "$d/client_key" &&
    cp "$d/client_key.pub" "$d/authorized_keys" || return 1
  cat >"$d/sshd_config" <<EOF
ListenAddress 10.30.0.2:22
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $d/sshd.pid
EOF
  zt_bg sshd "$ZT_NS_B" /usr/sbin/sshd -D -e -f "$d/sshd_config"
  local i
  for i in $(seq 50); do
    ip netns exec "$ZT_NS_B" ss -Hlnt 2>/dev/null | grep -q '10.30.0.2:22 ' && return 0
    sleep 0.1
  done
  echo "sshd did not start: $(cat "$ZT_WORK/sshd.log")" >&2
  return 1
}
zt_ssh() {
  ip netns exec "$ZT_NS_A" ssh -i "$ZT_WORK/ssh/client_key" -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o ConnectTimeout=10 "root@$WEB_VIP" "$@"
}

# zt_daemon_pid NAME: the daemon's own pid. zt_bg's pid is `timeout`;
# the daemon is its child.
zt_daemon_pid() { pgrep -P "$(cat "$ZT_WORK/pids/$1")" | head -n1; }

# zt_status NAME: the daemon's status (SIGUSR1 makes it log one) appended
# to NAME.log; waits until a new "status:" block is there.
zt_status() {
  local log="$ZT_WORK/$1.log" before i pid
  before=$(grep -c 'status: ' "$log" 2>/dev/null)
  pid=$(zt_daemon_pid "$1")
  [ -n "$pid" ] && kill -USR1 "$pid" || return 1
  for i in $(seq 30); do
    [ "$(grep -c 'status: ' "$log")" -gt "$before" ] && sleep 0.1 && return 0
    sleep 0.1
  done
  return 1
}

zt_backend_pings() {
  ip netns exec "$ZT_NS_B" nft list counter inet ztcount pings | awk '/packets/ {print $2}'
}

# With ZT_KEYLOG set, the Intermediate's TLS secrets go there (GnuTLS
# honours SSLKEYLOGFILE): the opacity test decrypts its capture with them.
zt_start_intermediate() {
  local keylog=()
  [ -n "${ZT_KEYLOG:-}" ] && keylog=(env SSLKEYLOGFILE="$ZT_KEYLOG")
  zt_bg intermediate "$ZT_NS_I" "${keylog[@]}" \
    "$ZT_BIN/ztna-intermediate" --config "$ZT_WORK/intermediate.json" \
    --control-socket "$ZT_WORK/intermediate.sock" "$@"
}
zt_start_connector() {
  zt_bg connector "$ZT_NS_C" "$ZT_BIN/ztna-connector" --config "$ZT_WORK/connector.json" \
    --control-socket "$ZT_WORK/connector.sock" "$@"
}
zt_start_agent() {
  zt_bg agent "$ZT_NS_A" "$ZT_BIN/ztna-agent" --config "$ZT_WORK/agent.json" \
    --control-socket "$ZT_WORK/agent.sock" "$@"
}

# An agent "alice" with a certificate from another CA (pki/mallory), as
# zt_bg "mallory" on host A. Its CA file holds both CAs: its own (the agent
# checks at start that its certificate is signed by a CA it was given) and
# the deployment's (so the agent trusts the Intermediate): the refusal is
# the Intermediate's.
zt_start_foreign_agent() {
  cat "$ZT_WORK/pki/other/ca.pem" "$ZT_WORK/pki/ca.pem" >"$ZT_WORK/mallory-ca.pem"
  cat >"$ZT_WORK/mallory.json" <<EOF
{ "intermediate": "198.51.100.1:4433", "ca": "$ZT_WORK/mallory-ca.pem",
  "cert": "$ZT_WORK/pki/mallory.pem", "key": "$ZT_WORK/pki/mallory.key", "tun": "ztna9" }
EOF
  zt_bg mallory "$ZT_NS_A" "$ZT_BIN/ztna-agent" --config "$ZT_WORK/mallory.json" \
    --control-socket "$ZT_WORK/mallory.sock"
}

# zt_config_set FILE KEY VALUE: sets a top-level key of a JSON config to
# VALUE, a string (for hooks run by ZT_AFTER_CONFIGS).
zt_config_set() {
  "$ZT_PY" -c 'import json, sys
path, key, value = sys.argv[1:4]
cfg = json.load(open(path))
cfg[key] = value
json.dump(cfg, open(path, "w"), indent=1)' "$@"
}

# zt_config_set_num FILE KEY N: the same with a number.
zt_config_set_num() {
  "$ZT_PY" -c 'import json, sys
path, key, value = sys.argv[1:4]
cfg = json.load(open(path))
cfg[key] = int(value)
json.dump(cfg, open(path, "w"), indent=1)' "$@"
}

# The daemons' control sockets (`ztna status`) live in $ZT_WORK, not in
# /run/ztna: the namespaces share the file system, and a test must not
# take the host's sockets.

# Everything up and the agent's route to the web service in place.
zt_env_up() {
  zt_env_init
  zt_topology_up || return 1
  zt_make_pki || return 1
  zt_write_configs || return 1
  # ZT_AFTER_CONFIGS: a function that edits the configs before any start
  # (the demo turns the audit log on).
  [ -z "${ZT_AFTER_CONFIGS:-}" ] || "$ZT_AFTER_CONFIGS" || return 1
  zt_start_all echo "$ECHO_VIP"
}

# zt_start_all SERVICE ROUTE: the backends, then the Intermediate, the
# connector and the agent, each waited for: the connector until SERVICE is
# registered, the agent until its route to ROUTE is in place (20 s each).
# On failure ZT_START_FAILED names the step that failed and it returns 1.
zt_start_all() {
  ZT_START_FAILED=backends
  zt_start_backends || return 1
  ZT_START_FAILED=intermediate
  zt_start_intermediate
  zt_wait_log intermediate "listening on udp" || return 1
  ZT_START_FAILED=connector
  zt_start_connector
  zt_wait_log connector "service $1 registered" || return 1
  ZT_START_FAILED=agent
  zt_start_agent
  zt_wait_log agent "added route $2" || return 1
  ZT_START_FAILED=
}
