// The daemon's group step without a daemon: an engine, inputs and cached states in, the batch and
// results out; and the read views.
#include "runtime/serve/group_step.hpp"

#include <catch2/catch.hpp>

#include "engine/counts.hpp"
#include "engine/engine.hpp"
#include "engine/engine_support.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"
#include "runtime/http/views.hpp"

using namespace journey;
using journey::runtime::CustomerCache;
using journey::runtime::GroupContext;
using journey::runtime::ShardInput;
using journey::runtime::step_group;

namespace {

const char* kWelcome = R"(journey welcome {
  entry on signup
  send email "welcome-1"
  wait 1h
  send email "welcome-2"
}
)";

ShardInput event(const std::string& customer, const char* at, const std::string& message_id = "",
                 const std::string& name = "signup") {
  ShardInput input;
  input.event.customer_id = customer;
  input.event.name = name;
  input.event.at = test::at(at);
  input.event.message_id = message_id;
  input.raw = R"({"event":")" + name + R"("})";
  return input;
}

ShardInput wake(const std::string& customer, engine::Millis due) {
  ShardInput input;
  input.kind = ShardInput::Kind::Wake;
  input.customer_id = customer;
  input.due = due;
  return input;
}

/// A cache with new, empty customers.
CustomerCache fresh(std::initializer_list<const char*> customers) {
  CustomerCache cache;
  for (const char* id : customers)
    cache.emplace(id, runtime::cached_customer(engine::new_customer(id), ""));
  return cache;
}

struct Fixture {
  engine::Engine engine{[] {
    engine::EngineConfig config;
    config.consent_assumed = true;
    return config;
  }()};
  Fixture() { engine.deploy(test::build(kWelcome)); }
};

}  // namespace

TEST_CASE("group step: events become one batch, with actions, events, states and counters",
          "[group]") {
  Fixture f;
  auto cache = fresh({"a", "b"});
  std::vector<ShardInput> inputs = {event("a", "2026-01-01T10:00:00Z", "m1"),
                                    event("b", "2026-01-01T10:00:01Z", "m2"),
                                    event("a", "2026-01-01T10:00:02Z", "m1")};  // a repeat
  GroupContext context;
  context.now = test::at("2026-01-01T10:00:05Z");
  context.trace_lines = 10;
  auto step = step_group(f.engine, inputs, cache, context);
  REQUIRE(step.results.size() == 3);
  CHECK(step.results[0].ok);
  CHECK_FALSE(step.results[0].duplicate);
  CHECK(step.results[2].duplicate);
  CHECK(step.accepted == 2);
  CHECK(step.duplicates == 1);
  CHECK(step.batch.events.size() == 2);
  REQUIRE(step.batch.actions.size() == 2);
  CHECK(step.batch.actions[0].customer_id == "a");
  CHECK(step.batch.customers.size() == 2);
  CHECK(step.touched == std::vector<std::string>{"a", "b"});
  CHECK(cache.at("a").commits == 1);
  CHECK(cache.at("a").snapshot == step.batch.customers[0].state);
  // Each customer's wait ends an hour after its signup.
  CHECK(step.wakeups.at("a") == test::at("2026-01-01T11:00:00Z"));
  CHECK_FALSE(step.batch.traces.empty());
  CHECK(step.batch.trace_keep == 10);
  std::map<std::pair<std::string, std::string>, std::int64_t> counted;  // (metric, key)
  for (const auto& counter : step.batch.counters)
    counted[{counter.metric, counter.key}] += counter.delta;
  CHECK(counted[{"entered", ""}] == 2);
  // The per-step counters the console draws: both customers visited the first send and moved
  // on from the entry to it.
  const auto first_send = counted.find({"visits", "1"});
  REQUIRE(first_send != counted.end());
  CHECK(first_send->second == 2);
  CHECK(counted[{"moves", engine::pair_key("", "1")}] == 2);
  CHECK(counted[{"moves", engine::pair_key("1", "2")}] == 2);

  SECTION("the same inputs on the same states give the same batch") {
    auto again = fresh({"a", "b"});
    auto second = step_group(f.engine, inputs, again, context);
    REQUIRE(second.batch.actions.size() == 2);
    CHECK(second.batch.actions[1].payload == step.batch.actions[1].payload);
    CHECK(second.batch.customers[1].state == step.batch.customers[1].state);
  }
  SECTION("a wake-up fires the wait: the second send, and how late it was") {
    GroupContext later;
    later.now = test::at("2026-01-01T11:00:03Z");
    auto fired = step_group(f.engine, {wake("a", test::at("2026-01-01T11:00:00Z"))}, cache, later);
    REQUIRE(fired.batch.actions.size() == 1);
    CHECK(fired.batch.actions[0].payload.find("welcome-2") != std::string::npos);
    CHECK(fired.woken == std::set<std::string>{"a"});
    CHECK(fired.wake_lateness == std::vector<engine::Millis>{3000});
    CHECK(fired.wakeups.at("a") == std::nullopt);
    CHECK(cache.at("a").commits == 2);
  }
}

TEST_CASE("group step: customers absent from the cache are skipped or refused", "[group]") {
  Fixture f;
  CustomerCache cache;
  GroupContext context;
  context.now = test::at("2026-01-01T10:00:00Z");
  context.unreadable["broken"] = "bad format byte";
  auto step = step_group(f.engine, {wake("gone", 0), event("broken", "2026-01-01T09:00:00Z")},
                         cache, context);
  CHECK(step.results[0].ok);  // a wake-up for a customer erased since: nothing to do
  CHECK_FALSE(step.results[1].ok);
  CHECK_THAT(step.results[1].error,
             Catch::Contains("unreadable") && Catch::Contains("bad format byte"));
  CHECK(step.batch.customers.empty());
  CHECK(step.woken == std::set<std::string>{"gone"});
  CHECK(cache.empty());  // the step never makes cache entries
}

TEST_CASE("group step: replays of an erased customer are ignored", "[group]") {
  Fixture f;
  auto cache = fresh({"e"});
  cache.at("e").erased_at = test::at("2026-01-01T12:00:00Z");
  GroupContext context;
  context.now = test::at("2026-01-01T13:00:00Z");
  context.erased_messages.emplace("e", "old-message");
  auto step = step_group(f.engine,
                         {event("e", "2026-01-01T11:00:00Z"),                  // before the erasure
                          event("e", "2026-01-01T12:30:00Z", "old-message"),   // a remembered id
                          event("e", "2026-01-01T12:30:00Z", "new-message")},  // new activity
                         cache, context);
  CHECK(step.results[0].erased);
  CHECK(step.results[1].erased);
  CHECK_FALSE(step.results[2].erased);
  CHECK(step.erased == 2);
  CHECK(step.accepted == 1);
  CHECK(step.batch.events.size() == 1);
}

TEST_CASE("views: actions, explain and journeys as JSON", "[views]") {
  runtime::OutboxEntry entry;
  entry.payload = R"({"action_id":"x1","template":"t"})";
  entry.status = runtime::DeliveryStatus::Dead;
  entry.attempts = 3;
  entry.last_error = "HTTP 500";
  runtime::OutboxEntry broken;
  broken.payload = "not json";
  auto actions = runtime::actions_view({entry, broken});
  REQUIRE(actions.size() == 2);
  CHECK(actions[0]["template"] == "t");
  CHECK(actions[0]["delivery"] ==
        nlohmann::json{{"status", "dead"}, {"attempts", 3}, {"last_error", "HTTP 500"}});
  CHECK(actions[1]["delivery"]["status"] == "pending");

  auto explain = runtime::explain_view(
      "c1", 50,
      {{"c1", 1000, "welcome", "entered", R"({"k":1})"}, {"c1", 2000, "", "event x", "{bad"}});
  CHECK(explain["customer_id"] == "c1");
  CHECK(explain["kept_lines"] == 50);
  REQUIRE(explain["trace"].size() == 2);
  CHECK(explain["trace"][0]["at"] == "1970-01-01T00:00:01Z");
  CHECK(explain["trace"][0]["detail"]["k"] == 1);
  CHECK(explain["trace"][1]["detail"] == nlohmann::json::object());

  std::vector<runtime::CounterRow> counters = {
      {"w", "v1", "entered", "", 5},      {"w", "v1", "suppressed", "consent", 2},
      {"w", "v1", "exited", "", 1},       {"w", "v1", "migrated_in", "", 3},
      {"w", "v0", "migrated_out", "", 3}, {"w", "v0", "sends", "", 7}};
  std::vector<std::pair<runtime::StoredRun, std::size_t>> runs = {{{"w", "v1", "2"}, 4}};
  counters.push_back({"w", "v1", "visits", "2", 5});
  counters.push_back({"w", "v1", "moves", engine::pair_key("", "2"), 5});
  counters.push_back({"w", "v1", "suppressed_at", engine::pair_key("2", "consent"), 2});
  counters.push_back({"w", "v1", "moves", "not a pair", 9});  // ignored
  auto journeys =
      runtime::journeys_view(runtime::version_counts(counters, runs), {{"w", "v1"}}, "d1",
                             [](const runtime::StoredRun& run) {
                               return "wait 1d (" + run.journey + "@" + run.version + ")";
                             });
  CHECK(journeys["deployment"] == "d1");
  REQUIRE(journeys["journeys"].size() == 1);
  const auto& w = journeys["journeys"][0];
  CHECK(w["live_version"] == "v1");
  REQUIRE(w["versions"].size() == 2);
  const auto& v1 = w["versions"][1];
  CHECK(v1["version"] == "v1");
  CHECK(v1["live"] == true);
  CHECK(v1["entered"] == 5);
  CHECK(v1["active_runs"] == 4);
  CHECK(v1["runs_by_state"]["wait 1d (w@v1)"] == 4);
  CHECK(v1["runs_by_step"]["2"] == 4);
  CHECK(v1["migrated_in"] == 3);
  CHECK(w["versions"][0]["migrated_out"] == 3);
  CHECK(v1["suppressions"]["consent"] == 2);
  CHECK(v1["exits"]["end"] == 1);
  CHECK(w["versions"][0]["sends"] == 7);
  CHECK(
      v1["steps"]["2"] ==
      nlohmann::json{{"waiting", 4}, {"visits", 5}, {"sent", 0}, {"suppressed", {{"consent", 2}}}});
  CHECK(v1["moves"] == nlohmann::json::array({{{"from", ""}, {"to", "2"}, {"runs", 5}}}));
}
