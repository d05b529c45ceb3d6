#!/bin/sh
# Makes the fixture of tests/cli/serve_versions_test.cpp ("a database of the build before issue
# 17") with the build before issue 17 (commit 2c1b750, whose unlabelled steps were named
# L<line>:<col>): a database with runs in flight at several steps (`journey.db`), and the
# actions that build writes when it starts again on that database, until every run has ended
# (`expected.ndjson`).
#   tests/data/legacy_naming/make.sh OLD_JOURNEY_BINARY
set -eu
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$here/journeys" "$work/"
cd "$work"

start() {
  "$bin" serve --journeys journeys --db journey.db --listen 127.0.0.1:0 \
    --sink file:actions.ndjson >addr 2>log &
  pid=$!
  while ! grep -q listening addr 2>/dev/null; do sleep 0.1; done
  url="http://$(sed 's/listening on //' addr)"
}

stamp() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%SZ; }

start
# Each customer at another step when the daemon stops: c1 in the first wait, c2 in the wait up
# to, c3 past it through the `on` branch, c4 through the timeout, both into the last wait (every
# wake-up due within five minutes).
curl -sf "$url/v1/batch" -d "{\"batch\":[
 {\"type\":\"identify\",\"userId\":\"c1\",\"traits\":{\"consent\":{\"email\":true}},\"timestamp\":\"$(stamp 480)\"},
 {\"type\":\"identify\",\"userId\":\"c2\",\"traits\":{\"consent\":{\"email\":true}},\"timestamp\":\"$(stamp 900)\"},
 {\"type\":\"identify\",\"userId\":\"c3\",\"traits\":{\"consent\":{\"email\":true}},\"timestamp\":\"$(stamp 1500)\"},
 {\"type\":\"identify\",\"userId\":\"c4\",\"traits\":{\"consent\":{\"email\":true}},\"timestamp\":\"$(stamp 1620)\"},
 {\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c1\",\"messageId\":\"s1\",\"timestamp\":\"$(stamp 480)\"},
 {\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c2\",\"messageId\":\"s2\",\"timestamp\":\"$(stamp 900)\"},
 {\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c3\",\"messageId\":\"s3\",\"timestamp\":\"$(stamp 1500)\"},
 {\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c4\",\"messageId\":\"s4\",\"timestamp\":\"$(stamp 1620)\"}]}" >/dev/null
sleep 1
curl -sf "$url/v1/track" -d "{\"event\":\"order_completed\",\"userId\":\"c3\",\"messageId\":\"o3\"}" >/dev/null
sleep 1
kill -TERM $pid; wait $pid || true
sqlite3 journey.db "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;" >/dev/null
cp journey.db "$here/journey.db"
: >actions.ndjson

# What the old build writes from here on, until its last run ends (in real time: the last wait
# comes due about 22 minutes after the first start).
start
n=0
while [ "$(curl -sf "$url/v1/journeys" | grep -o '"active_runs":[1-9]' | wc -l)" != 0 ] && [ $n -lt 1800 ]; do
  sleep 1; n=$((n + 1))
done
sleep 2
kill -TERM $pid; wait $pid || true
cp actions.ndjson "$here/expected.ndjson"
