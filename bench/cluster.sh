#!/usr/bin/env bash
# Benchmark: `journey serve` as a cluster, the figures of issue 12 (bench_cluster_serve does the
# work: three nats-servers, two nodes, real HTTP). Prints one line per figure beside its target.
#   bench/cluster.sh [BUILD_DIR] [bench_cluster_serve options...]   (default: build/release)
# e.g. a quick run:  bench/cluster.sh build/release --customers 10000
set -euo pipefail
cd "$(dirname "$0")/.."
build="build/release"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build="$1"; shift; fi
for bin in runtime/journey bench/bench_cluster_serve; do
  [ -x "$build/$bin" ] || { echo "bench: $build/$bin missing; build first (scripts/setup.sh release)" >&2; exit 2; }
done
command -v nats-server >/dev/null || { echo "bench: nats-server missing (scripts/setup.sh installs it)" >&2; exit 2; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
exec "$build/bench/bench_cluster_serve" --journey "$(realpath "$build/runtime/journey")" --wait bench/wait.journey "$@"
