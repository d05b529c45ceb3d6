#!/usr/bin/env bash
# Benchmark: `journey serve` against the daemon targets of issue 6 (bench_serve does the work:
# real daemon on loopback, SQLite store, file sink, real HTTP). Prints one line per figure beside
# its target.
#   bench/serve.sh [BUILD_DIR] [bench_serve options...]     (default: build/release)
# e.g. a quick run:  bench/serve.sh build/release --customers 5300 --waits 100000 --latency-seconds 5
set -euo pipefail
cd "$(dirname "$0")/.."
build="build/release"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build="$1"; shift; fi
for bin in runtime/journey examples/generate bench/bench_serve; do
  [ -x "$build/$bin" ] || { echo "bench: $build/$bin missing; build first (scripts/setup.sh release)" >&2; exit 2; }
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
exec "$build/bench/bench_serve" --journey "$build/runtime/journey" --generate "$build/examples/generate" \
  --welcome bench/welcome.journey --wait bench/wait.journey "$@"
