#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.c) and runs each for N seconds
# (default 20) from a copy of its seed corpus, so the tree stays clean. A
# crash fails the run and leaves the reproducer in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
make -s fuzz
for bin in build-fuzz/fuzz_*; do
  name=${bin#build-fuzz/fuzz_}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  echo "fuzz $name: ${secs}s from $(ls "$work" | wc -l) seed(s)"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build-fuzz/ \
    "$work" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz $name FAILED" >&2; exit 1; }
  rm -rf "$work"
  trap - EXIT
done
