#!/usr/bin/env bash
# The Debian package under a real systemd: `make deb`, a Debian 12 root file
# system (mmdebstrap, cached under /var/cache/ztna-tests/), booted with
# systemd as PID 1 by systemd-nspawn in a network namespace of its own (no
# host interface is touched), then inside it: install the .deb, start
# ztna-intermediate with certificates from `ztna cert`, /readyz, reload,
# the sandbox (user, capabilities, a state_dir outside the state directory
# refused with the daemon's own error), the connector registered through
# its TUN device, clean stops, purge.
#
# Commands run in the container through `nsenter -t LEADER -a` (LEADER: the
# container's PID 1, the child of systemd-nspawn): with --register=no there
# is no machined, so no `systemd-run --machine` or `machinectl shell`.
# systemctl there talks to the container's systemd over its own bus socket.
#
# DEB=path/to.deb skips the build; ZT_KEEP_JOURNAL=FILE keeps the journal. Needs root; SKIPs when nspawn cannot boot.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
T0=$(date +%s)
ZT_WORK=$(mktemp -d /tmp/ztna-deb.XXXXXX)
ROOT=$ZT_WORK/root
NS=ztdeb$$
NSPAWN_PID=
LEADER=

# Called by the harness's EXIT trap, on every exit path: the container is
# powered off (SIGTERM to nspawn), killed if it does not go, its leftover
# mounts are detached, the namespace and the work directory removed.
zt_env_down() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  awk -v r="$ROOT" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$ZT_WORK"
  echo "deb_systemd: wall time $(($(date +%s) - T0)) s"
}
# shellcheck source=../netns/harness.sh
. tests/netns/harness.sh

if [ "$(id -u)" != 0 ]; then
  skip deb_systemd "needs root (mmdebstrap, systemd-nspawn, namespaces)"
  zt_summary deb_systemd
fi
bash scripts/deps.sh deb || { fail "deps" "scripts/deps.sh deb"; zt_summary deb_systemd; }

# ---- the package
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
if [ -z "${DEB:-}" ]; then
  t=$(date +%s)
  if ! make deb >"$ZT_WORK/make-deb.log" 2>&1; then
    fail "make deb" "see make-deb.log"
    zt_summary deb_systemd
  fi
  DEB=dist/ztna_${version}_${arch}.deb
  echo "make deb: $(($(date +%s) - t)) s"
  grep -E '^[EW]: ' "$ZT_WORK/make-deb.log" >"$ZT_WORK/lintian.txt" || true
  if [ -s "$ZT_WORK/lintian.txt" ]; then
    fail "lintian: no errors or warnings" "$(tr '\n' ' ' <"$ZT_WORK/lintian.txt")"
  else
    pass "lintian: no errors or warnings"
  fi
fi
[ -f "$DEB" ] || { fail "package" "$DEB missing"; zt_summary deb_systemd; }
[ "$(dpkg-deb -f "$DEB" Version)" = "$version" ] &&
  pass "package version $version (VERSION)" ||
  fail "package version" "$(dpkg-deb -f "$DEB" Version) != $version"

# ---- the root file system: systemd and the package's dependencies, so
# that dpkg -i works offline inside. Cached, keyed by the package list and
# the apt sources it came from.
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep .)
pkgs=$(printf '%s\n' systemd systemd-sysv dbus iproute2 nftables curl procps $deps |
  sort -u | paste -sd, -)
key=$( (echo "$pkgs"; cat "$sources") | sha256sum | cut -c1-16)
cache=/var/cache/ztna-tests/debian12-rootfs-$key.tar
if [ ! -f "$cache" ]; then
  t=$(date +%s)
  mkdir -p /var/cache/ztna-tests
  if ! mmdebstrap --mode=root --variant=minbase --format=tar --include="$pkgs" \
    bookworm "$cache.tmp" "$sources" >"$ZT_WORK/mmdebstrap.log" 2>&1; then
    rm -f "$cache.tmp"
    fail "mmdebstrap" "see mmdebstrap.log"
    zt_summary deb_systemd
  fi
  mv "$cache.tmp" "$cache"
  echo "root file system built in $(($(date +%s) - t)) s: $cache"
else
  echo "root file system from the cache: $cache"
fi
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$cache" && cp "$DEB" "$ROOT/root/ztna.deb" ||
  { fail "root file system" "cannot unpack $cache"; zt_summary deb_systemd; }

# ---- boot. The namespace has only lo; CAP_NET_ADMIN (not granted by
# --network-namespace-path alone) lets the container's systemd bring lo up
# and the connector make its TUN device.
ip netns add "$NS"
systemd-nspawn --register=no --keep-unit -q -b -D "$ROOT" \
  --network-namespace-path="/run/netns/$NS" --capability=CAP_NET_ADMIN \
  --bind=/dev/net/tun </dev/null >"$ZT_WORK/console.log" 2>&1 &
NSPAWN_PID=$!
# The leader: nspawn's child once it has become systemd; then its manager
# answers on its bus (is-system-running says "offline" until then).
for _ in $(seq 150); do
  LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" 2>/dev/null | awk '$2 == "systemd" { print $1; exit }')
  [ -n "$LEADER" ] && break
  kill -0 "$NSPAWN_PID" 2>/dev/null || break
  sleep 0.2
done
in_ct() { timeout 60 nsenter -t "$LEADER" -a "$@"; }
state=
if [ -n "$LEADER" ]; then
  for _ in $(seq 90); do
    state=$(timeout 90 nsenter -t "$LEADER" -a systemctl is-system-running --wait 2>&1)
    case "$state" in running | degraded) break ;; esac
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 1
  done
fi
case "$state" in
  running | degraded) pass "Debian 12 booted with systemd as PID 1 ($state, $(($(date +%s) - T0)) s since start)" ;;
  *)
    echo "---- console"; tail -n 20 "$ZT_WORK/console.log"
    skip deb_systemd "systemd-nspawn could not boot the container here (state '${state:-no leader}')"
    zt_summary deb_systemd ;;
esac
[ "$state" = degraded ] && in_ct systemctl --failed --no-pager

# ---- install
if in_ct dpkg -i /root/ztna.deb >"$ZT_WORK/dpkg.log" 2>&1; then
  pass "dpkg -i: installs offline with its dependencies"
else
  fail "dpkg -i" "see dpkg.log"; zt_summary deb_systemd
fi
in_ct id ztna >/dev/null 2>&1 && pass "system user ztna created" || fail "system user ztna"
# shellcheck disable=SC2016 # a dpkg-query format, not shell
conff=$(in_ct dpkg-query -W -f='${Conffiles}' ztna)
missing=
for f in intermediate connector agent; do
  grep -q "/etc/ztna/$f.json" <<<"$conff" || missing+=" /etc/ztna/$f.json"
done
[ -z "$missing" ] && pass "example configurations are conffiles" ||
  fail "conffiles" "not conffiles:$missing"
[ "$(in_ct ztna-intermediate --version)" = "ztna-intermediate $version" ] &&
  [ "$(in_ct ztna version)" = "ztna $version" ] &&
  pass "--version says $version" || fail "--version" "$(in_ct ztna-intermediate --version)"

# ---- certificates and configuration, as docs/deploy-systemd.md does it
# (the CA stays out of /etc/ztna, the keys readable by group ztna)
in_ct sh -ec '
  ztna ca init --dir /root/ca >/dev/null
  ztna cert issue --ca-dir /root/ca --role intermediate --name intermediate --out /etc/ztna/intermediate >/dev/null
  ztna cert issue --ca-dir /root/ca --role connector --name conn-a --out /etc/ztna/connector >/dev/null
  ztna cert issue --ca-dir /root/ca --role agent --name alice --out /etc/ztna/agent >/dev/null
  install -m 0644 /root/ca/ca.pem /etc/ztna/ca.pem
  chgrp ztna /etc/ztna/*.key && chmod 0640 /etc/ztna/*.key
  sed -i "s|\"0.0.0.0:4433\"|\"127.0.0.1:4433\"|" /etc/ztna/intermediate.json
  sed -i "s|\"intermediate\": \[.*\]|\"intermediate\": [\"127.0.0.1:4433\"]|" /etc/ztna/connector.json /etc/ztna/agent.json
' >"$ZT_WORK/certs.log" 2>&1 && pass "CA and certificates made with ztna cert" ||
  fail "certificates" "see certs.log"

# ---- the Intermediate
wait_active() { # UNIT: active within 15 s
  for _ in $(seq 75); do
    [ "$(in_ct systemctl is-active "$1")" = active ] && return 0
    sleep 0.2
  done
  return 1
}
# wait_ready PORT: $ready is that daemon's /readyz answer, "ready" within 15 s
wait_ready() {
  ready=
  for _ in $(seq 75); do
    ready=$(in_ct curl -sS --max-time 2 "http://127.0.0.1:$1/readyz" 2>&1) && [ "$ready" = ready ] && return 0
    sleep 0.2
  done
  return 1
}
in_ct systemctl start ztna-intermediate
if wait_active ztna-intermediate; then
  pass "systemctl start ztna-intermediate: active"
else
  in_ct journalctl -u ztna-intermediate --no-pager >"$ZT_WORK/intermediate.log"
  fail "ztna-intermediate active" "$(in_ct systemctl is-active ztna-intermediate)"
fi
wait_ready 9101
[ "$ready" = ready ] && pass "/readyz answers ready" || fail "/readyz" "$ready"

pid=$(in_ct systemctl show -P MainPID ztna-intermediate)
status=$(in_ct cat "/proc/$pid/status")
uid=$(in_ct id -u ztna)
if grep -qE "^Uid:\s+$uid\s" <<<"$status" && grep -qE '^CapEff:\s+0+$' <<<"$status" &&
  grep -qE '^NoNewPrivs:\s+1' <<<"$status" && grep -qE '^Seccomp:\s+2' <<<"$status"; then
  pass "runs as ztna, no capabilities, no_new_privs, seccomp filter"
else
  fail "process credentials" "$(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' <<<"$status" | tr '\n' ' ')"
fi

cursor=$(in_ct journalctl -u ztna-intermediate -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
in_ct systemctl reload ztna-intermediate
reloaded=
for _ in $(seq 50); do
  reloaded=$(in_ct journalctl -u ztna-intermediate --after-cursor="$cursor" --no-pager -o cat | grep 'SIGHUP:')
  [ -n "$reloaded" ] && break
  sleep 0.2
done
if [ -n "$reloaded" ] && [ "$(in_ct systemctl show -P MainPID ztna-intermediate)" = "$pid" ]; then
  pass "systemctl reload: same process, log says '$(head -1 <<<"$reloaded" | sed 's/^.*SIGHUP:/SIGHUP:/')'"
else
  fail "systemctl reload" "no SIGHUP line in the journal or a new process"
fi

# ---- the sandbox holds: a state_dir outside /var/lib/ztna, owned by ztna
# (so only ProtectSystem=strict stands in the way), is refused by the
# daemon with its own error, and the unit fails.
in_ct systemctl stop ztna-intermediate
in_ct sh -ec '
  install -d -o ztna -g ztna -m 0700 /srv/ztna-forbidden
  cp /etc/ztna/intermediate.json /root/intermediate.json.good
  sed -i "s|\"state_dir\": \"/var/lib/ztna\"|\"state_dir\": \"/srv/ztna-forbidden\"|" /etc/ztna/intermediate.json
  grep -q /srv/ztna-forbidden /etc/ztna/intermediate.json'
in_ct systemctl reset-failed ztna-intermediate 2>/dev/null
in_ct systemctl start ztna-intermediate
for _ in $(seq 50); do
  st=$(in_ct systemctl is-active ztna-intermediate)
  [ "$st" = failed ] || [ "$st" = activating ] && break
  sleep 0.2
done
in_ct systemctl stop ztna-intermediate # no restart loop
refused=$(in_ct journalctl -u ztna-intermediate --no-pager -o cat | grep '/srv/ztna-forbidden: ')
if grep -q 'Read-only file system' <<<"$refused"; then
  pass "ProtectSystem=strict: a state_dir outside the state directory is refused ('$refused')"
else
  in_ct journalctl -u ztna-intermediate --no-pager >"$ZT_WORK/intermediate.log"
  in_ct cat /etc/ztna/intermediate.json >"$ZT_WORK/intermediate-json.log"
  fail "state_dir outside the state directory" "'${refused:-no state_dir error in the journal}'"
fi
in_ct sh -c 'ls /srv/ztna-forbidden | grep -q . ' && fail "nothing written to /srv/ztna-forbidden"
in_ct cp /root/intermediate.json.good /etc/ztna/intermediate.json
in_ct systemctl reset-failed ztna-intermediate 2>/dev/null
in_ct systemctl start ztna-intermediate
wait_active ztna-intermediate || fail "ztna-intermediate active again"
in_ct test -d /var/lib/ztna && [ "$(in_ct stat -c %U /var/lib/ztna)" = ztna ] &&
  pass "StateDirectory /var/lib/ztna owned by ztna" || fail "/var/lib/ztna"

# ---- the connector: TUN device, nftables, registered at the Intermediate
in_ct systemctl start ztna-connector
wait_ready 9102
if [ "$ready" = ready ] && in_ct ztna status --daemon intermediate | grep -qE '^web +10\.100\.0\.1 +conn-a +(online +)?yes'; then
  pass "ztna-connector: TUN up, registered at the Intermediate (its /readyz ready, service web online)"
else
  in_ct journalctl -u ztna-connector --no-pager >"$ZT_WORK/connector.log"
  in_ct ztna status --daemon intermediate >"$ZT_WORK/intermediate-status.log" 2>&1
  fail "ztna-connector registered" "readyz '$ready'"
fi
cpid=$(in_ct systemctl show -P MainPID ztna-connector)
grep -qE '^CapEff:\s+0+1000$' <<<"$(in_ct cat "/proc/$cpid/status" 2>/dev/null)" &&
  pass "ztna-connector: CAP_NET_ADMIN only, as ztna" ||
  fail "ztna-connector capabilities" "$(in_ct grep -E '^(Uid|CapEff)' "/proc/$cpid/status" 2>&1 | tr '\n' ' ')"

# ---- the agent (alice, granted web): uplink up, and a probe through the
# end-to-end session reaches the connector (all three sandboxed units)
in_ct systemctl start ztna-agent
wait_ready 9103
if [ "$ready" = ready ] && in_ct ztna ping -c 3 -i 0.2 web >"$ZT_WORK/ping.txt" 2>&1; then
  pass "ztna-agent: uplink up, ztna ping web answered: $(tail -1 "$ZT_WORK/ping.txt")"
else
  in_ct journalctl -u ztna-agent --no-pager >"$ZT_WORK/agent.log"
  fail "ztna-agent" "readyz '$ready', ping: $(tail -1 "$ZT_WORK/ping.txt" 2>/dev/null)"
fi

# ---- exposure scores (systemd-analyze security; 0 safest, 10 worst).
# The Intermediate has no capability and no device: it must stay "OK".
for u in intermediate connector agent; do
  line=$(in_ct systemd-analyze security "ztna-$u.service" --no-pager 2>/dev/null | tail -1)
  echo "systemd-analyze security ztna-$u: ${line#*: }"
  [ "$u" = intermediate ] && score=$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$line")
done
awk -v s="${score:-99}" 'BEGIN { exit !(s < 4.0) }' &&
  pass "ztna-intermediate exposure $score < 4.0" || fail "ztna-intermediate exposure" "'${score:-none}'"

# ---- clean stops, purge
ok=1
for u in agent connector intermediate; do
  in_ct systemctl stop "ztna-$u"
  r=$(in_ct systemctl show -P Result "ztna-$u")
  s=$(in_ct systemctl show -P ExecMainStatus "ztna-$u")
  [ "$r" = success ] && [ "$s" = 0 ] || { ok=0; fail "systemctl stop ztna-$u" "Result=$r ExecMainStatus=$s"; }
done
[ $ok = 1 ] && pass "systemctl stop: the three exit with status 0"
in_ct journalctl -u ztna-agent -u ztna-connector -u ztna-intermediate --no-pager >"$ZT_WORK/journal.txt"
# ZT_KEEP_JOURNAL=FILE keeps the three units' journal for reading.
[ -n "${ZT_KEEP_JOURNAL:-}" ] && cp "$ZT_WORK/journal.txt" "$ZT_KEEP_JOURNAL"
if in_ct dpkg --purge ztna >"$ZT_WORK/purge.log" 2>&1 && ! in_ct test -e /var/lib/ztna &&
  ! in_ct test -e /lib/systemd/system/ztna-intermediate.service; then
  pass "dpkg --purge removes units and state"
else
  fail "dpkg --purge" "see purge.log"
fi

zt_summary deb_systemd
