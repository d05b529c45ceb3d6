// Unit tests of the engine: time, expressions, ids, state round-trips, rules not reachable
// from simulate flags (engine-wide caps, step budget, versions), and the batching law.
#include "engine/engine.hpp"

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <variant>

#include <catch2/catch.hpp>

#include "dsl/workspace.hpp"
#include "engine/ids.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine/value.hpp"
#include "engine/zone.hpp"
#include "engine_support.hpp"

namespace je = journey::engine;
namespace jd = journey::dsl;

using journey::test::at;
using journey::test::build;

namespace {

// Evaluates an expression written in the language against a state at `now`, by compiling a
// journey whose `if` holds it; aggregate folds are kept in `aggregates` when given.
je::Value eval(const std::string& expr, const je::CustomerState& state, je::Millis now,
               const nlohmann::json& event = nlohmann::json::object(),
               je::AggregateCaches* aggregates = nullptr) {
  const auto program = build("journey t {\n  entry on x\n  if " + expr + " { exit }\n}\n", false);
  const auto& op = program->journeys.at(0).ops.at(0);
  const auto* branch = std::get_if<je::BranchOp>(&op.payload);
  REQUIRE(branch != nullptr);
  const je::Evaluator ev(*program, state, now, aggregates);
  return ev.eval(branch->condition, je::Scope{&event, &event});
}

}  // namespace

TEST_CASE("timestamps parse and format as UTC with Z", "[time]") {
  CHECK(je::format_timestamp(at("2026-01-03T10:00:00Z")) == "2026-01-03T10:00:00Z");
  CHECK(je::format_timestamp(at("2026-01-03T10:00:00.250+08:00")) == "2026-01-03T02:00:00.250Z");
  CHECK(je::format_timestamp(at("2026-01-03T10:00:00-05:30")) == "2026-01-03T15:30:00Z");
  CHECK(at("1970-01-01T00:00:01Z") == 1000);
  CHECK_FALSE(je::parse_timestamp("2026-01-03"));
  CHECK_FALSE(je::parse_timestamp("2026-02-30T00:00:00Z"));
  CHECK_FALSE(je::parse_timestamp("2026-01-03T10:00:00"));  // a zone is required
  CHECK_FALSE(je::parse_timestamp("2026-01-03T25:00:00Z"));
}

TEST_CASE("parse_event reads Segment shapes and names the bad field", "[event]") {
  const auto ok = je::parse_event(nlohmann::json::parse(
      R"({"type":"track","event":"e","userId":"c1","timestamp":"2026-01-01T00:00:00Z","properties":{"a":1},"messageId":"m"})"));
  REQUIRE(std::holds_alternative<je::Event>(ok));
  CHECK(std::get<je::Event>(ok).properties["a"] == 1);
  const auto bad = je::parse_event(
      nlohmann::json::parse(R"({"type":"track","event":"e","userId":"c1","timestamp":5})"));
  REQUIRE(std::holds_alternative<je::EventError>(bad));
  CHECK(std::get<je::EventError>(bad).path == "$.timestamp");
  const auto screen = je::parse_event(nlohmann::json::parse(
      R"({"type":"screen","userId":"c1","timestamp":"2026-01-01T00:00:00Z"})"));
  REQUIRE(std::holds_alternative<je::EventError>(screen));
  CHECK(std::get<je::EventError>(screen).path == "$.type");
}

TEST_CASE("expressions follow the runtime rules of spec section 5", "[expr]") {
  auto state = je::new_customer("c1");
  state->profile = nlohmann::json::parse(
      R"({"plan":"gold","age":30,"tags":["vip"],"signed_up":"2026-01-01T00:00:00Z"})");
  state->timeline["order"] = {{at("2026-01-01T00:00:00Z"), {{"amount", 10}}},
                              {at("2026-01-05T00:00:00Z"), {{"amount", 30}}},
                              {at("2026-01-10T00:00:00Z"), {{"amount", 20}}}};
  const je::Millis now = at("2026-01-11T00:00:00Z");
  const auto truth = [&](const std::string& e) { return eval(e, *state, now).truthy(); };
  // none and mixed types compare false, even with !=.
  CHECK_FALSE(truth("customer.missing == 1"));
  CHECK_FALSE(truth("customer.missing != 1"));
  CHECK(truth("customer.missing == none"));
  CHECK_FALSE(truth("customer.age == \"30\""));
  CHECK_FALSE(truth("customer.age != \"30\""));
  CHECK(truth("customer.age >= 30 and customer.plan in [\"gold\", \"silver\"]"));
  CHECK(truth("\"vip\" in customer.tags"));
  CHECK(truth("customer.id == \"c1\""));
  // since: never is greater than every duration.
  CHECK(truth("since(signup) > 1000w"));
  CHECK(truth("since(order) == 1d"));
  CHECK(truth("since(customer.signed_up) == 10d"));
  // within is (now - D, now]: the order exactly 6 days ago is out of a 6d window.
  CHECK(eval("count(order within 6d)", *state, now).number == 1);
  CHECK(eval("count(order within 7d)", *state, now).number == 2);
  CHECK(eval("count(order where event.amount > 15)", *state, now).number == 2);
  CHECK(eval("sum(order.amount)", *state, now).number == 60);
  CHECK(eval("avg(order.amount within 7d)", *state, now).number == 25);
  CHECK(eval("min(order.amount)", *state, now).number == 10);
  CHECK(eval("max(order.amount)", *state, now).number == 30);
  CHECK(eval("avg(refund.amount)", *state, now).type == je::Value::Type::None);
  CHECK(eval("last(order).amount", *state, now).number == 20);
  CHECK(truth("has(customer.plan) and not has(customer.missing)"));
  CHECK(eval("1 + 2 * 3", *state, now).number == 7);
  CHECK(eval("1 / 0", *state, now).type == je::Value::Type::None);
  CHECK(truth("now - 1d > now - 2d"));
  CHECK_FALSE(truth("event.x == 5"));
  CHECK(eval("event.x", *state, now, {{"x", 5}}).number == 5);
}

TEST_CASE("next_change finds since thresholds and window exits", "[expr]") {
  const auto program = build(
      "journey t {\n  entry when since(order) >= 30d\n  entry when count(view within 1h) >= 2\n  "
      "send email \"x\"\n}\n");
  auto state = je::new_customer("c1");
  state->timeline["order"] = {{at("2026-01-01T00:00:00Z"), {}}};
  state->timeline["view"] = {{at("2026-01-01T00:10:00Z"), {}}, {at("2026-01-01T00:20:00Z"), {}}};
  const je::Evaluator ev(*program, *state, at("2026-01-01T00:30:00Z"));
  const auto& j = program->journeys.at(0);
  CHECK(ev.next_change(*j.entries[0].condition, {}) == at("2026-01-31T00:00:00Z"));
  CHECK(ev.next_change(*j.entries[1].condition, {}) == at("2026-01-01T01:10:00Z"));
}

TEST_CASE("action ids are stable 128-bit hashes of their inputs", "[ids]") {
  const auto a = je::action_id("c1", "welcome", "0123456789abcdef", 1, "L9:3", 1);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a == je::action_id("c1", "welcome", "0123456789abcdef", 1, "L9:3", 1));
  // Fixed value: the hash must not change between builds or machines.
  CHECK(a == "a5e6893b4c1e10df5117646aa1af3c5f");
  std::set<std::string> ids{a};
  ids.insert(je::action_id("c1", "welcome", "0123456789abcdef", 1, "L9:3", 2));
  ids.insert(je::action_id("c1", "welcome", "0123456789abcdef", 2, "L9:3", 1));
  ids.insert(je::action_id("c1", "welcome", "fedcba9876543210", 1, "L9:3", 1));
  ids.insert(je::action_id("c2", "welcome", "0123456789abcdef", 1, "L9:3", 1));
  ids.insert(je::action_id("c1", "welcom", "e0123456789abcdef", 1, "L9:3", 1));
  CHECK(ids.size() == 6);
}

TEST_CASE("split variants are stable and follow the percentages", "[ids]") {
  const std::vector<je::Variant> variants{{"a", 45, 0}, {"b", 45, 0}, {"control", 10, 0}};
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 20000; ++i) {
    const std::string c = "customer-" + std::to_string(i);
    const auto v = je::split_variant(c, "wake_up", "L12:3", variants);
    CHECK(v == je::split_variant(c, "wake_up", "L12:3", variants));
    ++counts[v];
  }
  CHECK(counts[0] > 8600);
  CHECK(counts[0] < 9400);
  CHECK(counts[2] > 1700);
  CHECK(counts[2] < 2300);
}

TEST_CASE("versions hash the compiled form", "[compile]") {
  const std::string src = "journey w {\n  entry on signup\n  send email \"a\"\n}\n";
  const auto p1 = build(src);
  const auto p2 = build(src);
  const auto p3 = build("journey w {\n  entry on signup\n  send email \"b\"\n}\n");
  CHECK(p1->journeys[0].version.size() == 16);
  CHECK(p1->journeys[0].version == p2->journeys[0].version);
  CHECK(p1->journeys[0].version != p3->journeys[0].version);
}

TEST_CASE("the compiled machine has wait points and transitions", "[compile]") {
  const auto p = build(
      "journey w {\n  entry on signup\n  send email \"a\"\n  wait up to 3d {\n    on buy { send "
      "email \"t\"; exit }\n  }\n"
      "  if customer.vip == true { send sms \"v\" } else { send sms \"n\" }\n}\n");
  const auto& j = p->journeys[0];
  REQUIRE(j.states.size() == 3);  // start, end, the wait up to
  CHECK(j.states[2].kind == je::StateKind::WaitUpTo);
  // start -> wait (send a); wait --buy--> end (send t, exit); wait --timeout--> end twice
  // (if/else).
  CHECK(j.transitions.size() == 4);
  CHECK(j.events_read == std::set<std::string>{"signup", "buy"});
}

TEST_CASE("aggregates whose fold can be kept get a slot at compile time", "[compile]") {
  const auto program = build(
      "journey t {\n"
      "  entry on x where count(order where event.amount > 10) > 1\n"
      "  if count(order where event.amount > 10) > 2 and sum(order.amount where event.amount > 5 "
      "within 7d) > 0"
      " and count(order where customer.vip == true) > 0 and max(order.amount where event.amount < "
      "3) > 1 { exit }\n"
      "}\n",
      false);
  // One key per distinct kept aggregate; `within` and a `where` reading the customer scan.
  CHECK(program->aggregate_keys ==
        std::vector<std::string>{"count(order where event.amount > 10)",
                                 "max(order.amount where event.amount < 3)"});
  const auto& j = program->journeys.at(0);
  const auto& where = *j.entries.at(0).where;
  CHECK(where.operands.at(0).slot == 0);
  std::vector<std::int32_t> slots;
  const std::function<void(const jd::Expr&)> walk = [&](const jd::Expr& e) {
    if (e.kind == jd::ExprKind::Count || e.kind == jd::ExprKind::Sum || e.kind == jd::ExprKind::Max)
      slots.push_back(e.slot);
    for (const auto& o : e.operands) walk(o);
  };
  walk(std::get<je::BranchOp>(j.ops.at(0).payload).condition);
  CHECK(slots == std::vector<std::int32_t>{0, -1, -1, 1});
}

TEST_CASE("the zone table finds what date::locate_zone finds", "[zone]") {
  const auto zones = je::Zones::from_tzdb();
  for (const char* name :
       {"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Etc/GMT+5"}) {
    INFO(name);
    CHECK(zones.find(name) == date::locate_zone(name));
  }
  CHECK(zones.find("Mars/Olympus_Mons") == nullptr);
  CHECK(zones.find("") == nullptr);
}

TEST_CASE("where-filtered aggregates extended incrementally equal a fresh scan", "[expr]") {
  auto state = je::new_customer("c1");
  std::vector<je::TimelineEntry> all;
  for (int i = 0; i < 50; ++i) {
    all.push_back({at("2026-01-01T00:00:00Z") + i * 3600000LL, {{"amount", (i * 7) % 23}}});
  }
  // The same aggregate with a window wider than the timeline takes the scanning path.
  const std::string exprs[] = {
      "count(order where event.amount > 10)", "sum(order.amount where event.amount > 5)",
      "min(order.amount where event.amount > 5)", "max(order.amount where event.amount < 20)"};
  const auto scanned = [](const std::string& e) {
    return e.substr(0, e.size() - 1) + " within 1000w)";
  };
  for (std::size_t n = 0; n < all.size(); n += 7) {
    state->timeline["order"].assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    const je::Millis now = at("2026-01-01T00:00:00Z") + static_cast<je::Millis>(n) * 3600000LL;
    for (const auto& e : exprs) {
      INFO(e << " after " << n << " entries");
      CHECK(je::values_equal(eval(e, *state, now, nlohmann::json::object(), &state->aggregates),
                             eval(scanned(e), *state, now)));
    }
  }
  CHECK_FALSE(state->aggregates.empty());
}
