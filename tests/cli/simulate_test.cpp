// `journey simulate` and `journey explain` through the real binary: the order law (actions do
// not depend on the order of input lines among customers), --trace, --actions, --strict.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_support.hpp"

namespace fs = std::filesystem;

using namespace journey::test;

namespace {

const fs::path kSpec =
    fs::path(JOURNEY_TESTS_DIR) / "scenarios" / "spec_example" / "journeys.journey";

// A history for many customers: each customer's own lines keep their relative order.
std::vector<std::vector<std::string>> histories(int customers) {
  std::mt19937 rng(42);
  std::vector<std::vector<std::string>> out;
  const char* const names[] = {"signup", "order_completed", "email_open", "unsubscribe"};
  for (int c = 0; c < customers; ++c) {
    std::vector<std::string> lines;
    const std::string id = "c" + std::to_string(c);
    lines.push_back(
        R"({"type":"identify","userId":")" + id +
        R"(","timestamp":"2026-01-01T00:00:00Z","traits":{"timezone":"America/New_York","consent":{"email":true,"sms":true,"push":true}}})");
    int day = 1;
    for (int i = 0; i < 6; ++i) {
      day += static_cast<int>(rng() % 20);
      const int hour = static_cast<int>(rng() % 24);
      char ts[64];
      std::snprintf(ts, sizeof ts, "2026-%02d-%02dT%02d:00:00Z", 1 + (day - 1) / 28,
                    1 + (day - 1) % 28, hour);
      lines.push_back(std::string(R"({"type":"track","event":")") + names[rng() % 4] +
                      R"(","userId":")" + id + R"(","timestamp":")" + ts + R"("})");
    }
    out.push_back(std::move(lines));
  }
  return out;
}

}  // namespace

TEST_CASE("simulate output does not depend on the order of lines among customers",
          "[simulate][property]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  const auto hist = histories(30);
  std::string ordered;
  for (const auto& h : hist) {
    for (const auto& l : h) ordered += l + "\n";
  }
  write_file(dir / "a.ndjson", ordered);
  const auto base = run_journey(dir, "simulate j.journey --events a.ndjson");
  REQUIRE(base.code == 0);
  REQUIRE(std::count(base.out.begin(), base.out.end(), '\n') > 30);
  std::mt19937 rng(3);
  for (int round = 0; round < 3; ++round) {
    // Interleave customers at random, keeping each customer's own order.
    std::vector<std::size_t> next(hist.size(), 0);
    std::vector<std::size_t> pending;
    for (std::size_t c = 0; c < hist.size(); ++c) pending.insert(pending.end(), hist[c].size(), c);
    std::shuffle(pending.begin(), pending.end(), rng);
    std::string shuffled;
    for (const auto c : pending) shuffled += hist[c][next[c]++] + "\n";
    write_file(dir / "b.ndjson", shuffled);
    const auto other = run_journey(dir, "simulate j.journey --events b.ndjson");
    CHECK(other.code == 0);
    CHECK(other.out == base.out);
    const auto threaded = run_journey(dir, "simulate j.journey --events b.ndjson --threads 2");
    CHECK(threaded.out == base.out);
    const auto report = run_journey(dir, "simulate j.journey --events a.ndjson --report");
    const auto report_threaded =
        run_journey(dir, "simulate j.journey --events b.ndjson --report --threads 2");
    CHECK(report_threaded.out == report.out);
  }
  fs::remove_all(dir);
}

TEST_CASE("simulate --trace writes the trace to stderr and keeps actions on stdout", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  fs::copy_file(kSpec.parent_path() / "events.ndjson", dir / "e.ndjson");
  const auto plain = run_journey(dir, "simulate j.journey --events e.ndjson");
  const auto traced = run_journey(dir, "simulate j.journey --events e.ndjson --trace c1");
  CHECK(traced.code == 0);
  CHECK(traced.out == plain.out);
  CHECK(traced.err.find("welcome: entry on signup: entered") != std::string::npos);
  const auto explained =
      run_journey(dir, "explain j.journey --events e.ndjson --customer c1 --journey wake_up");
  CHECK(explained.code == 0);
  CHECK(explained.out.find("wake_up: split coupon_10/coupon_20/control: variant") !=
        std::string::npos);
  CHECK(explained.out.find("welcome:") == std::string::npos);
  const auto unknown =
      run_journey(dir, "explain j.journey --events e.ndjson --customer c1 --journey nope");
  CHECK(unknown.code == 2);
  fs::remove_all(dir);
}

TEST_CASE("simulate --report --actions FILE writes both", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  fs::copy_file(kSpec.parent_path() / "events.ndjson", dir / "e.ndjson");
  const auto plain = run_journey(dir, "simulate j.journey --events e.ndjson");
  const auto report =
      run_journey(dir, "simulate j.journey --events e.ndjson --report --actions acts.ndjson");
  CHECK(report.code == 0);
  CHECK(report.out.find("journey welcome (version ") != std::string::npos);
  CHECK(slurp(dir / "acts.ndjson") == plain.out);
  fs::remove_all(dir);
}

TEST_CASE("malformed lines name FILE:LINE and are counted, --strict stops", "[simulate]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  fs::copy_file(kSpec, dir / "j.journey");
  write_file(dir / "e.ndjson",
             "{\"type\":\"track\",\"event\":\"signup\",\"userId\":\"c1\",\"timestamp\":\"2026-01-"
             "01T00:00:00Z\"}\n"
             "not json\n"
             "{\"type\":\"track\",\"event\":\"signup\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n");
  const auto lax = run_journey(dir, "simulate j.journey --events e.ndjson --consent assumed");
  CHECK(lax.code == 0);
  CHECK(lax.err.find("e.ndjson:2: invalid JSON") != std::string::npos);
  CHECK(lax.err.find("e.ndjson:3: $.userId: missing userId") != std::string::npos);
  CHECK(lax.err.find("2 input lines skipped") != std::string::npos);
  CHECK(lax.out.find("\"customer_id\":\"c1\"") != std::string::npos);
  const auto strict = run_journey(dir, "simulate j.journey --events e.ndjson --strict");
  CHECK(strict.code == 1);
  CHECK(strict.out.empty());
  const auto missing = run_journey(dir, "simulate j.journey --events nowhere.ndjson");
  CHECK(missing.code == 2);
  CHECK(missing.err.find("nowhere.ndjson") != std::string::npos);
  const auto bad_until = run_journey(dir, "simulate j.journey --events e.ndjson --until tomorrow");
  CHECK(bad_until.code == 2);
  fs::remove_all(dir);
}
