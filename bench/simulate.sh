#!/usr/bin/env bash
# Benchmark: `journey simulate` end to end (read, sort, run, write) over synthetic e-commerce
# timelines from examples/generate, with the welcome journey of the spec (bench/welcome.journey).
# Prints events, wall time, events/s and peak memory.
#   bench/simulate.sh [CUSTOMERS] [BUILD_DIR]     (defaults: 100000, build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-100000}"
build="${2:-build/release}"
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -x "$build/runtime/journey" ] || { echo "bench: build first (scripts/setup.sh release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/examples/generate" --customers "$customers" --seed 1 > "$work/events.ndjson"
events=$(wc -l < "$work/events.ndjson")

/usr/bin/time -f "%e %M" -o "$work/time" \
  "$build/runtime/journey" simulate bench/welcome.journey --events "$work/events.ndjson" > "$work/actions.ndjson"
read -r seconds peak_kb < "$work/time"
awk -v c="$customers" -v e="$events" -v s="$seconds" -v m="$peak_kb" -v a="$(wc -l < "$work/actions.ndjson")" \
  'BEGIN { printf "simulate welcome: %d customers, %d events, %d actions: %.2f s, %.0f events/s, peak %.0f MB\n",
           c, e, a, s, (s > 0 ? e / s : 0), m / 1024 }'
