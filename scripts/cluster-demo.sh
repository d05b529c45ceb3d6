#!/usr/bin/env bash
# A cluster on this machine, from a temporary folder: three nats-servers (JetStream, three
# replicas) and two `journey serve` nodes on loopback. It sends a sign-up to node A, shows the
# welcome send, kills the node that owns the customer (SIGKILL), shows the other node taking its
# partitions over and firing the customer's pending wait, then cleans everything up.
#
# Usage: scripts/cluster-demo.sh   (builds with scripts/setup.sh first when needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
journey=${JOURNEY:-$root/build/release/runtime/journey}
[ -x "$journey" ] || scripts/setup.sh release
command -v nats-server >/dev/null || scripts/setup.sh release

dir=$(mktemp -d /tmp/journey-cluster-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "three nats-servers (JetStream cluster) in $dir"
client=() route=()
for i in 1 2 3; do client+=("$(port)"); route+=("$(port)"); done
routes=$(printf 'nats-route://127.0.0.1:%s, ' "${route[@]}"); routes=${routes%, }
for i in 0 1 2; do
  n=$((i + 1))
  cat > "$dir/nats$n.conf" <<EOF
server_name: s$n
listen: 127.0.0.1:${client[$i]}
jetstream { store_dir: "$dir/nats$n" }
cluster { name: demo, listen: 127.0.0.1:${route[$i]}, routes: [$routes] }
EOF
  nats-server -c "$dir/nats$n.conf" > "$dir/nats$n.log" 2>&1 &
  pids+=($!)
done
servers=$(printf '"nats://127.0.0.1:%s", ' "${client[@]}"); servers=${servers%, }

mkdir -p "$dir/journeys"
cat > "$dir/journeys/welcome.journey" <<'EOF'
# A short welcome series: a greeting at once, a nudge 20 seconds later.
journey welcome {
  entry on signup
  send email "welcome-1"
  wait 20s
  send email "welcome-2"
}
EOF

start_node() {  # name
  local name=$1
  mkdir -p "$dir/$name"
  cat > "$dir/$name/journey.toml" <<EOF
journeys = "../journeys"
db = "copy.db"
listen = "127.0.0.1:0"
[engine]
consent = "assumed"   # the demo's customers gave no consent traits
[sink]
default = "file:$dir/actions-$name.ndjson"
[cluster]
engine = "nats"
servers = [$servers]
partitions = 16
replicas = 3
node = "$name"
EOF
  (cd "$dir/$name" && exec "$journey" serve --config journey.toml > stdout 2> daemon.log) &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 150); do
    grep -q '^listening on' "$dir/$name/stdout" 2>/dev/null && break
    sleep 0.2
  done
  eval "url_$name=http://$(sed -n 's/^listening on //p' "$dir/$name/stdout")"
}

say "two journey nodes"
start_node a
start_node b
echo "node a: $url_a   node b: $url_b"
sleep 3  # the nodes share the partitions out
"$journey" cluster status --config "$dir/a/journey.toml"

say "a sign-up, sent to node a"
curl -s "$url_a/v1/track" -d '{"event":"signup","userId":"ada","messageId":"m-1"}'
echo
sends() { cat "$dir"/actions-*.ndjson 2>/dev/null | grep -c "$1" || true; }
for _ in $(seq 50); do [ "$(sends welcome-1)" -ge 1 ] && break; sleep 0.2; done
grep -h welcome-1 "$dir"/actions-*.ndjson

# The node that delivered the greeting owns the customer's partition.
owner=$(grep -l welcome-1 "$dir"/actions-*.ndjson | sed 's/.*actions-\(.*\)\.ndjson/\1/' | head -1)
say "the customer's owner is node $owner; SIGKILL it while the customer waits 20 seconds"
survivor=$([ "$owner" = a ] && echo b || echo a)
eval "kill -9 \$pid_$owner"
started=$(date +%s.%N)
survivor_url=$(eval echo "\$url_$survivor")
for _ in $(seq 100); do
  curl -sf "$survivor_url/v1/customers/ada" >/dev/null && break
  sleep 0.2
done
echo "node $survivor answers for ada after $(python3 -c "import time; print(round(time.time() - $started, 1))") s"
"$journey" cluster status --config "$dir/$survivor/journey.toml"

say "waiting for welcome-2 (fired by node $survivor)"
for _ in $(seq 150); do [ "$(sends welcome-2)" -ge 1 ] && break; sleep 0.2; done
grep -h welcome- "$dir"/actions-*.ndjson
echo
echo "welcome-1 sent $(sends welcome-1) time(s), welcome-2 sent $(sends welcome-2) time(s)"
