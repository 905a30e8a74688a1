#!/usr/bin/env bash
# The instruction-count gate: runs the engine paths of benches/benches/engine_instructions.rs
# once each under valgrind (gungraun, callgrind) and compares their instruction counts (Ir)
# with the baseline committed in benches/baseline/. Exits non-zero when any of them grew by
# more than the limit, or when a benchmark and the baseline disagree on what exists.
#
#   benches/gate.sh           check against benches/baseline/ (CI runs this)
#   benches/gate.sh --save    measure again and overwrite benches/baseline/ (on purpose: when a
#                             change is meant to cost more, or to move to a new toolchain)
#
# GATE_LIMIT (default 2%) is the largest growth allowed, as gungraun's --callgrind-limits.
# Installs what is missing: valgrind (apt-get), gungraun-runner (the version Cargo.lock holds),
# and the toolchain the baseline was measured with (rustup), since another compiler emits
# other instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT="${GATE_LIMIT:-2%}"
BASELINE=benches/baseline
NAME=committed                                    # gungraun's baseline name: *.base@committed
TARGET="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET" = /* ]] || TARGET="$PWD/$TARGET"
HOME_DIR="$TARGET/gate"                           # gungraun's --home, rebuilt on every run
OUT="$HOME_DIR/pinraft-benches/engine_instructions/engine" # gungraun's layout: package/file/group

if ! [[ "$LIMIT" =~ ^[0-9]+(\.[0-9]+)?%$ ]]; then
  echo "GATE_LIMIT must be a percentage, like 2%" >&2
  exit 2
fi

case "${1:-}" in
  "") mode=check ;;
  --save) mode=save ;;
  *) echo "usage: benches/gate.sh [--save]" >&2; exit 2 ;;
esac

say() { printf 'gate: %s\n' "$*" >&2; }

ensure_valgrind() {
  command -v valgrind >/dev/null && return
  say "valgrind is missing; installing it with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  command -v apt-get >/dev/null || { say "no apt-get: install valgrind by hand"; exit 2; }
  $sudo apt-get update -qq && $sudo apt-get install -y -qq valgrind >/dev/null
}

ensure_runner() {
  local want have
  want=$(awk '$0 == "name = \"gungraun\"" { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
  [ -n "$want" ] || { say "gungraun is not in Cargo.lock"; exit 2; }
  have=$(gungraun-runner --version 2>/dev/null | awk '{ print $2 }' || true)
  [ "$have" = "$want" ] && return
  # A debug build: it installs in half the time, and the runner only parses small files.
  say "installing gungraun-runner $want (found: ${have:-none}); about two minutes, once"
  cargo install gungraun-runner --version "$want" --locked --debug --quiet
}

# Sets CARGO to the command that builds with the baseline's toolchain.
choose_toolchain() {
  CARGO=(cargo)
  local have want
  have=$(rustc --version | awk '{ print $2 }')
  [ "$mode" = save ] && return
  [ -e "$BASELINE/TOOLCHAIN" ] || { say "no baseline yet: run benches/gate.sh --save"; exit 1; }
  want=$(cat "$BASELINE/TOOLCHAIN")
  [ "$have" = "$want" ] && return
  if ! command -v rustup >/dev/null; then
    say "baseline from rustc $want, this is $have, no rustup to fetch it: counts may differ"
    return
  fi
  rustup toolchain list | grep -q "^$want-" || rustup toolchain install "$want" --profile minimal
  CARGO=(cargo "+$want")
}

# Copies the committed baseline into gungraun's home, where --baseline looks for it.
stage_baseline() {
  rm -rf "$HOME_DIR"
  local file bench
  for file in "$BASELINE"/*.out; do
    [ -e "$file" ] || continue
    bench=$(basename "$file" .out)
    mkdir -p "$OUT/$bench"
    cp "$file" "$OUT/$bench/callgrind.$bench.out.base@$NAME"
  done
}

# Copies gungraun's fresh baseline back into benches/baseline/, keeping of each callgrind file
# only its header and totals: all that a comparison reads, a kilobyte instead of a profile.
keep_baseline() {
  rm -f "$BASELINE"/*.out
  local file bench
  for file in "$OUT"/*/callgrind.*.out.base@"$NAME"; do
    bench=$(basename "$(dirname "$file")")
    awk '/^totals:/ { print; next } !body { print } /^summary:/ { body = 1 }' "$file" \
      >"$BASELINE/$bench.out"
  done
}

# Every benchmark needs a committed baseline and every committed baseline a benchmark, or a
# new path would go unguarded (gungraun creates a missing baseline instead of comparing).
check_coverage() {
  local ok=0 file bench
  for file in "$OUT"/*/callgrind.*.out; do
    bench=$(basename "$(dirname "$file")")
    [ -e "$BASELINE/$bench.out" ] || { say "no committed baseline for $bench"; ok=1; }
  done
  for file in "$BASELINE"/*.out; do
    bench=$(basename "$file" .out)
    [ -e "$OUT/$bench/callgrind.$bench.out" ] \
      || { say "baseline for $bench, which no benchmark measures"; ok=1; }
  done
  return $ok
}

# One line per benchmark from gungraun's report: name, instructions now and in the baseline,
# change (in save mode, instructions only).
summarize() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | awk -v save="$2" '
    /^engine_instructions::/ { split($1, p, "::"); split($2, id, ":"); name = p[3] "/" id[1] }
    /^  Instructions:/ {
      split($2, ir, "|"); change = $3; for (i = 4; i <= NF; i++) change = change " " $i
      if (save) printf "  %-36s %10s\n", name, ir[1]
      else printf "  %-36s %10s %10s  %s\n", name, ir[1], ir[2], change
    }'
}

ensure_valgrind
ensure_runner
mkdir -p "$BASELINE"
choose_toolchain
say "toolchain: $("${CARGO[@]}" --version), limit ir=$LIMIT, $(valgrind --version)"

if [ "$mode" = save ]; then
  rm -rf "$HOME_DIR"
  args=(--save-baseline="$NAME")
else
  stage_baseline
  args=(--baseline="$NAME" --callgrind-limits="ir=$LIMIT")
fi

log="$HOME_DIR.log"
mkdir -p "$(dirname "$log")"
set +e
"${CARGO[@]}" bench --locked -p pinraft-benches --features gate --bench engine_instructions \
  -- --home="$HOME_DIR" "${args[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if [ "$mode" = save ]; then
  printf '\ngate: %-36s %10s\n' benchmark ir >&2
  summarize "$log" 1 >&2
else
  printf '\ngate: %-36s %10s %10s  %s\n' benchmark ir baseline change >&2
  summarize "$log" "" >&2
fi

if [ "$mode" = save ]; then
  [ "$status" -eq 0 ] || { say "the benchmarks failed (exit $status); baseline unchanged"; exit 1; }
  keep_baseline
  rustc --version | awk '{ print $2 }' >"$BASELINE/TOOLCHAIN"
  say "saved $(ls "$BASELINE"/*.out | wc -l) baselines and TOOLCHAIN in $BASELINE/: commit them"
  exit 0
fi
coverage=0
check_coverage || coverage=1
# gungraun exits 3 on a regression and lists them under "Regressions:".
if [ "$status" -eq 3 ] || grep -q '^Regressions:' "$log"; then
  say "FAIL: instruction counts grew past ir=$LIMIT (above). If the cost is intended, run"
  say "benches/gate.sh --save and commit benches/baseline/ with the change that explains it."
  exit 1
elif [ "$status" -ne 0 ]; then
  say "FAIL: the benchmarks did not run (exit $status)"
  exit 1
elif [ "$coverage" -ne 0 ]; then
  say "FAIL: benchmarks and baseline disagree; run benches/gate.sh --save and commit"
  exit 1
fi
say "ok: no engine path costs more than ir=$LIMIT over the baseline"
