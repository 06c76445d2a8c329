#!/usr/bin/env bash
# Installs the Debian 12 packages ztna needs to build, test and demo, if any
# are missing. Idempotent; needs root (or nothing to install).
# Arguments: more packages, for a test that alone needs them (e.g.
# `deps.sh podman runc buildah mmdebstrap`), installed the same way.
set -euo pipefail

pkgs=(
  make gcc clang libclang-rt-14-dev pkg-config
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev   # QUIC + TLS
  libnftables-dev libnetfilter-conntrack-dev                  # connector: nft, conntrack
  libmnl-dev                                                  # agent: rtnetlink watch (roaming)
  iproute2 nftables iputils-ping iperf3 curl python3 tshark   # tests, demo
  conntrack tcpdump                                           # tests
  openssh-server openssh-client                               # tests: ssh through the tunnel
  openssl                                                     # tests: certificates with any dates
  bind9-dnsutils                                              # tests, demo: dig asks the agent's DNS
  libmicrohttpd-dev                                           # daemons: /metrics, /healthz, /readyz (an HTTP server fit for an epoll loop)
  prometheus                                                  # tests: promtool and a real server scrape /metrics
  chromium                                                    # tests: the dashboard in a real (headless) browser
)
# Arguments: optional groups, installed only when a target asks for them
# by name (`bash scripts/deps.sh deb`), or single Debian packages a test
# needs (`bash scripts/deps.sh podman runc`), not for every build.
for arg in "$@"; do
  case "$arg" in
    # make deb and tests/deploy/deb_systemd.sh: the packaging tools, lintian,
    # a Debian 12 root file system and systemd-nspawn to boot it.
    deb) pkgs+=(dpkg-dev debhelper lintian man-db mmdebstrap systemd-container) ;;
    *) pkgs+=("$arg") ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: need root to install packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
