// The fast event reader agrees with the slow one (nlohmann + engine::parse_event) whenever it
// accepts a line, and leaves every line the slow one refuses to it.
#include "runtime/sim/event_scan.hpp"

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

using journey::runtime::scan_event;

// The slow reading of a line: the event, or nullopt when it is malformed.
std::optional<journey::engine::Event> slow(const std::string& line) {
  try {
    auto parsed = journey::engine::parse_event(nlohmann::json::parse(line));
    if (auto* ev = std::get_if<journey::engine::Event>(&parsed)) return std::move(*ev);
  } catch (const nlohmann::json::parse_error&) {
  }
  return std::nullopt;
}

// When the fast reader accepts, it must read what the slow one reads.
void agree(const std::string& line) {
  INFO(line);
  const auto fast = scan_event(line);
  const auto reference = slow(line);
  if (!fast) return;
  REQUIRE(reference);
  CHECK(fast->type == reference->type);
  CHECK(fast->customer_id == reference->customer_id);
  CHECK(fast->name == reference->name);
  CHECK(fast->at == reference->at);
  CHECK(fast->message_id == reference->message_id);
  const auto props =
      fast->properties.empty() ? nlohmann::json::object() : nlohmann::json::parse(fast->properties);
  CHECK(props == reference->properties);
}

}  // namespace

TEST_CASE("the fast reader reads plain Segment lines", "[scan]") {
  const auto ev = scan_event(
      R"({"type":"track","event":"order_completed","userId":"c1","properties":{"total":42.5,"items":[1,2,{"a":null}]},"timestamp":"2026-01-03T10:00:00.250+01:00","messageId":"m1"})");
  REQUIRE(ev);
  CHECK(ev->type == journey::engine::Event::Type::Track);
  CHECK(ev->customer_id == "c1");
  CHECK(ev->name == "order_completed");
  CHECK(ev->message_id == "m1");
  CHECK(ev->properties == R"({"total":42.5,"items":[1,2,{"a":null}]})");
  CHECK(ev->at == *journey::engine::parse_timestamp("2026-01-03T09:00:00.250Z"));

  const auto id =
      scan_event(R"( {"userId":"c2","traits":{"plan":"pro"},"timestamp":"2026-01-03T10:00:00Z"} )");
  REQUIRE(id);
  CHECK(id->type == journey::engine::Event::Type::Identify);
  CHECK(id->properties == R"({"plan":"pro"})");
  CHECK(id->message_id.empty());

  const auto nulls = scan_event(
      R"({"event":"x","userId":"c","timestamp":"2026-01-03T10:00:00Z","properties":null,"messageId":null})");
  REQUIRE(nulls);
  CHECK(nulls->type == journey::engine::Event::Type::Track);
  CHECK(nulls->properties.empty());
}

TEST_CASE("the fast reader leaves what it cannot read exactly to the slow path", "[scan]") {
  const std::vector<std::string> lines = {
      R"({"event":"a\"b","userId":"c","timestamp":"2026-01-03T10:00:00Z"})",           // escape
      R"({"event":"café","userId":"c","timestamp":"2026-01-03T10:00:00Z"})",           // non-ASCII
      R"({"event":"a","event":"b","userId":"c","timestamp":"2026-01-03T10:00:00Z"})",  // duplicate
      R"({"event":"a","userId":"c","timestamp":"2026-01-03T10:00:00Z","properties":[1]})",  // not
                                                                                            // an
                                                                                            // object
      R"({"event":"a","userId":"","timestamp":"2026-01-03T10:00:00Z"})",     // empty userId
      R"({"event":"a","userId":7,"timestamp":"2026-01-03T10:00:00Z"})",      // userId type
      R"({"event":"a","userId":"c","timestamp":"yesterday"})",               // timestamp
      R"({"type":"page","userId":"c","timestamp":"2026-01-03T10:00:00Z"})",  // type
      R"({"event":"a","userId":"c","timestamp":"2026-01-03T10:00:00Z","properties":{"n":01}})",  // number
      R"({"event":"a","userId":"c","timestamp":"2026-01-03T10:00:00Z","properties":{"n":1.}})",
      R"({"event":"a","userId":"c","timestamp":"2026-01-03T10:00:00Z"} x)",  // trailing bytes
      R"({"event":"a","userId":"c","timestamp":"2026-01-03T10:00:00Z",})",   // trailing comma
      R"([1,2])",
      "",
  };
  for (const auto& line : lines) {
    INFO(line);
    CHECK_FALSE(scan_event(line));
  }
}

TEST_CASE("property: on mutated lines the fast reader never disagrees with the slow one",
          "[scan][property]") {
  std::vector<std::string> seeds;
  std::ifstream in(JOURNEY_SOURCE_DIR "/examples/data/events.ndjson");
  for (std::string line; std::getline(in, line) && seeds.size() < 200;) seeds.push_back(line);
  REQUIRE(seeds.size() > 100);
  const std::string alphabet = "{}[]\":,.-+eE0123456789 tfnul\\\tx\x7f\xc3";
  std::mt19937_64 rng(20261123);
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string line = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !line.empty(); ++e) {
      const std::size_t pos = rng() % line.size();
      switch (rng() % 3) {
        case 0: line[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: line.erase(pos, 1); break;
        default: line.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    agree(line);
    if (scan_event(line)) ++accepted;
  }
  for (const auto& line : seeds) {
    agree(line);
    CHECK(scan_event(line));  // the generator's lines all take the fast path
  }
  CHECK(accepted > 1000);  // the mutations did not only produce refusals
}
