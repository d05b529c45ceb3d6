// The JSON guard: depth and number limits found before parsing, with the JSON path.
#include "runtime/common/json_guard.hpp"

#include <catch2/catch.hpp>

#include "runtime/sim/event_scan.hpp"

using journey::runtime::beyond_double;
using journey::runtime::check_json_limits;

TEST_CASE("json guard: nesting deeper than the limit is found with its path", "[json_guard]") {
  CHECK_FALSE(check_json_limits(R"({"a":[[1]]})", 3));
  auto deep = check_json_limits(R"({"a":[1,[2]]})", 2);
  REQUIRE(deep);
  CHECK(deep->path == "$.a[1]");
  CHECK_THAT(deep->message, Catch::Contains("deeper than 2"));
  auto keyed = check_json_limits(R"({"x":1,"odd key":{"b":{}}})", 2);
  REQUIRE(keyed);
  CHECK(keyed->path == R"($["odd key"].b)");
  // Brackets and quotes inside strings are text, not structure.
  CHECK_FALSE(check_json_limits(R"({"a":"[[[[{{\"[["})", 2));
  CHECK_FALSE(check_json_limits(std::string(100'000, '"'), 2));  // malformed: the parser says so
}

TEST_CASE("json guard: numbers beyond a double are found, underflow is not", "[json_guard]") {
  CHECK(beyond_double("1e999"));
  CHECK(beyond_double("-1e400"));
  CHECK(beyond_double("1e311e"));  // found by fuzz_event_line: the prefix counts
  CHECK(beyond_double(std::string(400, '9')));
  CHECK_FALSE(beyond_double("1e-999"));
  CHECK_FALSE(beyond_double("1.5e300"));
  CHECK_FALSE(beyond_double("12"));
  auto huge = check_json_limits(R"({"p":{"n":[1,1e999]}})", 64);
  REQUIRE(huge);
  CHECK(huge->path == "$.p.n[1]");
  CHECK_THAT(huge->message, Catch::Contains("out of range"));
}

TEST_CASE("event scan: the fast path leaves numbers beyond a double to the slow path",
          "[event_scan]") {
  const std::string prefix = R"({"userId":"u","timestamp":"2026-01-01T00:00:00Z","traits":{"a":)";
  CHECK(journey::runtime::scan_event(prefix + "1e308}}"));
  CHECK_FALSE(journey::runtime::scan_event(prefix + "1e999}}"));
}
