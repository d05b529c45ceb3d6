// Identity resolution inside the engine: the id graph and its bound, the merge rules of
// Engine::merge, and the identity part of a stored state.
#include "engine/identity.hpp"

#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"
#include "engine_support.hpp"

using journey::engine::Action;
using journey::engine::CustomerState;
using journey::engine::Engine;
using journey::engine::EngineConfig;
using journey::engine::Event;
using journey::engine::EventError;
using journey::engine::IdentityGraph;
using journey::test::at;
using journey::test::build;
using journey::test::identify_event;
using journey::test::track_event;
using nlohmann::json;

namespace {

Event parsed(const json& j) {
  auto result = journey::engine::parse_event(j);
  const auto* error = std::get_if<EventError>(&result);
  INFO((error != nullptr ? error->path + ": " + error->message : std::string()));
  REQUIRE(error == nullptr);
  return std::get<Event>(result);
}

// An event of the anonymous visitor `id` (no userId).
Event anonymous(Event ev) {
  ev.anonymous = true;
  ev.anonymous_id = ev.customer_id;
  return ev;
}

std::vector<Action> take(journey::engine::Outcome&& out, std::vector<Action>& all) {
  for (const auto& a : out.actions) all.push_back(a);
  return out.actions;
}

}  // namespace

TEST_CASE("events name their customer by userId, else anonymousId, and read alias and page",
          "[identity][event]") {
  const Event anonymous = parsed({{"type", "track"},
                                  {"event", "x"},
                                  {"anonymousId", "a1"},
                                  {"timestamp", "2026-01-01T00:00:00Z"}});
  CHECK(anonymous.customer_id == "a1");
  CHECK(anonymous.anonymous);
  CHECK(anonymous.linked_id().empty());

  const Event login = parsed({{"type", "identify"},
                              {"userId", "u1"},
                              {"anonymousId", "a1"},
                              {"timestamp", "2026-01-01T00:00:00Z"}});
  CHECK(login.customer_id == "u1");
  CHECK_FALSE(login.anonymous);
  CHECK(login.linked_id() == "a1");

  const Event alias = parsed({{"type", "alias"},
                              {"userId", "u1"},
                              {"previousId", "old"},
                              {"timestamp", "2026-01-01T00:00:00Z"}});
  CHECK(alias.type == Event::Type::Alias);
  CHECK(alias.linked_id() == "old");

  const Event page = parsed({{"type", "page"},
                             {"name", "Home"},
                             {"anonymousId", "a1"},
                             {"timestamp", "2026-01-01T00:00:00Z"}});
  CHECK(page.type == Event::Type::Track);
  CHECK(page.name == "page");
  CHECK(page.properties == json{{"name", "Home"}});

  const auto error = [](const json& j) {
    auto result = journey::engine::parse_event(j);
    const auto* e = std::get_if<EventError>(&result);
    REQUIRE(e != nullptr);
    return e->path + ": " + e->message;
  };
  CHECK(error({{"type", "track"}, {"event", "x"}, {"timestamp", "2026-01-01T00:00:00Z"}}) ==
        "$.userId: missing userId and anonymousId");
  CHECK(error({{"type", "track"},
               {"event", "x"},
               {"anonymousId", 7},
               {"timestamp", "2026-01-01T00:00:00Z"}}) ==
        "$.anonymousId: expected a string, found a number");
  CHECK(error({{"type", "alias"}, {"userId", "u1"}, {"timestamp", "2026-01-01T00:00:00Z"}}) ==
        "$.previousId: missing previousId");
  CHECK(error({{"type", "alias"}, {"previousId", "a"}, {"timestamp", "2026-01-01T00:00:00Z"}}) ==
        "$.userId: missing userId");
  CHECK(error({{"type", "screen"}, {"userId", "u"}, {"timestamp", "2026-01-01T00:00:00Z"}})
            .find("unsupported type \"screen\"") != std::string::npos);
}

TEST_CASE("the id graph links in order and refuses a person beyond the bound", "[identity]") {
  IdentityGraph graph(5, 3);  // ids 0..4
  CHECK(graph.link(0, 1).linked == IdentityGraph::Linked::Merged);
  CHECK(graph.link(1, 0).linked == IdentityGraph::Linked::Already);
  CHECK(graph.link(0, 2).ids == 3);
  const auto refused = graph.link(3, 2);
  CHECK(refused.linked == IdentityGraph::Linked::Refused);
  CHECK(refused.ids == 4);
  CHECK(graph.find(3) == 3);
  CHECK(graph.find(1) == graph.find(2));
  CHECK(graph.find(4) == 4);

  // The representative does not depend on which side a link names first.
  IdentityGraph one(2, 10);
  IdentityGraph two(2, 10);
  one.link(1, 0);
  two.link(0, 1);
  CHECK(one.find(1) == two.find(1));
}

TEST_CASE("merged profiles: the survivor wins, a false consent wins, tags are the union",
          "[identity]") {
  json survivor = {{"plan", "pro"},
                   {"consent", {{"email", true}, {"sms", true}}},
                   {"tags", {"vip"}},
                   {"address", {{"city", "Oslo"}}}};
  const json absorbed = {{"plan", "free"},
                         {"first_name", "Ada"},
                         {"consent", {{"email", false}, {"push", true}}},
                         {"tags", {"mobile", "vip"}},
                         {"address", {{"city", "Bergen"}, {"zip", "5003"}}}};
  journey::engine::merge_profile(survivor, absorbed);
  CHECK(survivor == json{{"plan", "pro"},
                         {"first_name", "Ada"},
                         {"consent", {{"email", false}, {"sms", true}, {"push", true}}},
                         {"tags", {"vip", "mobile"}},
                         {"address", {{"city", "Oslo"}, {"zip", "5003"}}}});
}

TEST_CASE("the survivor: a userId over an anonymous id, then the one seen first", "[identity]") {
  CustomerState user;
  user.customer_id = "u";
  CustomerState visitor;
  visitor.customer_id = "a";
  visitor.anonymous = true;
  visitor.known = true;
  visitor.first_at = 1;
  CHECK(journey::engine::survives(user, visitor));  // even with no input yet
  CHECK_FALSE(journey::engine::survives(visitor, user));
  CustomerState older = visitor;
  older.anonymous = false;
  CustomerState newer = older;
  newer.first_at = 2;
  CHECK(journey::engine::survives(older, newer));
  CHECK_FALSE(journey::engine::survives(newer, older));
  CHECK(journey::engine::survives(newer, user));  // seen beats never seen
}

TEST_CASE("a merge keeps one run, takes over the other side's, and counts both sides",
          "[identity][engine]") {
  EngineConfig config;
  config.channel_caps["*"] = {100, 7LL * 24 * 3600 * 1000};  // sends are kept for a cap's window
  Engine engine(config);
  engine.deploy(build(R"(
journey welcome {
  entry on signed_up
  reentry never
  send email "w1"
  wait 1d
  send email "w2"
}
journey cart {
  entry on add_to_cart
  wait 2d
  send email "cart"
}
)"));
  std::vector<Action> all;
  auto user = journey::engine::new_customer("u1");
  auto visitor = journey::engine::new_customer("a1");
  const json consent = {{"consent", {{"email", true}}}};
  take(engine.on_event(*user, identify_event("u1", at("2026-03-02T08:00:00Z"), consent), false),
       all);
  take(engine.on_event(*user, track_event("u1", "signed_up", at("2026-03-02T09:00:00Z")), false),
       all);
  take(engine.on_event(*visitor,
                       anonymous(identify_event("a1", at("2026-03-01T08:00:00Z"), consent)), false),
       all);
  take(engine.on_event(
           *visitor, anonymous(track_event("a1", "signed_up", at("2026-03-01T09:00:00Z"))), false),
       all);
  take(
      engine.on_event(
          *visitor, anonymous(track_event("a1", "add_to_cart", at("2026-03-01T20:00:00Z"))), false),
      all);
  CHECK(all.size() == 2);  // w1 to u1, w1 to a1
  REQUIRE(journey::engine::survives(*user, *visitor));
  auto out = engine.merge(*user, *visitor, at("2026-03-02T09:45:00Z"), "anonymousId", true);
  // a1's w2 was due on Mar 2 09:00, before the merge: sent to a1 by the merge call.
  REQUIRE(out.actions.size() == 1);
  CHECK(out.actions[0].customer_id == "a1");
  CHECK(out.actions[0].template_name == "w2");
  for (const auto& a : out.actions) all.push_back(a);
  // The visitor's welcome run had ended; the user's goes on. The cart run is taken over.
  CHECK(user->runs.count("welcome") == 1);
  REQUIRE(user->runs.count("cart") == 1);
  CHECK(user->runs.at("cart").entry_no == 1);
  CHECK(user->history.at("welcome").entries == 2);
  CHECK(user->linked_ids == std::vector<std::string>{"a1"});
  REQUIRE(user->merges.size() == 1);
  CHECK(user->merges[0].cause == "anonymousId");
  CHECK(user->sent.size() == 3);  // both sides' sends count for caps
  CHECK(visitor->runs.empty());
  CHECK(visitor->customer_id.empty());

  auto later = engine.on_time(*user, at("2026-03-04T00:00:00Z"));
  for (const auto& a : later.actions) all.push_back(a);
  std::set<std::string> ids;
  for (const auto& a : all) {
    CHECK(ids.insert(a.action_id).second);  // no action id twice
  }
  std::vector<std::string> to_u1;
  for (const auto& a : later.actions) to_u1.push_back(a.customer_id + " " + a.template_name);
  CHECK(to_u1 == std::vector<std::string>{"u1 w2", "u1 cart"});
}

TEST_CASE("when both are in a journey, the run that entered first goes on", "[identity][engine]") {
  Engine engine(EngineConfig{});
  engine.deploy(build(R"(
journey tour {
  entry on app_opened
  send push "t1"
  wait 3d
  send push "t2"
}
)"));
  auto a = journey::engine::new_customer("u-new");
  auto b = journey::engine::new_customer("u-old");
  engine.on_event(*a, track_event("u-new", "app_opened", at("2026-03-02T10:00:00Z")));
  engine.on_event(*b, track_event("u-old", "app_opened", at("2026-03-01T10:00:00Z")));
  REQUIRE(journey::engine::survives(*b, *a));
  const auto out = engine.merge(*b, *a, at("2026-03-02T12:00:00Z"), "alias");
  REQUIRE(b->runs.count("tour") == 1);
  CHECK(b->runs.at("tour").entered_at == at("2026-03-01T10:00:00Z"));
  CHECK(b->history.at("tour").entries == 2);
  bool merged_exit = false;
  for (const auto& r : out.records) {
    if (r.kind == journey::engine::Record::Kind::Exited && r.detail == "merged") merged_exit = true;
  }
  CHECK(merged_exit);
}

TEST_CASE("a stored state keeps its identity part, older states read and write as they were",
          "[identity][serialize]") {
  auto state = journey::engine::new_customer("u1");
  state->known = true;
  state->first_at = 1234;
  state->linked_ids = {"a1", "a2"};
  state->merges.push_back({55, "a1", "u1", "anonymousId"});
  const std::string bytes = journey::engine::serialize(*state);
  CHECK(bytes.front() == '\x04');
  const auto back = journey::engine::deserialize(bytes);
  CHECK(back->first_at == state->first_at);
  CHECK(back->linked_ids == state->linked_ids);
  CHECK(back->merges == state->merges);
  CHECK(journey::engine::serialize(*back) == bytes);

  auto old = journey::engine::new_customer("c1");
  old->known = true;
  CHECK(journey::engine::serialize(*old).front() == '\x02');
}
