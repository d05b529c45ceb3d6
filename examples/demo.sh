#!/usr/bin/env bash
# The walkthrough of examples/README.md, end to end: lint, graph, simulate --report, explain,
# then the daemon on a loopback port with one live sign-up.
#
#   examples/demo.sh [BUILD_DIR]      (default: build/dev; or set JOURNEY=path/to/journey)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/dev}"
journey="${JOURNEY:-$build/runtime/journey}"
if [[ ! -x "$journey" ]]; then
  echo "demo: no journey executable at $journey (build first, or pass the build folder)" >&2
  exit 2
fi
cd "$root"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. Lint the standard journeys against the tracking plan and the purchase model" \
  "journey lint stdlib-journeys --strict --plan examples/plan.json --model examples/model.json"
"$journey" lint stdlib-journeys --strict --plan examples/plan.json --model examples/model.json \
  && echo "clean"

step "2. Draw one journey's state machine" \
  "journey graph stdlib-journeys/cart_abandonment.journey --format mermaid"
"$journey" graph stdlib-journeys/cart_abandonment.journey --format mermaid

step "3. Dry-run every journey over 40 customers' January" \
  "journey simulate stdlib-journeys --events examples/data/events.ndjson --model examples/model.json --until 2026-02-15T00:00:00Z --report"
"$journey" simulate stdlib-journeys --events examples/data/events.ndjson \
  --model examples/model.json --until 2026-02-15T00:00:00Z --report

step "4. The first actions of that run" \
  "journey simulate stdlib-journeys --events examples/data/events.ndjson --model examples/model.json --until 2026-02-15T00:00:00Z | head -5"
"$journey" simulate stdlib-journeys --events examples/data/events.ndjson \
  --model examples/model.json --until 2026-02-15T00:00:00Z | head -5 || true

step "5. Why did customer c0000002 get (or not get) a message?" \
  "journey explain stdlib-journeys --events examples/data/events.ndjson --model examples/model.json --customer c0000002 --journey cart_abandonment"
"$journey" explain stdlib-journeys --events examples/data/events.ndjson --model examples/model.json \
  --customer c0000002 --journey cart_abandonment | head -20 || true

step "6. Serve: the daemon with the sample configuration, one live sign-up" \
  "journey serve --config journey.toml --journeys stdlib-journeys --listen 127.0.0.1:0"
work="$(mktemp -d)"
cp examples/journey.toml examples/model.json "$work/"
"$journey" serve --config "$work/journey.toml" --journeys "$root/stdlib-journeys" \
  --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 50); do
  port="$(sed -n 's/^listening on [^ ]*:\([0-9]*\)$/\1/p' "$work/serve.out" | head -1)"
  [[ -n "$port" ]] && break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "demo: the daemon did not start:" >&2
  cat "$work/serve.err" >&2
  exit 1
fi
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
body='{"batch":[
 {"type":"identify","userId":"demo-1","timestamp":"'"$now"'","messageId":"demo-1-a",
  "traits":{"timezone":"Europe/Berlin","first_name":"Demo","consent":{"email":true,"push":true}}},
 {"type":"track","event":"signup","userId":"demo-1","timestamp":"'"$now"'","messageId":"demo-1-b",
  "properties":{"method":"email"}}]}'
echo "\$ curl -X POST http://127.0.0.1:$port/v1/batch -H 'Authorization: Bearer demo-ingest-token-change-me' ..."
curl -sS -X POST "http://127.0.0.1:$port/v1/batch" \
  -H 'Authorization: Bearer demo-ingest-token-change-me' -H 'Content-Type: application/json' \
  --data "$body"
echo
for _ in $(seq 1 50); do
  [[ -s "$work/email.ndjson" ]] && break
  sleep 0.1
done
echo "\$ cat email.ndjson     # the email sink of journey.toml"
cat "$work/email.ndjson" 2>/dev/null || echo "(no email action yet)"
echo "\$ curl http://127.0.0.1:$port/v1/customers/demo-1 -H 'Authorization: Bearer demo-read-token-change-me'"
curl -sS "http://127.0.0.1:$port/v1/customers/demo-1" -H 'Authorization: Bearer demo-read-token-change-me'
echo
