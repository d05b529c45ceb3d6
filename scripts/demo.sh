#!/usr/bin/env bash
# The README's main command: install and build (release), then run the walkthrough of
# examples/README.md end to end (lint, graph, simulate --report and --report-html, explain, then
# the daemon on the embedded SQLite default, fed the sample events and a live sign-up over HTTP;
# it prints the console's URL and, from a terminal, serves it until Enter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec examples/demo.sh build/release
