#!/usr/bin/env bash
# The Intermediate's container image (deploy/container/Containerfile), built
# and run with podman, serving a real deployment: the connector and the
# agent run outside it as plain processes in the namespace topology of
# tests/netns/lib.sh, the container runs in the Intermediate's namespace
# (--network ns:/run/netns/zt-i-PID), and traffic crosses the tunnel.
#
#   base       a Debian 12 root file system made by mmdebstrap from this
#              machine's apt sources (no image registry is reachable here),
#              cached in /var/cache/ztna-tests/ keyed by sources, options
#              and mmdebstrap version, imported as localhost/debian:12-slim
#              (kept: it is the cache)
#   build      `podman build --isolation=chroot --build-arg BASE=...`,
#              --target intermediate; prints the image size
#   non-root   the daemon in the container runs as uid 10001, read-only
#              root file system, no capabilities
#   readyz     /readyz on metrics_listen answers 200 from the namespace
#   status     `podman exec ... ztna status` lists the connector and agent
#   ping, http ping and a 20 MB download through the tunnel
#
# Containers, the built image and every image this run created are removed
# on every exit path; the cached base stays. Packages (podman, runc,
# buildah, mmdebstrap) come from scripts/deps.sh when this test runs. SKIP
# (with the reason) when podman cannot run a container here. Prints its
# wall time; about 1 minute with a warm cache, 2 without.
# shellcheck source-path=SCRIPTDIR
set -u
cd "$(dirname "$0")/../.." || exit 1
SECONDS=0
# shellcheck source=../netns/ztna-env.sh
source tests/netns/ztna-env.sh
# shellcheck source=../netns/harness.sh
source tests/netns/harness.sh
zt_need_bins ztna ztna-connector ztna-agent

CACHE=/var/cache/ztna-tests
BASE=localhost/debian:12-slim
IMAGE=localhost/ztna-intermediate:test-$$
IMAGE_C=localhost/ztna-connector:test-$$
CTR=ztna-ctr-test-$$
CTR_C=ztna-ctr-conn-test-$$
UID_IM=10001
pod() { podman --runtime runc "$@"; }

finish() {
  echo
  echo "ctr_podman: $passes passed, $skips skipped, $failures failed; wall time ${SECONDS} s"
  exit "$failures"
}

# Cleanup, on top of the harness's namespaces: our container, our image
# and every image that did not exist before our build (build stages).
images_before=""
eval "$(declare -f zt_env_down | sed '1s/zt_env_down/_zt_env_down_base/')"
zt_env_down() {
  if command -v podman >/dev/null; then
    pod rm -f -t 2 "$CTR" "$CTR_C" >/dev/null 2>&1
    pod rmi -f "$IMAGE" "$IMAGE_C" >/dev/null 2>&1
    if [ -n "$images_before" ]; then
      local id
      for id in $(podman images -aq --no-trunc 2>/dev/null); do
        grep -qx "$id" <<<"$images_before" || podman rmi -f "$id" >/dev/null 2>&1
      done
    fi
  fi
  _zt_env_down_base
}

zt_env_init # the work directory first: every exit path cleans it up
if ! bash scripts/deps.sh podman runc buildah mmdebstrap >/dev/null 2>&1; then
  skip container "podman, runc, buildah or mmdebstrap not installable"
  finish
fi

# ---- the base image
# The machine's own Debian apt sources (files naming a Debian mirror),
# given to mmdebstrap as they are.
srcfiles=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -v '^#' "$f" | grep -q 'debian' && srcfiles+=("$f")
done
if [ ${#srcfiles[@]} -eq 0 ]; then
  skip container "no Debian apt sources on this machine for mmdebstrap"
  finish
fi
# Like the official slim image: no documentation, manuals or translations.
mmd_opts=(--variant=minbase --mode=root --format=tar
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --aptopt='APT::Install-Recommends "false"')
key=$({ cat "${srcfiles[@]}"; echo "${mmd_opts[*]}"; mmdebstrap --version; } | sha256sum | cut -c1-16)
tarball="$CACHE/ctr-debian12-slim-$key.tar"
mkdir -p "$CACHE"
if [ ! -s "$tarball" ]; then
  echo "making the base root file system (mmdebstrap, cached as $tarball)"
  # Another run making the same file waits for it (flock), then finds it.
  if ! (flock 9 && { [ -s "$tarball" ] ||
    { mmdebstrap "${mmd_opts[@]}" bookworm "$tarball.tmp.$$" "${srcfiles[@]}" \
      >"$ZT_WORK/mmdebstrap.log" 2>&1 && mv "$tarball.tmp.$$" "$tarball"; }; }) 9>"$CACHE/ctr-base.lock"; then
    tail -5 "$ZT_WORK/mmdebstrap.log"
    rm -f "$tarball.tmp.$$"
    skip container "mmdebstrap could not make a Debian 12 root file system from the apt sources"
    finish
  fi
  echo "base made in ${SECONDS} s"
fi
if [ "$(podman image inspect --format '{{index .Labels "ztna.base"}}' "$BASE" 2>/dev/null)" != "$key" ]; then
  podman rmi -f "$BASE" >/dev/null 2>&1
  if ! out=$(podman import --change "LABEL ztna.base=$key" --change 'CMD ["bash"]' \
    "$tarball" "$BASE" 2>&1); then
    skip container "podman import of the base failed: $out"
    finish
  fi
fi
if ! out=$(pod run --rm --network none --ulimit nofile=1024:20000 --ulimit nproc=1000:1000 \
  "$BASE" true 2>&1); then
  skip container "podman cannot run a container here: $out"
  finish
fi
images_before=$(podman images -aq --no-trunc)

# ---- the images (the connector's shares the build stage's layers; every
# layer this run made is removed at exit)
build() { # TARGET IMAGE
  local t0=$SECONDS size bsize
  if podman build --isolation=chroot --build-arg BASE="$BASE" \
    -f deploy/container/Containerfile --target "$1" -t "$2" . >"$ZT_WORK/build-$1.log" 2>&1; then
    size=$(podman image inspect --format '{{.Size}}' "$2")
    bsize=$(podman image inspect --format '{{.Size}}' "$BASE")
    pass "build $1: $2 in $((SECONDS - t0)) s, $((size / 1000000)) MB ($(((size - bsize) / 1000000)) MB over the base's $((bsize / 1000000)) MB)"
  else
    tail -30 "$ZT_WORK/build-$1.log"
    fail "build $1" "podman build failed"
    finish
  fi
}
build intermediate "$IMAGE"
build connector "$IMAGE_C"

# ---- the deployment: everything but the Intermediate as in the netns tests
# Relay only: every packet of the traffic below crosses the container.
ZT_DIRECT=false
zt_topology_up || { fail topology; finish; }
zt_make_pki || { fail pki; finish; }
zt_write_configs || { fail configs; finish; }
zt_start_backends || { fail backends; finish; }
# /etc/ztna of the container: its configuration and credentials, the key
# readable by the daemon's user only (as an operator would install it).
etc="$ZT_WORK/etc-ztna"
mkdir -m 0755 "$etc"
cp "$ZT_WORK/pki/ca.pem" "$ZT_WORK/pki/intermediate.pem" "$ZT_WORK/pki/intermediate.key" "$etc/"
chown "$UID_IM:$UID_IM" "$etc/intermediate.key" && chmod 0400 "$etc/intermediate.key"
chmod 0644 "$etc/ca.pem" "$etc/intermediate.pem"
sed -e "s|$ZT_WORK/pki/|/etc/ztna/|g" -e "s|\"$ZT_WORK/state\"|\"/var/lib/ztna\"|" \
  -e 's|"agent_pool"|"metrics_listen": "198.51.100.1:9101",\n  "agent_pool"|' \
  "$ZT_WORK/intermediate.json" >"$etc/intermediate.json"
chmod 0644 "$etc/intermediate.json"

# ctr_start NAME NS IMAGE ETC PATTERN FLAG...: runs IMAGE as container NAME
# in namespace NS with ETC as /etc/ztna, as deploy/k8s does (read-only root,
# every capability dropped but those FLAG adds, no privilege gain), and
# waits (20 s at most) until its log shows PATTERN; FAIL NAME otherwise.
ctr_start() {
  local name=$1 ns=$2 image=$3 etc=$4 pattern=$5 i
  shift 5
  if ! pod run -d --name "$name" --network "ns:/run/netns/$ns" \
    --ulimit nofile=1024:20000 --ulimit nproc=1000:1000 \
    --read-only --cap-drop ALL --security-opt no-new-privileges "$@" \
    -v "$etc:/etc/ztna:ro" "$image" >"$ZT_WORK/run-$name.out" 2>&1; then
    fail "$name" "podman run: $(cat "$ZT_WORK/run-$name.out")"
    return 1
  fi
  for ((i = 0; i < 200; i++)); do
    podman logs "$name" 2>&1 | grep -q -- "$pattern" && return 0
    sleep 0.1
  done
  fail "$name" "no '$pattern' in its log: $(podman logs "$name" 2>&1 | tail -5)"
  return 1
}

# The Intermediate: state_dir (/var/lib/ztna) and the control socket's
# directory (/run/ztna) writable by its user.
ctr_start "$CTR" "$ZT_NS_I" "$IMAGE" "$etc" "listening on udp" \
  --tmpfs /var/lib/ztna:U,mode=0700 --tmpfs /run/ztna:U,mode=0700 || finish

pid=$(podman inspect --format '{{.State.Pid}}' "$CTR")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
if [ "$uid" = "$UID_IM" ] && [ "$capeff" = 0000000000000000 ]; then
  pass "non-root: ztna-intermediate runs as uid $uid with no effective capabilities"
else
  fail non-root "uid '$uid', CapEff '$capeff'"
fi

code=$(ip netns exec "$ZT_NS_I" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
  http://198.51.100.1:9101/readyz)
if [ "$code" = 200 ]; then
  pass "readyz: 200 on metrics_listen 198.51.100.1:9101"
else
  fail readyz "HTTP $code"
fi

zt_start_connector
zt_wait_log connector "service echo registered" 20 || { fail connector "not registered"; finish; }
zt_start_agent
zt_wait_log agent "added route $ECHO_VIP" 20 || { fail agent "no route"; finish; }

st=$(pod exec "$CTR" ztna status 2>&1)
if grep -q conn-a <<<"$st" && grep -q alice <<<"$st"; then
  pass "status: podman exec ztna status lists conn-a and alice"
else
  fail status "$st"
fi

if ip netns exec "$ZT_NS_A" ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >"$ZT_WORK/ping.out" 2>&1; then
  pass "ping: $WEB_VIP through the container's relay ($(grep -o '[0-9]* received' "$ZT_WORK/ping.out"))"
else
  fail ping "$(tail -2 "$ZT_WORK/ping.out")"
fi
zt_http_blob ""

# ---- the connector's image, run as docs/deploy-k8s.md and the
# Containerfile say: NET_ADMIN and /dev/net/tun only, read-only root, in
# the connector's namespace with forwarding already on (a pod's sysctls).
zt_stop connector
etc_c="$ZT_WORK/etc-ztna-conn"
mkdir -m 0755 "$etc_c"
cp "$ZT_WORK/pki/ca.pem" "$ZT_WORK/pki/conn-a.pem" "$ZT_WORK/pki/conn-a.key" "$etc_c/"
sed -e "s|$ZT_WORK/pki/|/etc/ztna/|g" "$ZT_WORK/connector.json" >"$etc_c/connector.json"
ip netns exec "$ZT_NS_C" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
ok=0
ctr_start "$CTR_C" "$ZT_NS_C" "$IMAGE_C" "$etc_c" "service echo registered" \
  --cap-add NET_ADMIN --device /dev/net/tun --tmpfs /run/ztna:mode=0700 && ok=1
if [ $ok = 1 ] && ip netns exec "$ZT_NS_A" ping -c 3 -i 0.2 -W 2 "$WEB_VIP" >"$ZT_WORK/ping.out" 2>&1 &&
  ip netns exec "$ZT_NS_A" curl -sf --max-time 20 -o /dev/null "http://$WEB_VIP:8080/blob"; then
  pass "connector container: registered, ping and http through it (--cap-add NET_ADMIN --device /dev/net/tun)"
elif [ $ok = 1 ]; then
  fail connector-container "no traffic through it: $(tail -2 "$ZT_WORK/ping.out")"
fi
finish
