// Two versions of a journey compared step by step (engine/diff.hpp), and runs moved to a new
// version by `on update migrate` inside the step function: atomic per customer, never sending
// twice, in the trace and the records.
#include "engine/diff.hpp"

#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

#include "engine/engine.hpp"
#include "engine/ids.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine_support.hpp"

namespace je = journey::engine;

using journey::test::at;
using journey::test::build;

namespace {

je::Event track(const std::string& customer, const std::string& name, je::Millis when) {
  je::Event e;
  e.customer_id = customer;
  e.name = name;
  e.at = when;
  return e;
}

// The changes as "CHANGE old-name -> new-name" lines, unchanged steps left out.
std::vector<std::string> changes(const std::string& from, const std::string& to) {
  const auto a = build(from);
  const auto b = build(to);
  const auto& x = a->journeys[0];
  const auto& y = b->journeys[0];
  std::vector<std::string> out;
  for (const auto& m : je::match_steps(x, y)) {
    const std::string old = m.old_step == je::kNoStep ? "" : x.steps[m.old_step].name;
    const std::string neu = m.new_step == je::kNoStep ? "" : y.steps[m.new_step].name;
    switch (m.change) {
      case je::StepMatch::Change::Unchanged: break;
      case je::StepMatch::Change::Changed: out.push_back("changed " + old + " -> " + neu); break;
      case je::StepMatch::Change::Added: out.push_back("added " + neu); break;
      case je::StepMatch::Change::Removed: out.push_back("removed " + old); break;
    }
  }
  return out;
}

const char* const kBase = R"(journey w {
  entry on signup
  send email "a"
  wait 1d
  send email "b"
  wait up to 2d {
    on order { send email "thanks"; exit }
  }
  send email "c"
}
)";

}  // namespace

TEST_CASE("a step added at the top leaves the others unchanged", "[diff]") {
  CHECK(changes(kBase, R"(journey w {
  entry on signup
  send sms "hello"
  send email "a"
  wait 1d
  send email "b"
  wait up to 2d {
    on order { send email "thanks"; exit }
  }
  send email "c"
}
)") == std::vector<std::string>{"added send sms \"hello\""});
}

TEST_CASE("a step of the same kind in the same place is changed, others added or removed",
          "[diff]") {
  CHECK(changes(kBase, R"(journey w {
  entry on signup
  send email "a"
  wait 2d
  send email "b"
  wait up to 2d {
    on order { send email "thank-you"; exit }
  }
  tag "done"
}
)") == std::vector<std::string>{
           "changed wait 1d after send email \"a\" -> wait 2d after send email \"a\"",
           "changed send email \"thanks\" on order of wait up to 2d -> send email "
           "\"thank-you\" on order of wait up to 2d",
           "removed send email \"c\" after wait up to 2d",
           "added tag \"done\" after wait up to 2d"});
}

TEST_CASE("a removed compound step takes its blocks along, and labels match by label", "[diff]") {
  CHECK(changes(kBase, R"(journey w {
  entry on signup
  send email "a"
  wait 1d
  send email "b"
  send email "c"
}
)") == std::vector<std::string>{"removed wait up to 2d after send email \"b\"",
                                "removed send email \"thanks\" on order of wait up to 2d",
                                "removed exit after send email \"thanks\""});
  CHECK(changes("journey w {\n  entry on x\n  one: send email \"a\"\n  two: wait 1d\n}\n",
                "journey w {\n  entry on x\n  two: wait 2d\n  one: send email \"a\"\n}\n") ==
        std::vector<std::string>{"removed send email \"a\" at one",
                                 "changed wait 1d at two -> wait 2d at two",
                                 "added send email \"a\" at one"});
}

TEST_CASE("the blocks of matched steps match by what they say", "[diff]") {
  // A new `on` branch first: the old branch is still found, by its event.
  CHECK(changes(kBase, R"(journey w {
  entry on signup
  send email "a"
  wait 1d
  send email "b"
  wait up to 2d {
    on visit { send push "back" }
    on order { send email "thanks"; exit }
  }
  send email "c"
}
)") == std::vector<std::string>{
           "changed wait up to 2d after send email \"b\" -> wait up to 2d after send email "
           "\"b\"",
           "added send push \"back\" on visit of wait up to 2d"});
}

TEST_CASE("header lines show what changed besides the steps", "[diff]") {
  const auto a = build("journey w {\n  entry on x\n  exit on stop\n  send email \"a\"\n}\n");
  const auto b = build(
      "segment vip = count(order) > 3\njourney w {\n  entry on x\n  exit when customer is vip\n  "
      "on update migrate\n  cap 2 per 7d\n  send email \"a\"\n}\n");
  const auto d = je::journey_diff(&a->journeys[0], &b->journeys[0]);
  CHECK(d["change"] == "changed");
  CHECK(d["on_update"] == "migrate");
  std::set<std::string> removed;
  std::set<std::string> added;
  for (const auto& h : d["header"])
    (h["change"] == "added" ? added : removed).insert(h["text"].get<std::string>());
  CHECK(removed == std::set<std::string>{"exit on stop"});
  CHECK(added == std::set<std::string>{"cap 2 per 7d", "exit when customer is vip",
                                       "on update migrate", "segment vip = count(order) > 3"});
  CHECK(d["steps"].empty());
  CHECK(d["unchanged_steps"] == 1);
  const auto same = je::journey_diff(&a->journeys[0], &a->journeys[0]);
  CHECK(same["change"] == "unchanged");
}

TEST_CASE("the diff says where the runs in flight go", "[diff]") {
  const auto a = build(kBase);
  const auto b = build(R"(journey w {
  entry on signup
  on update migrate
  send email "a"
  wait 1d
  send email "b2"
  wait up to 3d {
    on order { send email "thanks"; exit }
  }
  send email "c"
}
)");
  je::RunsAt runs{&a->journeys[0], {{"2", 5}, {"4", 3}}};
  const auto d = je::journey_diff(&a->journeys[0], &b->journeys[0], {runs});
  REQUIRE(d["runs"].size() == 2);
  CHECK(d["runs"][0]["step"] == "2");
  CHECK(d["runs"][0]["change"] == "unchanged");
  CHECK(d["runs"][0]["outcome"] == "migrate");
  CHECK(d["runs"][0]["to"]["id"] == "2");
  CHECK(d["runs"][1]["change"] == "changed");  // the wait up to: 2d became 3d
  CHECK(d["runs"][1]["outcome"] == "keep");
  CHECK(d["in_flight"] == 8);
  CHECK(d["migrate"] == 5);
  CHECK(d["keep"] == 3);
  const auto text = je::diff_text(je::program_diff(a.get(), b.get(), {{"w", {runs}}}));
  CHECK_THAT(text, Catch::Contains("5 at wait 1d after send email \"a\""));
  CHECK_THAT(text, Catch::Contains("migrate to wait 1d after send email \"a\""));
}

TEST_CASE("a run at an unchanged step migrates on its next step call, once", "[migrate]") {
  je::EngineConfig config;
  config.consent_assumed = true;
  je::Engine engine(config);
  const auto v1 = build(kBase);
  engine.deploy(v1);
  auto state = je::new_customer("c1");
  auto moved = je::new_customer("c2");
  const auto first = engine.on_event(*state, track("c1", "signup", at("2026-01-01T00:00:00Z")));
  engine.on_event(*moved, track("c2", "signup", at("2026-01-01T00:00:00Z")));
  REQUIRE(first.actions.size() == 1);
  REQUIRE(state->runs.at("w").step == "2");  // at `wait 1d`

  // v2 sends another email after the wait and says `on update migrate`.
  const auto v2 = build(R"(journey w {
  entry on signup
  on update migrate
  send email "a"
  wait 1d
  send email "b-new"
  wait up to 2d {
    on order { send email "thanks"; exit }
  }
  send email "c"
}
)");
  engine.deploy(v2);
  const auto out = engine.on_time(*state, at("2026-01-02T00:00:00Z"), true);
  const auto& run = state->runs.at("w");
  CHECK(run.version == v2->journeys[0].version);
  CHECK(state->history.at("w").version == v2->journeys[0].version);
  REQUIRE(out.actions.size() == 1);
  CHECK(out.actions[0].template_name == "b-new");
  CHECK(out.actions[0].action_id == je::action_id("c1", "w", v2->journeys[0].version, 1, "3", 1));
  CHECK(out.actions[0].action_id != first.actions[0].action_id);
  const auto migrated = std::find_if(out.records.begin(), out.records.end(), [](const auto& r) {
    return r.kind == je::Record::Kind::Migrated;
  });
  REQUIRE(migrated != out.records.end());
  CHECK(migrated->version == v2->journeys[0].version);
  CHECK(migrated->detail == v1->journeys[0].version);
  CHECK(migrated->step == "2");
  const bool traced = std::any_of(out.trace.begin(), out.trace.end(), [](const auto& t) {
    return t.message.rfind("migrated from version ", 0) == 0 &&
           t.message.find(" at wait 1d after send email \"a\" to version ") != std::string::npos;
  });
  CHECK(traced);
  // Nothing more to move: the next call migrates nothing.
  const auto again = engine.on_time(*state, at("2026-01-02T00:00:01Z"));
  CHECK(std::none_of(again.records.begin(), again.records.end(),
                     [](const auto& r) { return r.kind == je::Record::Kind::Migrated; }));

  // Stored and read back (a restart with both versions kept), the state goes on alike.
  je::Engine restarted(config);
  restarted.retain(v1);
  restarted.deploy(v2);
  auto copy = je::deserialize(je::serialize(*moved));
  const auto a = engine.on_time(*moved, at("2026-01-02T00:00:00Z"));
  const auto b = restarted.on_time(*copy, at("2026-01-02T00:00:00Z"));
  REQUIRE(a.actions.size() == 1);
  REQUIRE(b.actions.size() == 1);
  CHECK(je::to_json_line(a.actions[0]) == je::to_json_line(b.actions[0]));
}

TEST_CASE("a run at a changed step, or without `on update migrate`, keeps its version",
          "[migrate]") {
  je::EngineConfig config;
  config.consent_assumed = true;
  for (const bool migrate : {true, false}) {
    je::Engine engine(config);
    const auto v1 = build(kBase);
    engine.deploy(v1);
    auto state = je::new_customer("c1");
    engine.on_event(*state, track("c1", "signup", at("2026-01-01T00:00:00Z")));
    // The wait itself changed (1d became 2d) when migrating; nothing changed but the policy
    // and a send when not.
    const std::string v2_text = migrate ? R"(journey w {
  entry on signup
  on update migrate
  send email "a"
  wait 2d
  send email "b-new"
}
)"
                                        : R"(journey w {
  entry on signup
  send email "a"
  wait 1d
  send email "b-new"
}
)";
    engine.deploy(build(v2_text));
    const auto out = engine.on_time(*state, at("2026-01-02T00:00:00Z"));
    CHECK(state->runs.at("w").version == v1->journeys[0].version);
    REQUIRE(out.actions.size() == 1);
    CHECK(out.actions[0].template_name == "b");
  }
}

TEST_CASE("a migrated run keeps its visit counts and takes the new exit rules", "[migrate]") {
  je::EngineConfig config;
  config.consent_assumed = true;
  je::Engine engine(config);
  const auto v1 = build(R"(journey w {
  entry on signup
  again: send email "a"
  wait 1d
  goto again
}
)");
  engine.deploy(v1);
  auto state = je::new_customer("c1");
  engine.on_event(*state, track("c1", "signup", at("2026-01-01T00:00:00Z")));
  engine.on_time(*state, at("2026-01-02T00:00:00Z"));  // `again` visited twice
  CHECK(state->runs.at("w").visits.at("again") == 2);
  const auto v2 = build(R"(journey w {
  entry on signup
  exit when count(stop) > 0
  on update migrate
  again: send email "a"
  wait 1d
  goto again
}
)");
  engine.deploy(v2);
  const auto out = engine.on_time(*state, at("2026-01-03T00:00:00Z"));
  REQUIRE(out.actions.size() == 1);
  CHECK(out.actions[0].action_id ==
        je::action_id("c1", "w", v2->journeys[0].version, 1, "again", 3));
  CHECK(state->runs.at("w").exit_values.size() == 1);
  engine.on_event(*state, track("c1", "stop", at("2026-01-03T01:00:00Z")));
  CHECK(state->runs.empty());
}
