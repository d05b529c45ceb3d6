#!/usr/bin/env bash
# Benchmark: `journey simulate` against its peer of issue 6, the same welcome journey as an XState
# v5 machine on Node.js, one actor per customer with a simulated clock (bench/peers/xstate). Both
# run on the same examples/generate input; prints events, wall time, events/s, peak memory and
# actions per runner, the ratios, and whether the two agree on every action.
#   bench/xstate.sh [CUSTOMERS] [BUILD_DIR]     (defaults: 100000, build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-100000}"
build="${2:-build/release}"
peer=bench/peers/xstate
heap_mb=20000  # the node heap limit: the default (about 4 GB) cannot hold 1M actors
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -x "$build/runtime/journey" ] || { echo "bench: build first (scripts/setup.sh release)" >&2; exit 2; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "bench: the XState peer needs Node.js 20 or later and npm (apt-get install nodejs npm)" >&2
  exit 2
fi
if [ ! -d "$peer/node_modules/xstate" ]; then
  echo "installing the peer: npm ci --prefix $peer" >&2
  npm ci --prefix "$peer" --no-audit --no-fund >&2 || { echo "bench: npm ci failed in $peer" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/examples/generate" --customers "$customers" --seed 1 > "$work/events.ndjson"
events=$(wc -l < "$work/events.ndjson")
echo "input: $customers customers, $events events (examples/generate --seed 1)"

# run NAME OUT COMMAND...: runs COMMAND under /usr/bin/time and prints its line; leaves
# "seconds peak_kb actions" in $work/NAME.figures.
run() {
  local name="$1" out="$2"
  shift 2
  if ! /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$out" 2> "$work/$name.err"; then
    echo "bench: $name failed:" >&2
    tail -n 20 "$work/$name.err" >&2
    exit 1
  fi
  if [ -s "$work/$name.err" ]; then
    echo "($name wrote to stderr:)" >&2
    head -n 5 "$work/$name.err" >&2
  fi
  local seconds peak_kb
  read -r seconds peak_kb < <(tail -n 1 "$work/$name.time")
  echo "$seconds $peak_kb $(wc -l < "$out")" > "$work/$name.figures"
}

report() {
  local label="$1" seconds peak_kb actions
  read -r seconds peak_kb actions < "$work/$2.figures"
  awk -v l="$label" -v e="$events" -v s="$seconds" -v m="$peak_kb" -v a="$actions" \
    'BEGIN { printf "%s: %d events, %.2f s, %.0f events/s, peak %.0f MB, %d actions\n",
             l, e, s, (s > 0 ? e / s : 0), m / 1024, a }'
}

run journey "$work/journey.ndjson" \
  "$build/runtime/journey" simulate bench/welcome.journey --events "$work/events.ndjson" --threads 2
report "journey simulate --threads 2" journey

xstate_version=$(node -p "require('./$peer/node_modules/xstate/package.json').version")
run xstate "$work/xstate.ndjson" \
  node --max-old-space-size="$heap_mb" "$peer/welcome.mjs" "$work/events.ndjson"
report "xstate $xstate_version on node $(node --version) (heap limit raised to $heap_mb MB)" xstate

read -r j_seconds j_peak _ < "$work/journey.figures"
read -r x_seconds x_peak _ < "$work/xstate.figures"
awk -v js="$j_seconds" -v jm="$j_peak" -v xs="$x_seconds" -v xm="$x_peak" \
  'function ratio(x, j) { return j > 0 ? sprintf("%.1fx", x / j) : "n/a" }
   BEGIN { printf "journey vs xstate: %s faster, %s less memory (issue 6: at least 5x each at 1M customers)\n",
           ratio(xs, js), ratio(xm, jm) }'

# The action sets, as sorted "customer_id template at status" lines (node reads both files the
# same way, so JSON escapes cannot make a false difference).
keys() {
  node -e '
    const lines = require("node:readline").createInterface({ input: require("node:fs").createReadStream(process.argv[1]) });
    let out = "";
    lines.on("line", (l) => {
      if (l.trim() === "") return;
      const a = JSON.parse(l);
      out += `${a.customer_id}\t${a.template}\t${a.at}\t${a.status}\n`;
      if (out.length > 65536) { process.stdout.write(out); out = ""; }
    });
    lines.on("close", () => process.stdout.write(out));' "$1" | LC_ALL=C sort
}
keys "$work/journey.ndjson" > "$work/journey.keys"
keys "$work/xstate.ndjson" > "$work/xstate.keys"
only_journey=$(LC_ALL=C comm -23 "$work/journey.keys" "$work/xstate.keys" | wc -l)
only_xstate=$(LC_ALL=C comm -13 "$work/journey.keys" "$work/xstate.keys" | wc -l)
if [ "$only_journey" -eq 0 ] && [ "$only_xstate" -eq 0 ]; then
  echo "actions agree: yes ($(wc -l < "$work/journey.keys") identical (customer_id, template, at, status) lines)"
else
  echo "actions agree: NO ($only_journey only from journey, $only_xstate only from xstate); first differences:"
  diff "$work/journey.keys" "$work/xstate.keys" | grep '^[<>]' | head -n 10 | sed 's/^</  journey:/; s/^>/  xstate: /'
  exit 1
fi
