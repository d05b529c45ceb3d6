// Customer state encoding: every field round-trips, states stored as CBOR by earlier builds still
// read, and no corrupt input crashes the reader.
#include <algorithm>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "engine_support.hpp"
#include "state_format1.hpp"

namespace je = journey::engine;

using journey::test::at;
using journey::test::format1;
using journey::test::format1_json;
using nlohmann::json;
using namespace std::string_literals;  // "\x00"s keeps the NUL

namespace {

/// A state with every serialised field set, JSON of every kind included.
je::CustomerState full_state() {
  je::CustomerState s;
  s.customer_id = "c-Zoë-新-1";
  s.known = true;
  s.profile = {{"email", "zoe@example.com"},
               {"first_name", "Zoë"},
               {"age", 41},
               {"balance", -17},
               {"big", 18446744073709551615ULL},
               {"ratio", 0.1},
               {"tiny", -1.5e-300},
               {"consent", {{"email", true}, {"sms", false}}},
               {"tags", {"vip", "新", ""}},
               {"none", nullptr},
               {"empty_object", json::object()},
               {"empty_array", json::array()},
               {"nested", {{"a", {{"b", {{"c", {1, {2, {3.5, json::array()}}}}}}}}}}};
  s.message_ids = {"m-1", "m-2", "m-3"};
  s.clock = at("2026-03-04T10:00:00.250Z");
  s.timeline["order"] = {
      {at("2026-03-01T09:00:00Z"), {{"amount", 12.5}, {"sku", "A-1"}, {"items", {1, -2, 3.25}}}},
      {at("2026-03-02T09:00:00Z"), json::object()}};
  s.timeline["view"] = {{at("2026-03-03T09:00:00Z"), {{"page", "/☃"}, {"depth", {{"x", -1}}}}}};
  s.timeline["signup"] = {};
  je::RunState run;
  run.journey = "welcome";
  run.version = "sha-1234";
  run.entry_no = 2;
  run.entered_at = at("2026-03-01T08:00:00Z");
  run.pc = 7;
  run.wait = je::RunState::Wait::Branches;
  run.wake_at = at("2026-03-04T08:00:00Z");
  run.trigger = {{"source", "ads"}, {"n", -3}};
  run.event = {{"amount", 20}};
  run.variant = "a";
  run.step = "s4";
  run.visits = {{"s1", 1}, {"s4", 2}};
  run.exit_values = {0, 1, -1};
  s.runs["welcome"] = run;
  je::JourneyHistory welcome;
  welcome.entries = 2;
  welcome.last_entry = at("2026-03-01T08:00:00Z");
  welcome.version = "sha-1234";
  welcome.variant = "a";
  welcome.step = "s4";
  welcome.trigger = {{"source", "ads"}};
  welcome.goals_reached = {"first_order", "second_order"};
  welcome.when_values = {-1, 0, 1};
  welcome.check_at = at("2026-03-05T00:00:00Z");
  welcome.every_next = {{0, at("2026-03-08T00:00:00Z")}, {3, at("2026-04-01T00:00:00Z")}};
  s.history["welcome"] = welcome;
  je::JourneyHistory lapsed;
  lapsed.entries = 1;
  lapsed.last_entry = -1;  // before 1970: a negative time
  s.history["lapsed"] = lapsed;
  s.sent = {{at("2026-03-01T08:00:00Z"), "welcome", "email"},
            {at("2026-03-02T10:00:00Z"), "welcome", "push"}};
  return s;
}

/// full_state() counting purchases for the purchase model, every field set.
je::CustomerState full_state_with_purchases() {
  auto s = full_state();
  je::Purchases purchases;
  purchases.model = 0xfedcba9876543210ULL;
  purchases.first_day = -3;  // before 1970
  purchases.last_day = 20'500;
  purchases.days = 17;
  purchases.repeat_value = 1234.5625;
  purchases.valued_days = 15;
  purchases.last_day_valued = true;
  s.purchases = purchases;
  return s;
}

void check_same(const je::CustomerState& a, const je::CustomerState& b) {
  CHECK(format1_json(a) == format1_json(b));
  for (const auto& [name, run] : b.runs) CHECK(run.journey == name);
}

}  // namespace

TEST_CASE("every field of the state round-trips", "[state]") {
  const auto state = full_state();
  const std::string bytes = je::serialize(state);
  CHECK(bytes.front() == '\x02');
  const auto back = je::deserialize(bytes);
  check_same(*back, state);
  CHECK(je::serialize(*back) == bytes);
  // JSON number kinds are kept, not only their values.
  CHECK(back->profile["age"].is_number_integer());
  CHECK(back->profile["big"].is_number_unsigned());
  CHECK(back->profile["ratio"].get<double>() == 0.1);
  CHECK(back->profile.dump() == state.profile.dump());
}

TEST_CASE("the same state always gives the same bytes", "[state]") {
  CHECK(je::serialize(full_state()) == je::serialize(full_state()));
  CHECK(je::serialize(*je::new_customer("c1")) == je::serialize(*je::new_customer("c1")));
}

TEST_CASE("states stored as CBOR by earlier builds still read", "[state]") {
  const auto state = full_state();
  const std::string old = format1(state);
  CHECK(static_cast<unsigned char>(old.front()) >= 0xA0);  // a CBOR map
  CHECK(static_cast<unsigned char>(old.front()) <= 0xBB);
  const auto back = je::deserialize(old);
  check_same(*back, state);
  // Written again, it is in the new format and reads back the same.
  const auto again = je::deserialize(je::serialize(*back));
  check_same(*again, state);
}

TEST_CASE("a truncated state throws", "[state]") {
  const std::string bytes = je::serialize(full_state());
  CHECK_THROWS(je::deserialize(""));
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    INFO("first " << n << " of " << bytes.size() << " bytes");
    CHECK_THROWS_AS(je::deserialize(bytes.substr(0, n)), std::runtime_error);
  }
  CHECK_THROWS_AS(je::deserialize(bytes + '\0'), std::runtime_error);
}

TEST_CASE("a corrupted state throws or reads as a state that writes the same bytes", "[state]") {
  const auto with_purchases = GENERATE(false, true);
  const std::string bytes =
      je::serialize(with_purchases ? full_state_with_purchases() : full_state());
  std::size_t read = 0;
  for (std::size_t i = 1; i < bytes.size(); ++i) {  // byte 0 picks the format
    for (const unsigned char mask : {0x01, 0x02, 0x10, 0x80, 0xFF}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      try {
        const auto state = je::deserialize(corrupt);
        ++read;
        // The encoding is canonical: whatever reads is what the state writes.
        INFO("byte " << i << " xor " << int{mask});
        CHECK(je::serialize(*state) == corrupt);
      } catch (const std::runtime_error&) {
        // Rejected: fine.
      }
    }
  }
  CHECK(read > 0);  // some flips only change a value (a letter, a time)
}

TEST_CASE("the state reader rejects what it cannot have written", "[state]") {
  const std::string head = "\x02\x02id\x01"s;  // format 2, customer id "id", known
  // JSON nested 100,000 deep: refused at the depth limit, not by running out of stack.
  std::string deep = head;
  for (int i = 0; i < 100000; ++i) deep += "\x07\x01";  // [ [ [ ...
  CHECK_THROWS_WITH(je::deserialize(deep), Catch::Contains("too deep"));
  // A count far beyond the input is refused before anything is allocated for it.
  CHECK_THROWS_WITH(je::deserialize(head + "\x07\xff\xff\xff\xff\x0f"),
                    Catch::Contains("past the end"));
  CHECK_THROWS_WITH(je::deserialize(head + "\x09"), Catch::Contains("unknown JSON tag"));
  CHECK_THROWS_WITH(je::deserialize(head + "\x03\x80\x00"s), Catch::Contains("overlong"));
  // An object {"y": null, "x": null}: keys out of order.
  CHECK_THROWS_WITH(je::deserialize(head + "\x08\x02\x01y\x00\x01x\x00"s),
                    Catch::Contains("out of order"));
  CHECK_THROWS_WITH(je::deserialize("\x02\x02id\x02"s), Catch::Contains("flag"));
  // A wait kind past the last one: find the wait byte as the one byte two waits differ in.
  auto state = full_state();
  state.runs["welcome"].wait = je::RunState::Wait::Hold;
  std::string bytes = je::serialize(state);
  state.runs["welcome"].wait = je::RunState::Wait::Timer;
  const std::string other = je::serialize(state);
  REQUIRE(bytes.size() == other.size());
  const auto at_wait = std::mismatch(bytes.begin(), bytes.end(), other.begin()).first;
  REQUIRE(*at_wait == '\x03');
  *at_wait = '\x04';
  CHECK_THROWS_WITH(je::deserialize(bytes), Catch::Contains("unknown wait"));
  // JSON the reader would refuse is refused when writing, so a stored state always reads.
  json too_deep = json::array();
  for (int i = 0; i < 300; ++i) too_deep = json::array({too_deep});
  state.profile = too_deep;
  CHECK_THROWS_WITH(je::serialize(state), Catch::Contains("too deep"));
  state.profile = json::binary({1, 2, 3});
  CHECK_THROWS_AS(je::serialize(state), std::runtime_error);
}

TEST_CASE("a state that counts purchases for the model is written in format 3", "[state]") {
  auto state = full_state_with_purchases();
  const je::Purchases purchases = *state.purchases;
  const std::string bytes = je::serialize(state);
  CHECK(bytes.front() == '\x03');
  const auto back = je::deserialize(bytes);
  check_same(*back, state);
  REQUIRE(back->purchases);
  CHECK(*back->purchases == purchases);
  CHECK(je::serialize(*back) == bytes);
  // Format 3 is format 2 with the purchases at the end; without them a state is format 2.
  state.purchases.reset();
  const std::string without = je::serialize(state);
  CHECK(without.front() == '\x02');
  CHECK(bytes.compare(1, without.size() - 1, without, 1) == 0);
  CHECK_FALSE(je::deserialize(without)->purchases);
  // Format 3 needs the purchases, whole.
  CHECK_THROWS_WITH(je::deserialize("\x03"s + without.substr(1)), Catch::Contains("truncated"));
  for (std::size_t n = without.size() + 1; n < bytes.size(); ++n) {
    INFO("first " << n << " of " << bytes.size() << " bytes");
    CHECK_THROWS_AS(je::deserialize(bytes.substr(0, n)), std::runtime_error);
  }
  std::string bad_flag = bytes;
  bad_flag.back() = '\x02';
  CHECK_THROWS_WITH(je::deserialize(bad_flag), Catch::Contains("flag"));
}
