#!/usr/bin/env bash
# The README's main command: install and build (release), then run the walkthrough of
# examples/README.md end to end (lint, graph, simulate --report, explain, then the daemon on the
# embedded SQLite default with a live sign-up over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec examples/demo.sh build/release
