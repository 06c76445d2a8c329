#!/usr/bin/env bash
# `make mutants`: each security rule must have a test that fails without it.
#
# tests/mutants.list holds one mutant per line, four TAB-separated fields:
#
#   FILE<TAB>ORIGINAL<TAB>REPLACEMENT<TAB>RULE DESCRIPTION
#
# Blank lines and lines starting with # are ignored. ORIGINAL is a literal
# string that must occur exactly once in FILE (so a refactor that moves or
# rewrites the rule breaks the line loudly instead of silently testing
# nothing); REPLACEMENT is literal too.
#
# The tree is copied once to a temporary directory (with build/, if any, so
# the first build there is incremental) and built once. Then, per mutant:
# the one file is edited, `make all` must succeed (a mutant that does not
# compile proves nothing: "broken mutant", and the run fails), `make unit`
# must FAIL (the mutant is killed), and the file is restored. Exit status 0
# only when every mutant is killed.
#
# Killer first: tests/mutants.killers names, per mutant (FILE<TAB>ORIGINAL
# <TAB>TEST), the test binary that killed it last time. That one is built
# and run alone first (the mutated file compiles on the way); when it fails
# the mutant is killed without relinking and running everything else. A
# hint only saves time, it never decides: a missing, stale or wrong hint
# (the test passes) falls back to the whole `make all` + `make unit`. With
# MUTANTS_UPDATE_KILLERS=1 the file is rewritten from this run's killers.
#
# MUTANTS_LIST=FILE reads another list; MUTANT_TIMEOUT (s, default 300)
# bounds each `make unit` (a hang counts as killed: the suite did not pass).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
list=${MUTANTS_LIST:-tests/mutants.list}
jobs=${MUTANT_JOBS:-2}
killers=${MUTANTS_KILLERS:-tests/mutants.killers}
timeout_s=${MUTANT_TIMEOUT:-300}

die() { echo "mutants: $*" >&2; exit 2; }
[ -r "$list" ] || die "cannot read $list"
command -v python3 >/dev/null || die "python3 is needed (literal search and replace)"

# Literal operations on a file, by python3: bash and sed would read
# ORIGINAL as a pattern. count FILE ORIGINAL | apply FILE ORIGINAL REPL
lit() {
  python3 - "$@" <<'EOF'
import sys
op, path, orig = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path, encoding="utf-8").read()
if op == "count":
    print(text.count(orig))
else:
    assert text.count(orig) == 1
    open(path, "w", encoding="utf-8").write(text.replace(orig, sys.argv[4], 1))
EOF
}

# ---- read and check every line before building anything
files=() origs=() repls=() rules=() lines=()
n=0 bad=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  case $line in "" | \#*) continue ;; esac
  IFS=$'\t' read -r f o r d extra <<<"$line"
  if [ -z "${f:-}" ] || [ -z "${o:-}" ] || [ -z "${d:-}" ] || [ -n "${extra:-}" ]; then
    echo "$list:$n: expected FILE<TAB>ORIGINAL<TAB>REPLACEMENT<TAB>RULE (4 fields)" >&2
    bad=1
    continue
  fi
  if [ ! -f "$f" ]; then
    echo "$list:$n: no such file: $f" >&2
    bad=1
    continue
  fi
  if [ "$o" = "$r" ]; then
    echo "$list:$n: REPLACEMENT equals ORIGINAL: nothing is mutated" >&2
    bad=1
    continue
  fi
  c=$(lit count "$f" "$o")
  if [ "$c" != 1 ]; then
    echo "$list:$n: ORIGINAL occurs $c times in $f (must be exactly once): $o" >&2
    bad=1
    continue
  fi
  files+=("$f") origs+=("$o") repls+=("$r") rules+=("$d") lines+=("$n")
done <"$list"
[ "$bad" = 0 ] || die "fix $list first"
[ "${#files[@]}" -gt 0 ] || die "no mutants in $list"

# ---- killer hints (see the top); keyed by FILE<TAB>ORIGINAL
declare -A hint=()
if [ -r "$killers" ]; then
  while IFS=$'\t' read -r hf ho ht; do
    [ -n "${ht:-}" ] && hint["$hf"$'\t'"$ho"]=$ht
  done <"$killers"
fi
found=() # this run's killer of each mutant (test binary name, or "")

# fast_kill I: builds and runs mutant I's hinted test alone. 0 when that
# test failed (killed), 1 otherwise (no hint, not built, or it passed).
fast_kill() {
  local t=${hint["${files[$1]}"$'\t'"${origs[$1]}"]:-}
  [ -n "$t" ] || return 1
  make -C "$tmp" -j"$jobs" "build/tests/$t" >"$tmp/build.log" 2>&1 || return 1
  ! (cd "$tmp" && timeout "$timeout_s" "build/tests/$t") >"$tmp/unit.log" 2>&1
}

# ---- a private copy of the tree, built once
tmp=$(mktemp -d /tmp/ztna-mutants.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# Everything but VCS data and the other builds; cp -a keeps timestamps, so
# a copied build/ is up to date and only mutated files recompile.
for e in "$root"/* "$root"/.[!.]*; do
  case $(basename "$e") in .git | build-san | build-fuzz) continue ;; esac
  [ -e "$e" ] && cp -a "$e" "$tmp/"
done
if ! make -C "$tmp" -j"$jobs" all >"$tmp/build.log" 2>&1; then
  tail -n 30 "$tmp/build.log" >&2
  die "the unmutated tree does not build"
fi
if ! timeout "$timeout_s" make -C "$tmp" unit >"$tmp/unit.log" 2>&1; then
  grep -E '^(FAIL|==)' "$tmp/unit.log" | grep -B1 '^FAIL' >&2
  die "make unit fails on the unmutated tree: no mutant could be judged"
fi

# ---- one mutant at a time
killed=0 survived=0 broken=0
for i in "${!files[@]}"; do
  f=${files[$i]} rule=${rules[$i]}
  cp -p "$tmp/$f" "$tmp/.orig"
  lit apply "$tmp/$f" "${origs[$i]}" "${repls[$i]}"
  touch "$tmp/$f" # newer than its object even within one timestamp tick
  found[$i]=""
  if fast_kill "$i"; then
    t=${hint["$f"$'\t'"${origs[$i]}"]}
    caught=$(grep -E '^FAIL ' "$tmp/unit.log" | head -n 3 | cut -c6- | paste -sd, -)
    printf 'killed   %s (by %s%s)\n' "$rule" "$t" "${caught:+: $caught}"
    killed=$((killed + 1))
    found[$i]=$t
  elif ! make -C "$tmp" -j"$jobs" all >"$tmp/build.log" 2>&1; then
    printf 'BROKEN   %s (%s:%s does not compile)\n' "$rule" "$list" "${lines[$i]}"
    grep -m3 'error:' "$tmp/build.log" | sed 's/^/         /'
    broken=$((broken + 1))
  elif timeout "$timeout_s" make -C "$tmp" unit >"$tmp/unit.log" 2>&1; then
    printf 'SURVIVED %s (%s:%s)\n' "$rule" "$list" "${lines[$i]}"
    survived=$((survived + 1))
  else
    # Which cases caught it: the first few FAIL lines.
    caught=$(grep -E '^FAIL ' "$tmp/unit.log" | head -n 3 | cut -c6- | paste -sd, -)
    # The binary that failed: the last "== build/tests/X" before it stopped.
    found[$i]=$(grep -E '^== ' "$tmp/unit.log" | tail -n 1 | sed 's|.*/||')
    printf 'killed   %s (by %s%s)\n' "$rule" "${found[$i]}" "${caught:+: $caught}"
    killed=$((killed + 1))
  fi
  # Restore: the original content, a fresh timestamp so it recompiles.
  cp "$tmp/.orig" "$tmp/$f"
  touch "$tmp/$f"
done

if [ "${MUTANTS_UPDATE_KILLERS:-0}" = 1 ] && [ "$list" != tests/mutants.list ]; then
  echo "mutants: $killers not rewritten: only a run of the whole tests/mutants.list does" >&2
elif [ "${MUTANTS_UPDATE_KILLERS:-0}" = 1 ]; then
  {
    echo "# Written by MUTANTS_UPDATE_KILLERS=1 make mutants: per mutant of"
    echo "# tests/mutants.list, the test binary that killed it (a hint that"
    echo "# only orders the work: scripts/mutants.sh)."
    for i in "${!files[@]}"; do
      [ -n "${found[$i]:-}" ] && printf '%s\t%s\t%s\n' "${files[$i]}" "${origs[$i]}" "${found[$i]}"
    done
  } >"$root/$killers"
  echo "mutants: $killers rewritten"
fi

total=${#files[@]}
summary="killed $killed/$total"
[ "$survived" = 0 ] || summary+=", $survived survived"
[ "$broken" = 0 ] || summary+=", $broken broken (must compile)"
echo "$summary"
[ "$killed" = "$total" ]
