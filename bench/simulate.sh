#!/usr/bin/env bash
# Benchmark: `journey simulate` end to end (read, partition, run, merge, write) over synthetic
# e-commerce timelines from examples/generate, with the welcome journey of the spec
# (bench/welcome.journey). Runs with 1 and with 2 threads, prints events, wall time, events/s and
# peak memory for each, and checks that both gave the same bytes.
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
echo "input: $customers customers, $events events, $(( $(stat -c %s "$work/events.ndjson") / 1048576 )) MB (examples/generate --seed 1)"

for threads in 1 2; do
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$build/runtime/journey" simulate bench/welcome.journey --events "$work/events.ndjson" --threads "$threads" \
    > "$work/actions.$threads.ndjson"
  read -r seconds peak_kb < "$work/time"
  awk -v t="$threads" -v e="$events" -v s="$seconds" -v m="$peak_kb" -v a="$(wc -l < "$work/actions.$threads.ndjson")" \
    'BEGIN { printf "simulate welcome --threads %d: %d actions, %.2f s, %.0f events/s, peak %.0f MB\n",
             t, a, s, (s > 0 ? e / s : 0), m / 1024 }'
done
if cmp -s "$work/actions.1.ndjson" "$work/actions.2.ndjson"; then
  echo "output identical with 1 and 2 threads: yes"
else
  echo "output identical with 1 and 2 threads: NO" >&2
  exit 1
fi
