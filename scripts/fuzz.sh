#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (see tests/fuzz/README.md) and keeps what they find.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs among parser, event_line, http (default all three).
# Configures and builds a clang build with JOURNEY_FUZZ=ON in build/fuzz, then runs each fuzzer
# for SECONDS under nice, on a scratch copy of its corpus, crash inputs going to
# tests/fuzz/crashes/TARGET/. Then merges (-merge=1) the committed corpus and the new inputs into a
# minimized corpus that replaces tests/fuzz/corpus/TARGET/. An empty corpus is first seeded by
# tests/fuzz/make_seeds.py. Logs: $FUZZ_LOGS/TARGET.log and TARGET.merge.log.
#
# Environment:
#   FUZZ_PARALLEL=1   run the targets concurrently (default: one after the other)
#   FUZZ_ARGS         more libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go on after a crash
#   FUZZ_BUILD        build directory (default build/fuzz)
#   FUZZ_LOGS         log and scratch directory (default /tmp/journey-fuzz)
#   FUZZ_JOBS         build parallelism (default 2)
#   FUZZ_NICE         nice level of the fuzzers (default 10)
#   FUZZ_NO_MERGE=1   keep the committed corpus as it is
#   FUZZ_NO_BUILD=1   run the fuzzers already built (skip configure and build)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(parser event_line http); fi
for t in "${targets[@]}"; do
  case $t in
    parser|event_line|http) ;;
    *) echo "fuzz.sh: unknown target '$t' (parser, event_line, http)" >&2; exit 2 ;;
  esac
done

build=${FUZZ_BUILD:-build/fuzz}
logs=${FUZZ_LOGS:-/tmp/journey-fuzz}
nice_level=${FUZZ_NICE:-10}
mkdir -p "$logs"

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOURNEY_FUZZ=ON -DJOURNEY_MIMALLOC=OFF
  fi
  cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}"
fi

# Longest input each target gets: HTTP needs room for pipelined requests with bodies.
max_len() {
  case $1 in
    http) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

files() { find "$1" -maxdepth 1 -type f | wc -l; }

run() {
  local t=$1
  local bin=$build/tests/fuzz/fuzz_$t
  local corpus=tests/fuzz/corpus/$t
  local crashes=tests/fuzz/crashes/$t
  local work=$logs/$t.new
  mkdir -p "$corpus" "$crashes"
  rm -rf "$work" && mkdir -p "$work"
  if [ -z "$(ls -A "$corpus")" ]; then
    python3 tests/fuzz/make_seeds.py "$logs/seeds" > /dev/null
    cp "$logs/seeds/$t"/* "$corpus"/
  fi
  local dict=()
  if [ -f "tests/fuzz/$t.dict" ]; then dict=(-dict="tests/fuzz/$t.dict"); fi
  echo "fuzz $t: ${seconds}s, corpus $(files "$corpus") files, log $logs/$t.log"
  # New inputs go to $work (the first directory); the committed corpus is only read.
  # -entropic=0: with tens of thousands of features per input, libFuzzer 14's entropic scheduler
  # spends most of the time in UpdateFeatureFrequency (4 to 10 times fewer executions).
  # shellcheck disable=SC2086
  nice -n "$nice_level" "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=25 -entropic=0 -print_final_stats=1 -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} \
    "$work" "$corpus" > "$logs/$t.log" 2>&1 || echo "fuzz $t: the fuzzer exited with $? (see $logs/$t.log)"
  grep -E '^#[0-9]+.*(DONE|cov:)' "$logs/$t.log" | tail -1 || true
  grep -E '^stat::' "$logs/$t.log" || true
  if [ -n "${FUZZ_NO_MERGE:-}" ]; then return; fi
  local merged=$logs/$t.merged
  rm -rf "$merged" && mkdir -p "$merged"
  local before
  before=$(( $(files "$corpus") + $(files "$work") ))
  if nice -n "$nice_level" "$bin" -merge=1 -max_len="$(max_len "$t")" -timeout=25 \
      "$merged" "$corpus" "$work" > "$logs/$t.merge.log" 2>&1; then
    rm -rf "$corpus" && mkdir -p "$corpus" && cp "$merged"/* "$corpus"/
    echo "fuzz $t: corpus $before files before the merge, $(files "$corpus") after ($(du -sh --apparent-size "$corpus" | cut -f1))"
  else
    echo "fuzz $t: the merge failed (see $logs/$t.merge.log); the committed corpus is unchanged"
  fi
}

if [ -n "${FUZZ_PARALLEL:-}" ]; then
  for t in "${targets[@]}"; do run "$t" > "$logs/$t.summary" 2>&1 & done
  wait
  for t in "${targets[@]}"; do cat "$logs/$t.summary"; done
else
  for t in "${targets[@]}"; do run "$t"; done
fi
crashes=$(find tests/fuzz/crashes -type f ! -name .gitkeep ! -name 'README*' | wc -l)
echo "crash inputs kept under tests/fuzz/crashes: $crashes"
