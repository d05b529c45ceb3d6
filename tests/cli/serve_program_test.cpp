// Program controls in `journey serve`: `[program]` holdout and `[topics]` from journey.toml, the
// proof of consent in GET /v1/customers/{id} and /explain, the holdout's lift in GET
// /v1/journeys, erasure of the consent records with the rest of the customer, `[program]
// max_active` between journeys of different priorities, and W104 for an undeclared topic.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

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

TEST_CASE("serve: [program] max_active pre-empts a lower priority and refuses an equal one",
          "[serve][program]") {
  TempDir dir;
  dir.write("journeys/j.journey", R"(journey browse {
  entry on product_viewed
  priority 1
  send push "still-looking"
  wait 3d
  send email "still-looking-email"
}

journey cart {
  entry on cart_updated
  priority 10
  send email "your-cart"
  wait 2d
  send push "your-cart-reminder"
}

journey rescue {
  entry on checkout_started
  priority 10
  send email "finish-checkout"
}
)");
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n[program]\nmax_active = 1\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  for (const char* event : {"product_viewed", "cart_updated", "checkout_started"}) {
    const json body = {{"userId", "ana"}, {"event", event}, {"messageId", event}};
    REQUIRE(call("POST", daemon.url("/v1/track"), body.dump()).status == 200);
  }
  // The cart run waits two days: the journeys' counts say when all three events were handled.
  std::map<std::string, json> by_name;
  REQUIRE(eventually([&] {
    const json listed = body_of(call("GET", daemon.url("/v1/journeys")));
    for (const auto& j : listed["journeys"]) by_name[j["name"]] = j["versions"][0];
    const json& refused = by_name["rescue"]["refused"];
    return refused.is_object() && refused.value("arbitration", 0) == 1;
  }));
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 2; }));
  std::vector<std::string> templates;
  for (const auto& a : actions_in(dir)) templates.push_back(a["template"]);
  CHECK(templates == std::vector<std::string>{"still-looking", "your-cart"});
  CHECK(by_name["browse"]["exits"]["preempted"] == 1);
  CHECK(by_name["cart"]["active_runs"] == 1);
  CHECK(by_name["rescue"]["entered"] == 0);
  CHECK(by_name["rescue"]["refused"]["arbitration"] == 1);
  const auto trace = body_of(call("GET", daemon.url("/v1/customers/ana/explain")))["trace"];
  std::string lines;
  for (const auto& line : trace) lines += line["message"].get<std::string>() + "\n";
  CHECK_THAT(lines, Catch::Contains("pre-empted by cart (priority 10 over 1, max_active 1)"));
  CHECK_THAT(lines, Catch::Contains("max_active 1 reached and no active run has a priority below "
                                    "10: cart (priority 10)"));
}

TEST_CASE("serve: a send naming a topic [topics] does not declare is warning W104",
          "[serve][program]") {
  TempDir dir;
  const auto welcome = [](const std::string& topic) {
    return "journey welcome {\n  entry on signup\n  send email \"digest\" topic " + topic + "\n}\n";
  };
  dir.write("journeys/j.journey", welcome("news"));
  dir.write("journey.toml", "[topics]\nnews = \"opt-out\"\npromotions = \"opt-in\"\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  const auto lint = body_of(call("POST", daemon.url("/v1/lint"), welcome("nwes")));
  CHECK(lint["errors"] == 0);
  REQUIRE(lint["warnings"] == 1);
  CHECK(lint["diagnostics"][0]["code"] == "W104");
  CHECK(lint["diagnostics"][0]["help"] == "did you mean `news`?");
  CHECK(body_of(call("POST", daemon.url("/v1/lint"), welcome("promotions")))["warnings"] == 0);
  // A warning does not stop a reload: the journey goes live, and the answer names it.
  dir.write("journeys/j.journey", welcome("nwes"));
  const auto reloaded = call("POST", daemon.url("/v1/journeys/reload"));
  REQUIRE(reloaded.status == 200);
  CHECK(body_of(reloaded)["reloaded"] == true);
  CHECK(body_of(reloaded)["diagnostics"]["diagnostics"][0]["code"] == "W104");
}
