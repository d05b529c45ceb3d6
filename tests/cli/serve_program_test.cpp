// Program controls in `journey serve`: `[program]` holdout and `[topics]` from journey.toml, the
// proof of consent in GET /v1/customers/{id} and /explain, the holdout's lift in GET
// /v1/journeys, and erasure of the consent records with the rest of the customer.
#include <algorithm>
#include <set>
#include <string>

#include "cli/serve_support.hpp"
#include "engine/rules.hpp"

using namespace journey::test::serve;

namespace {

const char* kJourneys = R"(journey welcome {
  entry on signup
  goal first_order: order_completed within 30d
  hello: send email "welcome-1" topic news
}

journey receipt {
  entry on order_completed
  reentry always
  transactional
  send email "order-confirmation"
}
)";

}  // namespace

TEST_CASE("serve: a global holdout, topics and the proof of each consent a send relied on",
          "[serve][program]") {
  TempDir dir;
  dir.write("journeys/j.journey", kJourneys);
  dir.write("journey.toml",
            "[program]\nholdout = \"30%\"\nsalt = \"test\"\n[topics]\nnews = \"opt-out\"\n");
  journey::engine::ProgramRules rules;
  rules.holdout_bp = 3000;
  rules.salt = "test";
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  const auto post = [&](const std::string& path, const json& body) {
    return call("POST", daemon.url(path), body.dump()).status;
  };
  // Twenty customers with a consent record; every other one orders.
  std::set<std::string> held;
  for (int i = 0; i < 20; ++i) {
    const std::string id = "p" + std::to_string(i);
    if (journey::engine::in_holdout(rules, id)) held.insert(id);
    const json consent = {
        {"granted", true}, {"at", "2026-02-28T17:42:10Z"}, {"source", "signup-form " + id}};
    REQUIRE(post("/v1/identify", {{"userId", id},
                                  {"messageId", "i-" + id},
                                  {"traits", {{"consent", {{"email", consent}}}}}}) == 200);
    REQUIRE(post("/v1/track", {{"userId", id}, {"event", "signup"}}) == 200);
    if (i % 2 == 0)
      REQUIRE(post("/v1/track", {{"userId", id}, {"event", "order_completed"}}) == 200);
  }
  REQUIRE(!held.empty());
  REQUIRE(held.size() < 20);
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 30; }));
  REQUIRE(eventually([&] { return settled(daemon); }));
  const auto actions = actions_in(dir);
  CHECK(actions.size() == 30);
  for (const auto& a : actions) {
    const std::string id = a["customer_id"];
    if (a["journey"] == "receipt") {
      CHECK(a["status"] == "sent");  // transactional: the holdout does not apply
      CHECK(a["transactional"] == true);
    } else {
      CHECK(a["topic"] == "news");  // opt-out topic, nothing said: subscribed
      CHECK(a["status"] == (held.count(id) ? "suppressed" : "sent"));
      if (held.count(id)) CHECK(a["reason"] == "holdout");
    }
  }

  // The customer shows its consent record and whether it is held out; the trace names the
  // record a send relied on.
  const auto first_sent = std::find_if(actions.begin(), actions.end(), [](const json& a) {
    return a["journey"] == "welcome" && a["status"] == "sent";
  });
  REQUIRE(first_sent != actions.end());
  const std::string sent_to = (*first_sent)["customer_id"];
  auto customer = body_of(call("GET", daemon.url("/v1/customers/" + sent_to)))["customer"];
  CHECK(customer["in_holdout"] == false);
  REQUIRE(customer["consents"].size() == 1);
  CHECK(customer["consents"][0]["key"] == "consent.email");
  CHECK(customer["consents"][0]["state"] == "granted");
  CHECK(customer["consents"][0]["at"] == "2026-02-28T17:42:10Z");
  CHECK(customer["consents"][0]["source"] == "signup-form " + sent_to);
  const auto trace = body_of(call("GET", daemon.url("/v1/customers/" + sent_to + "/explain")));
  bool relied = false;
  for (const auto& line : trace["trace"]) {
    relied = relied || line["message"].get<std::string>().find(
                           "sent, relying on consent.email granted at 2026-02-28T17:42:10Z "
                           "(source: signup-form " +
                           sent_to + ")") != std::string::npos;
  }
  CHECK(relied);

  // The journey's counts carry the program lift of its goal.
  const auto journeys = body_of(call("GET", daemon.url("/v1/journeys")))["journeys"];
  const auto welcome = std::find_if(journeys.begin(), journeys.end(),
                                    [](const json& j) { return j["name"] == "welcome"; });
  REQUIRE(welcome != journeys.end());
  const auto& version = (*welcome)["versions"][0];
  CHECK(version["holdout"]["entered"] == held.size());
  const auto& lift = version["holdout"]["goals"]["first_order"];
  CHECK(lift["holdout_runs"] == held.size());
  CHECK(lift["treated_runs"] == 20 - held.size());
  CHECK(lift["treated_converted"].get<int>() + lift["holdout_converted"].get<int>() == 10);

  // A withdrawal is kept with when and where; erasure removes every record.
  REQUIRE(post("/v1/identify",
               {{"userId", sent_to},
                {"traits",
                 {{"consent", {{"email", {{"granted", false}, {"source", "unsubscribe"}}}}}}}}) ==
          200);
  REQUIRE(eventually([&] {
    const auto c = body_of(call("GET", daemon.url("/v1/customers/" + sent_to)))["customer"];
    return c["consents"].size() == 2 && c["consents"][1]["state"] == "withdrawn";
  }));
  REQUIRE(call("DELETE", daemon.url("/v1/customers/" + sent_to)).status == 200);
  CHECK(call("GET", daemon.url("/v1/customers/" + sent_to)).status == 404);
}
