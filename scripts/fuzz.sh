#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.c) and runs each for N seconds
# (default 20) from a copy of its seed corpus, so the tree stays clean. A
# crash fails the run and leaves the reproducer in build-fuzz/. The
# node-level targets (fuzz_intermediate, fuzz_connector: whole nodes over
# fuzz/mock_quic.c) run here like the parser targets, from
# fuzz/corpus/intermediate and fuzz/corpus/connector.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
make -s fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for bin in build-fuzz/fuzz_*; do
  name=${bin#build-fuzz/fuzz_}
  rm -rf "$work/corpus" && mkdir -p "$work/corpus"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/corpus/"
  echo "fuzz $name: ${secs}s from $(ls "$work/corpus" | wc -l) seed(s)"
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix=build-fuzz/ "$work/corpus" >"$work/log" 2>&1; then
    tail -40 "$work/log" >&2
    echo "fuzz $name FAILED (reproducer in build-fuzz/)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units" "$work/log" || true
done
