#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.c) and runs each for N seconds
# (default 20) from a copy of its seed corpus, so the tree stays clean. A
# crash fails the run and leaves the reproducer in build-fuzz/. The
# node-level targets (fuzz_intermediate, fuzz_connector: whole nodes over
# fuzz/mock_quic.c) run here like the parser targets, from
# fuzz/corpus/intermediate and fuzz/corpus/connector.
#
# Each fuzzer is one process on one core: as many run at once as there are
# cores (FUZZ_JOBS to change it), each target's lines printed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
make -s -j"$jobs" fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One target in its own directory; its report in $work/NAME.out, and
# $work/NAME.failed when it found something.
run_one() { # NAME
  local name=$1 dir=$work/$1
  mkdir -p "$dir/corpus"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$dir/corpus/"
  {
    echo "fuzz $name: ${secs}s from $(ls "$dir/corpus" | wc -l) seed(s)"
    if "build-fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix=build-fuzz/ "$dir/corpus" >"$dir/log" 2>&1; then
      grep -E "stat::number_of_executed_units" "$dir/log" || true
    else
      tail -40 "$dir/log"
      echo "fuzz $name FAILED (reproducer in build-fuzz/)"
      touch "$work/$name.failed"
    fi
  } >"$work/$name.out" 2>&1
}

names=()
for bin in build-fuzz/fuzz_*; do names+=("${bin#build-fuzz/fuzz_}"); done
running=0
for name in "${names[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$name" &
  running=$((running + 1))
done
wait
failed=0
for name in "${names[@]}"; do
  cat "$work/$name.out"
  [ -e "$work/$name.failed" ] && failed=1
done
exit "$failed"
