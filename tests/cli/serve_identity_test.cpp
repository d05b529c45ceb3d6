// Identity resolution in `journey serve`: anonymous visitors, logins, aliases and identity keys
// link customers that sit in different shards; any linked id reads the customer; erasure of one
// id erases them all; the directory survives a restart.
#include <algorithm>

#include "cli/serve_support.hpp"
#include "engine/hash.hpp"

using namespace journey::test::serve;

namespace {

const char* kWelcome = R"(journey welcome {
  entry on signup
  reentry never
  send email "welcome-1"
  wait 2s
  send email "welcome-2"
}
)";

constexpr int kShards = 4;

std::size_t shard_of(const std::string& id) {
  return static_cast<std::size_t>(journey::engine::stable_hash(id, 0) % kShards);
}

// An id `prefix-N` whose shard is not `other`'s: the merge has to cross shards.
std::string elsewhere(const std::string& prefix, const std::string& other) {
  for (int n = 1;; ++n) {
    std::string id = prefix + "-" + std::to_string(n);
    if (shard_of(id) != shard_of(other)) return id;
  }
}

std::vector<std::string> templates_of(const std::vector<json>& actions, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (a["customer_id"] == id) out.push_back(a["template"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("serve: an anonymous visitor who logs in is one customer with one welcome series",
          "[serve][identity]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", "shards = " + std::to_string(kShards) +
                                "\n[engine]\nconsent = \"assumed\"\n[identity]\nkeys = "
                                "[\"email\"]\nmax_ids = 3\n");
  auto daemon = std::make_unique<DaemonProcess>(
      dir, std::vector<std::string>{"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon->started());
  const auto post = [&](const std::string& path, const json& body) {
    return call("POST", daemon->url(path), body.dump()).status;
  };
  const std::string user = "u-1";
  const std::string visitor = elsewhere("anon", user);

  // Signs up anonymously, logs in (identify with both ids), signs up again as the user.
  REQUIRE(post("/v1/track", {{"event", "signup"}, {"anonymousId", visitor}}) == 200);
  REQUIRE(post("/v1/identify",
               {{"userId", user}, {"anonymousId", visitor}, {"traits", {{"plan", "pro"}}}}) == 200);
  REQUIRE(post("/v1/track", {{"event", "signup"}, {"userId", user}}) == 200);
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 2; }));
  REQUIRE(eventually([&] { return settled(*daemon); }));
  const auto actions = actions_in(dir);
  CHECK(actions.size() == 2);
  CHECK(templates_of(actions, visitor) == std::vector<std::string>{"welcome-1"});
  CHECK(templates_of(actions, user) == std::vector<std::string>{"welcome-2"});

  // Either id reads the one customer.
  for (const auto& id : {user, visitor}) {
    auto answer = call("GET", daemon->url("/v1/customers/" + id));
    REQUIRE(answer.status == 200);
    const auto body = body_of(answer);
    CHECK(body["customer"]["customer_id"] == user);
    CHECK(body["customer"]["ids"] == json::array({user, visitor}));
    CHECK(body["customer"]["merges"][0]["cause"] == "anonymousId");
    CHECK(body["customer"]["journeys"]["welcome"]["entries"] == 1);
    CHECK(body["recent_actions"].size() == 2);
  }
  auto explain = call("GET", daemon->url("/v1/customers/" + visitor + "/explain"));
  REQUIRE(explain.status == 200);
  CHECK_THAT(explain.body, Catch::Contains("merged " + visitor + " into " + user));

  // An alias joins a second device; a third is refused by max_ids = 3.
  REQUIRE(post("/v1/alias", {{"previousId", "device-2"}, {"userId", user}}) == 200);
  REQUIRE(post("/v1/track",
               {{"event", "page_viewed"}, {"userId", user}, {"anonymousId", "device-3"}}) == 200);
  REQUIRE(
      eventually([&] { return metric(*daemon, "journey_identity_merges_refused_total") == 1; }));
  CHECK(metric(*daemon, "journey_identity_merges_total") == 2);
  explain = call("GET", daemon->url("/v1/customers/" + user + "/explain"));
  CHECK_THAT(explain.body, Catch::Contains("merge of device-3 and " + user +
                                           " (anonymousId) refused: 4 ids would exceed the bound "
                                           "of 3 per customer"));

  // Identity keys: two accounts with one email are one customer, the one seen first survives.
  REQUIRE(post("/v1/identify", {{"userId", "web-9"}, {"traits", {{"email", "ada@example.com"}}}}) ==
          200);
  REQUIRE(post("/v1/identify",
               {{"userId", "shop-9"}, {"traits", {{"email", "ada@example.com"}}}}) == 200);
  REQUIRE(eventually([&] { return metric(*daemon, "journey_identity_merges_total") == 3; }));
  auto shop = call("GET", daemon->url("/v1/customers/shop-9"));
  REQUIRE(shop.status == 200);
  CHECK(body_of(shop)["customer"]["customer_id"] == "web-9");

  // The directory outlives a restart.
  daemon->signal(SIGTERM);
  REQUIRE(daemon->wait() == 0);
  daemon = std::make_unique<DaemonProcess>(
      dir, std::vector<std::string>{"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon->started());
  auto again = call("GET", daemon->url("/v1/customers/device-2"));
  REQUIRE(again.status == 200);
  CHECK(body_of(again)["customer"]["customer_id"] == user);
  CHECK(body_of(call("GET", daemon->url("/v1/customers/web-9")))["customer"]["customer_id"] ==
        "web-9");

  // Erasing one linked id erases the customer and every id linked to it.
  auto erased = call("DELETE", daemon->url("/v1/customers/device-2"));
  REQUIRE(erased.status == 200);
  std::vector<std::string> all_ids{"device-2", user, visitor};
  std::sort(all_ids.begin(), all_ids.end());
  CHECK(body_of(erased)["ids"] == json(all_ids));
  CHECK(body_of(erased)["removed"]["unsent_actions"] == 0);
  for (const auto& id : {user, visitor, std::string("device-2")}) {
    CHECK(call("GET", daemon->url("/v1/customers/" + id)).status == 404);
    CHECK(call("GET", daemon->url("/v1/customers/" + id + "/explain")).status == 404);
  }
  CHECK(call("GET", daemon->url("/v1/customers/shop-9")).status == 200);
}

TEST_CASE("serve: logins under load give each person one welcome series, whatever the shards",
          "[serve][identity]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml",
            "shards = " + std::to_string(kShards) + "\n[engine]\nconsent = \"assumed\"\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  // 60 visitors sign up anonymously, then log in, in batches that mix persons.
  constexpr int kPeople = 60;
  json anonymous = {{"batch", json::array()}};
  json logins = {{"batch", json::array()}};
  for (int i = 0; i < kPeople; ++i) {
    const std::string n = std::to_string(i);
    anonymous["batch"].push_back(
        {{"type", "track"}, {"event", "signup"}, {"anonymousId", "a" + n}});
    anonymous["batch"].push_back({{"type", "page"}, {"name", "home"}, {"anonymousId", "a" + n}});
    logins["batch"].push_back(
        {{"type", "identify"}, {"userId", "u" + n}, {"anonymousId", "a" + n}});
    logins["batch"].push_back({{"type", "track"}, {"event", "signup"}, {"userId", "u" + n}});
  }
  REQUIRE(call("POST", daemon.url("/v1/batch"), anonymous.dump()).status == 200);
  REQUIRE(call("POST", daemon.url("/v1/batch"), logins.dump()).status == 200);
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 2 * kPeople; }));
  REQUIRE(eventually([&] { return settled(daemon); }));
  const auto actions = actions_in(dir);
  CHECK(actions.size() == 2 * kPeople);
  for (int i = 0; i < kPeople; ++i) {
    const std::string n = std::to_string(i);
    INFO("person " << n);
    CHECK(templates_of(actions, "a" + n) == std::vector<std::string>{"welcome-1"});
    CHECK(templates_of(actions, "u" + n) == std::vector<std::string>{"welcome-2"});
  }
  CHECK(metric(daemon, "journey_identity_merges_total") == kPeople);
}
