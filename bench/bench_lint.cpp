// Lint speed: generates a 10,000-line journey file (segments, and journeys with every kind of
// step and expression), then times parse + check, best of several runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "dsl/workspace.hpp"
#include "generated_journeys.hpp"

namespace {

constexpr int kTargetLines = 10000;
constexpr int kRuns = 7;

}  // namespace

int main() {
  int lines = 0;
  const std::string text = journey::bench::generated_journeys(kTargetLines, lines);

  using Ms = std::chrono::duration<double, std::milli>;
  double best_ms = 1e300;
  double parse_ms = 0;
  double check_ms = 0;
  std::size_t diagnostics = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = std::chrono::steady_clock::now();
    journey::dsl::Workspace ws;
    journey::dsl::add_source(ws, "bench.journey", text);
    const auto parsed = std::chrono::steady_clock::now();
    journey::dsl::check(ws, {});
    const auto stop = std::chrono::steady_clock::now();
    if (Ms(stop - start).count() < best_ms) {
      best_ms = Ms(stop - start).count();
      parse_ms = Ms(parsed - start).count();
      check_ms = Ms(stop - parsed).count();
    }
    diagnostics = ws.diagnostics.size();
  }
  std::printf("lint %d lines: %.1f ms (target < 100 ms)\n", lines, best_ms);
  std::printf("  of which parse %.1f ms, check %.1f ms (best run of %d)\n", parse_ms, check_ms,
              kRuns);
  if (diagnostics != 0)
    std::printf("warning: the generated file has %zu diagnostics\n", diagnostics);
  return 0;
}
