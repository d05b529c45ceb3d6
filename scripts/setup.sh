#!/usr/bin/env bash
# Installs the Debian packages journey builds with, then configures and builds the given preset.
# Usage: scripts/setup.sh [preset]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"

packages=(build-essential cmake ninja-build git pkg-config ca-certificates tzdata
          tao-pegtl-dev libboost-dev libsqlite3-dev nlohmann-json3-dev catch2
          libtomlplusplus-dev libhowardhinnant-date-dev libcli11-dev libmimalloc-dev libssl-dev libnats-dev libnlopt-dev nats-server sqlite3 python3
          curl nodejs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
