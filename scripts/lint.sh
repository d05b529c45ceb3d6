#!/usr/bin/env bash
# The house style, checked (CI runs it after the tests): clang-format would change no C++ file,
# and clang-tidy (.clang-tidy: every warning an error) finds nothing in dsl/, engine/ and
# runtime/ and their headers.
# Usage: scripts/lint.sh [BUILD_DIR]   (default: build/release, for its compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/release}"

if ! command -v clang-format >/dev/null || ! command -v run-clang-tidy >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-format clang-tidy
fi
[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json; build first" >&2; exit 2; }

echo "lint: clang-format"
git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format --dry-run --Werror

echo "lint: clang-tidy"
# Headers are reached through the libraries' include roots in the build tree (links to the
# source folders), so the filter matches the folder names, not the source paths.
run-clang-tidy -p "$build" -quiet -j "$(nproc)" \
  -header-filter='/(dsl|engine|runtime)/' \
  -extra-arg=-Wno-unknown-warning-option \
  "$PWD/(dsl|engine|runtime)/.*\.cpp\$" > "$build/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error):" "$build/clang-tidy.log" | sort -u >&2
  echo "lint: clang-tidy found the above (full output: $build/clang-tidy.log)" >&2
  exit 1
}
echo "lint: clean"
