#!/usr/bin/env bash
# The README's test command: install, build, and run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
scripts/setup.sh "$preset"
ctest --preset "$preset" -j "$(nproc)"
