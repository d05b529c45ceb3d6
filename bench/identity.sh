#!/usr/bin/env bash
# Benchmark: identity resolution in `journey simulate`. The same synthetic history
# (examples/generate) twice: as generated, and with `--anonymous 20`: 20% of the customers
# anonymous for the first half of their events (those lines carry an anonymousId only, the line
# in the middle both ids: the login, a merge), the rest under the userId. Prints events/s and peak memory
# for both, their ratios (targets: at least 80% of the speed, at most 1.3x the memory), and checks
# that 1 and 2 threads give the same bytes on the anonymous data.
#   bench/identity.sh [CUSTOMERS] [BUILD_DIR]     (defaults: 1000000, build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1000000}"
build="${2:-build/release}"
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -x "$build/runtime/journey" ] || { echo "bench: build first (scripts/setup.sh release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$build/runtime/journey" "$work/journey"  # a rebuild during the run does not change it
"$build/examples/generate" --customers "$customers" --seed 1 > "$work/known.ndjson"
"$build/examples/generate" --customers "$customers" --seed 1 --anonymous 20 > "$work/anonymous.ndjson"
events=$(wc -l < "$work/known.ndjson")
echo "input: $customers customers, $events events; 20% of the customers anonymous for their first half"

run() {  # NAME FILE THREADS
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$work/journey" simulate bench/welcome.journey --events "$2" --threads "$3" > "$work/$1.$3.out"
  read -r seconds peak_kb < "$work/time"
  echo "$seconds $peak_kb" > "$work/$1.$3.figures"
  awk -v n="$1" -v t="$3" -v e="$events" -v s="$seconds" -v m="$peak_kb" -v a="$(wc -l < "$work/$1.$3.out")" \
    'BEGIN { printf "%-9s --threads %d: %d actions, %.2f s, %.0f events/s, peak %.0f MB\n", n, t, a, s, e / s, m / 1024 }'
}
for threads in 1 2; do
  run known "$work/known.ndjson" "$threads"
  run anonymous "$work/anonymous.ndjson" "$threads"
  read -r ks km < "$work/known.$threads.figures"
  read -r as am < "$work/anonymous.$threads.figures"
  awk -v ks="$ks" -v km="$km" -v as="$as" -v am="$am" -v t="$threads" \
    'BEGIN { printf "--threads %d: speed %.0f%% of the known data, memory %.2fx\n", t, 100 * ks / as, am / km }'
done
if cmp -s "$work/anonymous.1.out" "$work/anonymous.2.out"; then
  echo "anonymous data: output identical with 1 and 2 threads: yes"
else
  echo "anonymous data: output identical with 1 and 2 threads: NO" >&2
  exit 1
fi
