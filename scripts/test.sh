#!/usr/bin/env bash
# `make test`: everything, on a fresh Debian 12 machine, as root.
#   1. Debian packages (scripts/deps.sh)
#   2. plain build; unit and simulator tests; mutants (every security rule
#      in tests/mutants.list removed in turn must make the tests fail)
#   3. ASan+UBSan build; unit and simulator tests again
#   4. arm64: cross-build; unit and simulator tests under qemu-user
#      (scripts/arm64.sh, which installs the cross toolchain and the :arm64
#      libraries when they are missing)
#   5. every libFuzzer target, briefly, from its seed corpus
#   6. namespace end-to-end tests, with the plain and the sanitized daemons,
#      and the delay-and-loss bridge of the benches (tests/netns/delayfwd.sh)
#   7. deployment: the kustomize renders, the container images under podman,
#      the .deb booted under systemd in a container (tests/deploy/)
# FUZZ_SECONDS (default 20) sets each fuzzer's run; SKIP_NETNS=1 skips 6 and
# the podman part of 7; SKIP_DEPLOY=1 skips the .deb test.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# Each step's header says how long the one before took and the total so
# far: the whole run is meant to stay within 30 minutes on 2 cores.
t_start=$(date +%s)
t_prev=$t_start
step() {
  local now
  now=$(date +%s)
  printf '\n==== %s  (previous step %d s; %d s so far)\n' "$*" \
    $((now - t_prev)) $((now - t_start))
  t_prev=$now
}

step "dependencies"
bash scripts/deps.sh

step "build (plain)"
make -j"$jobs" all
step "unit and simulator tests (plain)"
make unit
step "mutants: each security rule has a test that fails without it"
make mutants

step "build (ASan+UBSan)"
make -j"$jobs" SAN=1 all
step "unit and simulator tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 make SAN=1 unit

step "arm64: cross-build, unit and simulator tests under qemu-user (scripts/arm64.sh)"
t_arm=$(date +%s)
bash scripts/arm64.sh
echo "arm64 step: $(($(date +%s) - t_arm)) s"

step "fuzz targets (${FUZZ_SECONDS:-20} s each)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

if [ "${SKIP_NETNS:-0}" != 1 ]; then
  step "namespace end-to-end tests (plain)"
  BUILD=build bash tests/netns/e2e.sh
  BUILD=build bash tests/netns/hostile_lan.sh
  BUILD=build bash tests/netns/netcheck.sh
  BUILD=build bash tests/netns/nat_matrix.sh
  BUILD=build bash tests/netns/delayfwd.sh
  BUILD=build bash tests/netns/multi_intermediate.sh
  BUILD=build bash tests/netns/roaming.sh
  BUILD=build bash tests/netns/fragments.sh
  BUILD=build bash tests/netns/recovery.sh
  BUILD=build bash tests/netns/pmtu.sh
  BUILD=build bash tests/netns/certs.sh
  BUILD=build bash tests/netns/dns.sh
  BUILD=build bash tests/netns/audit.sh
  BUILD=build bash tests/netns/policy.sh
  BUILD=build bash tests/netns/revoke.sh
  BUILD=build bash tests/netns/two_connectors.sh
  BUILD=build bash tests/netns/groups.sh
  BUILD=build bash tests/netns/addresses.sh
  BUILD=build bash tests/netns/metrics.sh
  BUILD=build bash tests/netns/rotate.sh   # prints its wall time
  BUILD=build bash tests/netns/dashboard.sh
  BUILD=build bash tests/netns/workers.sh
  step "namespace end-to-end tests (ASan+UBSan)"
  # QUICK=1 leaves out the opacity check on purpose (the plain pass has it).
  # The daemons run with ASan and UBSan but without LeakSanitizer: its exit
  # check hung twice in ~10 runs here (spinning under its own ptrace
  # tracer with a second, blocked SIGTERM pending), and the core's leaks
  # are checked by the unit and simulator runs above with detect_leaks=1.
  export ASAN_OPTIONS=detect_leaks=0
  BUILD=build-san QUICK=1 ZT_EXPECTED_SKIPS="${ZT_EXPECTED_SKIPS:+$ZT_EXPECTED_SKIPS,}opacity" \
    bash tests/netns/e2e.sh
  BUILD=build-san bash tests/netns/hostile_lan.sh
  # Direct paths under ASan: forged and replayed probes reach the parsers.
  BUILD=build-san bash tests/netns/nat_matrix.sh
  # Fragments from agents reach the connector's reassembly under ASan.
  BUILD=build-san bash tests/netns/fragments.sh
  # DNS queries from the agent's host reach the agent's DNS parser.
  BUILD=build-san bash tests/netns/dns.sh
  # Client certificate chains and HTTP requests reach the dashboard's checks.
  BUILD=build-san bash tests/netns/dashboard.sh
  # Packets of peers on two worker threads, under ASan, then ThreadSanitizer.
  BUILD=build-san bash tests/netns/workers.sh
  step "the Intermediate's workers under ThreadSanitizer (build-tsan)"
  make -j"$jobs" SAN=thread bins
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    BUILD=build-tsan bash tests/netns/workers.sh
fi
step "deployment: Kubernetes manifests rendered and checked (tests/deploy/k8s_render.sh)"
BUILD=build bash tests/deploy/k8s_render.sh
if [ "${SKIP_NETNS:-0}" != 1 ]; then
  step "deployment: container images under podman (tests/deploy/ctr_podman.sh, ~1 min)"
  BUILD=build bash tests/deploy/ctr_podman.sh
fi
if [ "${SKIP_DEPLOY:-0}" != 1 ]; then
  step "deployment: the .deb booted under systemd in a container (prints its wall time)"
  bash tests/deploy/deb_systemd.sh
fi
step "all tests passed"
