// The predictive functions through the real binary: `simulate --model` enters at the exact
// millisecond P(alive) crosses a threshold, `lint`, `simulate`, `explain` and `diff` with and
// without a model file, bad model files named with the JSON path of the bad value, and `journey
// serve` with `[model] file` in journey.toml.
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli/serve_support.hpp"
#include "cli_support.hpp"
#include "engine/model.hpp"
#include "support/p_alive_crossing.hpp"

namespace je = journey::engine;

using journey::test::run_journey;

namespace {

constexpr je::Millis kDay = 86'400'000;
constexpr double kWeek = 7.0 * 86'400'000;

// The paper's CDNOW estimates (Fader, Hardie and Lee 2005, weeks), with Gamma-Gamma (2013).
const char* kModel = R"({"format": "journey-model", "version": 1, "event": "order_completed",
  "unit": "week", "unit_days": 7,
  "bg_nbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
  "gamma_gamma": {"property": "amount", "p": 6.25, "q": 3.74, "v": 15.44}}
)";
const je::BgNbd kPaper{0.243, 4.414, 0.793, 2.426};

const char* kWinBack = R"(segment churn_risk_high = p_alive() < 0.3

journey win_back_risk {
  entry when customer is churn_risk_high
  reentry always
  exit when p_alive() >= 0.5
  offer: send email "winback" with { p: p_alive(), value: predicted_value(26w) }
  wait 30d
  reminder: send email "winback-reminder"
}
)";

// The first millisecond at which P(alive) is below `level` under the paper's model.
je::Millis crossing(double x, double recency, je::Millis first_day, double level) {
  return journey::test::p_alive_crossing(kPaper, x, recency, first_day, level);
}

std::string order(const std::string& user, const std::string& at, double amount) {
  return R"({"type":"track","event":"order_completed","userId":")" + user + R"(","timestamp":")" +
         at + R"(","properties":{"amount":)" + std::to_string(amount) + "}}\n";
}

std::string consent(const std::string& user) {
  return R"({"type":"identify","userId":")" + user +
         R"(","timestamp":"2026-01-01T00:00:00Z","traits":{"consent":{"email":true}}})"
         "\n";
}

}  // namespace

TEST_CASE("simulate --model enters at the millisecond P(alive) crosses the threshold",
          "[predict]") {
  const journey::test::TempDir dir;
  dir.write("model.json", kModel);
  dir.write("win_back.journey", kWinBack);
  // c1 buys on days 0, 7 and 21 (x = 2, t_x = 3 weeks). c2 buys once: P(alive) stays 1. c3 buys
  // on days 0 and 2, falls below 0.3 and enters; buys again ten days later, which lifts P(alive)
  // above 0.5 (the run leaves before its reminder), and enters again when it falls anew.
  const je::Millis c1_first = *je::parse_timestamp("2026-01-01T00:00:00Z");
  const je::Millis c1_entry = crossing(2, 3, c1_first, 0.3);
  const je::Millis c3_first = *je::parse_timestamp("2026-01-02T00:00:00Z");
  const je::Millis c3_entry = crossing(1, 2.0 / 7, c3_first, 0.3);
  const je::Millis c3_back = c3_entry + 10 * kDay;
  const double c3_recency =
      static_cast<double>(je::purchase_day(c3_back) - je::purchase_day(c3_first)) / 7;
  const je::Millis c3_again = crossing(2, c3_recency, c3_first, 0.3);
  dir.write("events.ndjson",
            consent("c1") + order("c1", "2026-01-01T10:00:00Z", 20) +
                order("c1", "2026-01-08T15:00:00Z", 30) + order("c1", "2026-01-22T09:30:00Z", 40) +
                consent("c2") + order("c2", "2026-01-01T10:00:00Z", 20) + consent("c3") +
                order("c3", "2026-01-02T23:00:00Z", 15) + order("c3", "2026-01-04T01:00:00Z", 25) +
                order("c3", je::format_timestamp(c3_back), 35));
  const auto run =
      run_journey(dir.path, "simulate win_back.journey --events events.ndjson --model model.json");
  INFO(run.err);
  REQUIRE(run.code == 0);
  std::map<std::string, std::vector<std::string>> sent;  // "customer template" -> at
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    const auto action = nlohmann::json::parse(line);
    sent[action["customer_id"].get<std::string>() + " " + action["template"].get<std::string>()]
        .push_back(action["at"]);
    if (action["template"] == "winback") {
      CHECK(action["params"]["p"].get<double>() < 0.3);
      CHECK(action["params"]["p"].get<double>() > 0.2999999);
    }
  }
  using Times = std::vector<std::string>;
  CHECK(sent["c1 winback"] == Times{je::format_timestamp(c1_entry)});
  CHECK(sent["c1 winback-reminder"] == Times{je::format_timestamp(c1_entry + 30 * kDay)});
  CHECK(sent["c3 winback"] ==
        Times{je::format_timestamp(c3_entry), je::format_timestamp(c3_again)});
  CHECK(sent["c3 winback-reminder"] == Times{je::format_timestamp(c3_again + 30 * kDay)});
  CHECK(sent.size() == 4);  // nothing for c2

  // The report counts the entries and the exit; explain shows the values the conditions read.
  const auto report = run_journey(
      dir.path, "simulate win_back.journey --events events.ndjson --model model.json --report");
  REQUIRE(report.code == 0);
  CHECK_THAT(report.out, Catch::Contains("exit when"));
  const auto explained = run_journey(dir.path,
                                     "explain win_back.journey --events events.ndjson --model "
                                     "model.json --customer c1");
  REQUIRE(explained.code == 0);
  CHECK_THAT(explained.out, Catch::Contains("conditions may change at " +
                                            je::format_timestamp(c1_entry) + ": timer set"));
  CHECK_THAT(explained.out, Catch::Contains("p_alive() = 0.29999"));
}

TEST_CASE("lint, simulate, explain and diff need --model for the predictive functions",
          "[predict]") {
  const journey::test::TempDir dir;
  dir.write("model.json", kModel);
  dir.write("win_back.journey", kWinBack);
  dir.write("events.ndjson", consent("c1") + order("c1", "2026-01-01T10:00:00Z", 20));
  auto run = run_journey(dir.path, "lint win_back.journey");
  CHECK(run.code == 1);
  CHECK_THAT(run.out, Catch::Contains("win_back.journey:1:27: error[E119]: `p_alive()` needs a "
                                      "purchase model"));
  run = run_journey(dir.path, "lint win_back.journey --model model.json");
  CHECK(run.code == 0);
  CHECK(run.out.empty());
  for (const char* command : {"simulate", "explain"}) {
    INFO(command);
    run = run_journey(dir.path, std::string(command) + " win_back.journey --events events.ndjson" +
                                    (command == std::string("explain") ? " --customer c1" : ""));
    CHECK(run.code == 1);
    CHECK_THAT(run.err, Catch::Contains("error[E119]"));
    CHECK(run.out.empty());
  }
  // diff runs the old side only with --events: then it needs the model too.
  run = run_journey(dir.path, "diff win_back.journey win_back.journey --events events.ndjson");
  CHECK(run.code == 1);
  CHECK_THAT(run.err, Catch::Contains("error[E119]"));
  CHECK(run.out.empty());
  run = run_journey(dir.path,
                    "diff win_back.journey win_back.journey --events events.ndjson --model "
                    "model.json");
  CHECK(run.code == 0);
  CHECK_THAT(run.out, Catch::StartsWith("journey win_back_risk: unchanged"));
  // compile, graph and diff without events run nothing: no model needed.
  CHECK(run_journey(dir.path, "graph win_back.journey --format mermaid").code == 0);
  CHECK(run_journey(dir.path, "compile win_back.journey --emit ir").code == 0);
  CHECK(run_journey(dir.path, "diff win_back.journey win_back.journey").code == 0);

  // A bad model file: usage error naming the file and the JSON path of the bad value.
  dir.write("bad.json", R"({"format": "journey-model", "version": 1, "event": "order_completed",
    "unit_days": 7, "bg_nbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": "2.4"}})");
  run = run_journey(dir.path, "simulate win_back.journey --events events.ndjson --model bad.json");
  CHECK(run.code == 2);
  CHECK(run.err == "journey simulate: --model: bad.json: $.bg_nbd.b: expected a positive number\n");
  run = run_journey(dir.path, "lint win_back.journey --model missing.json");
  CHECK(run.code == 2);
  CHECK(run.err == "journey lint: --model: missing.json: cannot read the model file\n");
  run = run_journey(dir.path, "diff win_back.journey win_back.journey --model missing.json");
  CHECK(run.code == 2);
  CHECK(run.err == "journey diff: --model: missing.json: cannot read the model file\n");
  dir.write("cbor.json", "not json");
  run = run_journey(dir.path,
                    "explain win_back.journey --events events.ndjson --customer c1 "
                    "--model cbor.json");
  CHECK(run.code == 2);
  CHECK_THAT(run.err, Catch::StartsWith("journey explain: --model: cbor.json: not JSON: parse "
                                        "error at line 1, column 2: "));
}

TEST_CASE("serve: [model] file feeds the predictive functions, and without it no start",
          "[predict][serve]") {
  using namespace journey::test::serve;
  TempDir dir;
  dir.write("journeys/win_back.journey", std::string(kWinBack) + R"(
journey thanks {
  entry on order_completed
  reentry always
  thanks: send email "thanks" with { p: p_alive(), orders: expected_orders(52w) }
}
)");
  SECTION("without a model the scripts have errors and the daemon does not start") {
    dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n");
    DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
    CHECK_FALSE(daemon.started());
    CHECK(daemon.wait() == 2);
    CHECK_THAT(daemon.log(), Catch::Contains("error[E119]: `p_alive()` needs a purchase model"));
  }
  // The model file beside journey.toml, in a folder of its own: `file` is read from there.
  std::filesystem::create_directories(dir.path / "conf");
  dir.write("conf/journey.toml",
            "[engine]\nconsent = \"assumed\"\n[model]\nfile = \"model.json\"\n");
  SECTION("a bad model file is named with the key's line and the JSON path") {
    dir.write("conf/model.json", R"({"format": "journey-model", "version": 7})");
    DaemonProcess daemon(dir, {"--config", "conf/journey.toml", "--listen", "127.0.0.1:0"});
    CHECK_FALSE(daemon.started());
    CHECK(daemon.wait() == 2);
    CHECK_THAT(daemon.log(),
               Catch::Contains("conf/journey.toml:4: `model.file`: conf/model.json: $.version: "
                               "version 7 is newer than this build reads (1)"));
  }
  SECTION("with the model, sends read it and the wake-up is at the crossing instant") {
    dir.write("conf/model.json", kModel);
    DaemonProcess daemon(dir, {"--config", "conf/journey.toml", "--listen", "127.0.0.1:0"});
    REQUIRE(daemon.started());
    // Purchases 30, 20 and 10 days before today (UTC), at 10:00.
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const je::Millis today = je::purchase_day(now) * kDay;
    const je::Millis first_day = today - 30 * kDay;
    json batch = {{"batch", json::array()}};
    for (const int days_ago : {30, 20, 10}) {
      batch["batch"].push_back(
          {{"type", "track"},
           {"event", "order_completed"},
           {"userId", "c1"},
           {"timestamp", je::format_timestamp(today - days_ago * kDay + 10 * 3600 * 1000)},
           {"properties", {{"amount", 20}}}});
    }
    REQUIRE(call("POST", daemon.url("/v1/batch"), batch.dump()).status == 200);
    REQUIRE(eventually([&] { return actions_in(dir, "conf/actions.ndjson").size() >= 3; }));
    const auto actions = actions_in(dir, "conf/actions.ndjson");
    REQUIRE(actions.size() == 3);
    CHECK(actions[0]["params"]["p"] == 1);  // no repeat purchase yet
    const double age = (static_cast<double>(today - 10 * kDay + 10 * 3600 * 1000) -
                        static_cast<double>(first_day)) /
                       kWeek;
    CHECK(actions[2]["params"]["p"].get<double>() ==
          Approx(je::p_alive(kPaper, 2, 20.0 / 7, age)).epsilon(1e-12));
    CHECK(actions[2]["params"]["orders"].get<double>() ==
          Approx(je::expected_purchases(kPaper, 2, 20.0 / 7, age, 52)).epsilon(1e-12));
    // The customer's next wake-up is the instant P(alive) falls below 0.3.
    const auto customer = call("GET", daemon.url("/v1/customers/c1"));
    REQUIRE(customer.status == 200);
    CHECK(body_of(customer)["next_wakeup"] ==
          je::format_timestamp(crossing(2, 20.0 / 7, first_day, 0.3)));
    // Posted scripts are linted against the same model.
    const auto lint = call("POST", daemon.url("/v1/lint"), "segment s = p_alive() < 0.5\n");
    REQUIRE(lint.status == 200);
    CHECK(body_of(lint)["errors"] == 0);
  }
}
