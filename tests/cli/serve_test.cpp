// `journey serve` end to end: the real daemon on an ephemeral loopback port, a real SQLite file
// in a temp dir, a real webhook receiver in this process. Every wait is bounded in time.
#include "cli/serve_support.hpp"

using namespace journey::test::serve;

namespace {

const char* kWelcome = R"(journey welcome {
  entry on signup
  send email "welcome-1"
  send sms "welcome-sms"
  wait 2s
  send email "welcome-2"
}
)";

}  // namespace

TEST_CASE("serve: ingest reaches the file sink and a real webhook receiver", "[serve]") {
  TempDir dir;
  Receiver receiver;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n[sink.channels]\nsms = \"webhook:" +
                                receiver.url() + "\"\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());

  json batch = {{"batch", json::array()}};
  for (int i = 1; i <= 5; ++i) {
    batch["batch"].push_back({{"type", "track"},
                              {"event", "signup"},
                              {"userId", "c" + std::to_string(i)},
                              {"messageId", "m" + std::to_string(i)}});
  }
  auto answer = call("POST", daemon.url("/v1/batch"), batch.dump());
  REQUIRE(answer.status == 200);
  CHECK(body_of(answer)["accepted"] == 5);
  // The same messages again are acknowledged and ignored.
  answer = call("POST", daemon.url("/v1/batch"), batch.dump());
  REQUIRE(answer.status == 200);
  CHECK(body_of(answer)["accepted"] == 0);
  CHECK(body_of(answer)["duplicates"] == 5);

  REQUIRE(eventually(
      [&] { return actions_in(dir).size() >= 10 && receiver.deliveries().size() >= 5; }));
  // Every wait fired and every action went out: no more can come, the counts below are exact.
  REQUIRE(eventually([&] { return settled(daemon); }));
  CHECK(metric(daemon, "journey_timers_fired_total") == 5);
  CHECK(metric(daemon, "journey_actions_created_total") == 15);
  auto file_actions = actions_in(dir);
  CHECK(file_actions.size() == 10);
  std::map<std::string, int> templates;
  for (const auto& action : file_actions) {
    templates[action["template"].get<std::string>()] += 1;
    CHECK(action["channel"] == "email");
    CHECK(action["status"] == "sent");
  }
  CHECK(templates == std::map<std::string, int>{{"welcome-1", 5}, {"welcome-2", 5}});
  auto deliveries = receiver.deliveries();
  CHECK(deliveries.size() == 5);
  for (const auto& delivery : deliveries) {
    CHECK(delivery.body["template"] == "welcome-sms");
    CHECK(delivery.idempotency_key == delivery.body["action_id"]);
  }

  auto customer = call("GET", daemon.url("/v1/customers/c1"));
  REQUIRE(customer.status == 200);
  auto described = body_of(customer);
  CHECK(described["customer_id"] == "c1");
  CHECK(described["recent_actions"].size() == 3);
  CHECK(described["recent_actions"][0]["delivery"]["status"] == "delivered");

  auto explain = call("GET", daemon.url("/v1/customers/c1/explain"));
  REQUIRE(explain.status == 200);
  CHECK_FALSE(body_of(explain)["trace"].empty());

  auto journeys = call("GET", daemon.url("/v1/journeys"));
  REQUIRE(journeys.status == 200);
  auto listed = body_of(journeys)["journeys"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "welcome");
  CHECK(listed[0]["versions"][0]["entered"] == 5);
  CHECK(listed[0]["versions"][0]["sends"] == 15);

  auto metrics = call("GET", daemon.url("/metrics"));
  REQUIRE(metrics.status == 200);
  CHECK_THAT(metrics.body, Catch::Contains("journey_events_in_total{result=\"accepted\"} 5"));
  CHECK_THAT(metrics.body, Catch::Contains("journey_events_in_total{result=\"duplicate\"} 5"));
  CHECK_THAT(metrics.body, Catch::Contains("journey_commit_latency_seconds_count"));
  CHECK_THAT(metrics.body, Catch::Contains("journey_timer_lag_seconds"));
  CHECK_THAT(metrics.body, Catch::Contains("journey_queue_depth"));
  CHECK(call("GET", daemon.url("/healthz")).status == 200);

  auto lint = call("POST", daemon.url("/v1/lint"), "journey j {\n  send email \"x\"\n}\n");
  REQUIRE(lint.status == 200);
  CHECK(body_of(lint)["errors"].get<int>() >= 1);

  // Graceful shutdown right after an acknowledged event still delivers its first sends.
  REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"last"})").status ==
          200);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait() == 0);
  CHECK_THAT(daemon.log(), Catch::Contains("\"msg\":\"stopped\""));
  int last = 0;
  for (const auto& action : actions_in(dir)) last += action["customer_id"] == "last" ? 1 : 0;
  CHECK(last == 1);
  for (const auto& delivery : receiver.deliveries())
    last += delivery.body["customer_id"] == "last" ? 1 : 0;
  CHECK(last == 2);
}

TEST_CASE("serve: a failing webhook is retried with the same Idempotency-Key until it recovers",
          "[serve]") {
  TempDir dir;
  Receiver receiver;
  receiver.failures = 4;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml",
            "[engine]\nconsent = \"assumed\"\n[sink.channels]\nsms = \"webhook:" + receiver.url() +
                "\"\n[webhook]\nmax_attempts = 30\nbackoff_initial = \"50ms\"\n"
                "backoff_max = \"200ms\"\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  for (int i = 1; i <= 3; ++i) {
    auto answer = call("POST", daemon.url("/v1/track"),
                       json{{"event", "signup"}, {"userId", "r" + std::to_string(i)}}.dump());
    REQUIRE(answer.status == 200);
  }
  REQUIRE(eventually([&] { return receiver.deliveries().size() >= 3; }));
  // Every action delivered: no try is still to come.
  REQUIRE(eventually([&] { return settled(daemon); }));
  CHECK(receiver.refused == 4);
  // One delivery per action, its key the action's id.
  std::set<std::string> keys;
  for (const auto& delivery : receiver.deliveries()) {
    CHECK(delivery.idempotency_key == delivery.body["action_id"]);
    keys.insert(delivery.idempotency_key);
  }
  CHECK(receiver.deliveries().size() == 3);
  CHECK(keys.size() == 3);
  // Each refused try came back with the key of an action then delivered: the same key, retried.
  auto refused_keys = receiver.refused_keys();
  CHECK(refused_keys.size() == 4);
  for (const auto& key : refused_keys) {
    INFO(key);
    CHECK(keys.count(key) == 1);
  }
  CHECK(metric(daemon, "journey_deliveries_total{result=\"failed\"}") == 4);
  CHECK(metric(daemon, "journey_deliveries_total{result=\"dead\"}") == 0);
}

TEST_CASE("serve: an action the receiver never accepts goes dead and shows in the API", "[serve]") {
  TempDir dir;
  Receiver receiver;
  receiver.failures = 1'000'000;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml",
            "[engine]\nconsent = \"assumed\"\n[sink.channels]\nsms = \"webhook:" + receiver.url() +
                "\"\n[webhook]\nmax_attempts = 3\nbackoff_initial = \"20ms\"\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"d1"})").status ==
          200);
  auto sms_status = [&] {
    auto described = body_of(call("GET", daemon.url("/v1/customers/d1")));
    for (const auto& action : described["recent_actions"]) {
      if (action["channel"] == "sms") return action["delivery"];
    }
    return json();
  };
  REQUIRE(eventually([&] { return sms_status().value("status", "") == "dead"; }));
  // Nothing left to try or send (the emails in the file sink): the counts below are final.
  REQUIRE(eventually([&] { return settled(daemon); }));
  CHECK(sms_status()["attempts"] == 3);
  CHECK(sms_status()["last_error"] == "HTTP 500");
  // Three tries reached the receiver, all of the same action, and no fourth.
  CHECK(receiver.refused == 3);
  auto tries = receiver.refused_keys();
  REQUIRE(tries.size() == 3);
  CHECK(std::set<std::string>(tries.begin(), tries.end()).size() == 1);
  CHECK(metric(daemon, "journey_deliveries_total{result=\"failed\"}") == 3);
  CHECK(metric(daemon, "journey_deliveries_total{result=\"dead\"}") == 1);
}

TEST_CASE("serve: SIGKILL during a load, then restart: nothing acknowledged is lost", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", R"(journey hello {
  entry on signup
  send email "hello"
  wait 2s
  send email "after-wait"
}
)");
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n");
  std::set<std::string> acknowledged;
  {
    DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
    REQUIRE(daemon.started());
    std::atomic<bool> killed{false};
    std::thread killer([&] {
      // Kill once some load is through, while requests are still arriving.
      eventually([&] { return actions_in(dir).size() >= 300; }, 20);
      daemon.signal(SIGKILL);
      killed = true;
    });
    for (int i = 0; i < 400 && !killed; ++i) {
      json batch = {{"batch", json::array()}};
      for (int j = 0; j < 5; ++j) {
        std::string id = "k" + std::to_string(i * 5 + j);
        batch["batch"].push_back(
            {{"type", "track"}, {"event", "signup"}, {"userId", id}, {"messageId", id}});
      }
      auto answer = http_call(http::verb::post, daemon.url("/v1/batch"), batch.dump(), {}, 2000);
      if (answer.status != 200) break;
      for (const auto& item : batch["batch"])
        acknowledged.insert(item["userId"].get<std::string>());
    }
    killer.join();
    CHECK(daemon.wait() == 128 + SIGKILL);
  }
  REQUIRE(acknowledged.size() >= 5);
  CHECK(acknowledged.size() < 2000);  // the kill came in the middle of the load
  INFO("acknowledged before SIGKILL: " << acknowledged.size());
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  // Every acknowledged signup leads to both sends, the wait having fired (late if it came due
  // while the daemon was down).
  auto complete = [&] {
    std::map<std::string, std::set<std::string>> templates;
    for (const auto& action : actions_in(dir)) {
      templates[action["customer_id"].get<std::string>()].insert(
          action["template"].get<std::string>());
    }
    for (const auto& customer : acknowledged) {
      if (templates[customer].size() != 2) return false;
    }
    return true;
  };
  REQUIRE(eventually(complete, 30));
  // The engine never made two different actions for one send (one action id per customer and
  // template), and the file sink wrote each action id once, though the kill came between writes
  // and their marks.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> ids;
  for (const auto& action : actions_in(dir)) {
    ids[{action["customer_id"].get<std::string>(), action["template"].get<std::string>()}].insert(
        action["action_id"].get<std::string>());
  }
  for (const auto& [key, set] : ids) {
    INFO(key.first << " " << key.second);
    CHECK(set.size() == 1);
  }
  std::map<std::string, int> lines_per_id;
  for (const auto& action : actions_in(dir))
    lines_per_id[action["action_id"].get<std::string>()] += 1;
  for (const auto& [id, count] : lines_per_id) {
    INFO(id);
    CHECK(count == 1);
  }
  // Re-sending acknowledged events after the restart changes nothing.
  json again = {{"batch", json::array()}};
  auto first = *acknowledged.begin();
  again["batch"].push_back(
      {{"type", "track"}, {"event", "signup"}, {"userId", first}, {"messageId", first}});
  CHECK(body_of(call("POST", daemon.url("/v1/batch"), again.dump()))["duplicates"] == 1);
}

TEST_CASE("serve: more waits due at one instant than the window holds all fire, once each",
          "[serve]") {
  TempDir dir;
  dir.write("journeys/later.journey", R"(journey later {
  entry on signup
  wait 1h
  send email "due"
}
)");
  // The smallest window: 16 wake-ups in memory, the other 184 paged in from the store.
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n[timers]\nmax_in_memory = 16\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  // Every signup stamped so that its wait ends at the same instant, two seconds from now.
  auto due = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() +
             2000;
  auto stamp = journey::engine::format_timestamp(due - 3'600'000);
  json batch = {{"batch", json::array()}};
  for (int i = 0; i < 200; ++i) {
    std::string id = "w" + std::to_string(1000 + i);
    batch["batch"].push_back({{"type", "track"},
                              {"event", "signup"},
                              {"userId", id},
                              {"messageId", id},
                              {"timestamp", stamp}});
  }
  auto answer = call("POST", daemon.url("/v1/batch"), batch.dump());
  REQUIRE(answer.status == 200);
  CHECK(body_of(answer)["accepted"] == 200);
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 200; }, 30));
  // No wake-up left in memory or in the store, every send delivered: a wake-up fired twice would
  // show in the counts below.
  REQUIRE(eventually([&] { return settled(daemon); }));
  CHECK(metric(daemon, "journey_timers_fired_total") == 200);
  std::map<std::string, int> sends;
  for (const auto& action : actions_in(dir)) sends[action["customer_id"].get<std::string>()] += 1;
  CHECK(sends.size() == 200);
  for (const auto& [customer, count] : sends) {
    INFO(customer);
    CHECK(count == 1);
  }
  daemon.signal(SIGTERM);
  CHECK(daemon.wait() == 0);
}

TEST_CASE("serve: erasure removes a customer and says what was removed", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  DaemonProcess daemon(dir, {"--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  // e1 is erased while its wait runs; e2, signed up after it, is the positive control.
  for (const std::string id : {"e1", "e2"}) {
    REQUIRE(call("POST", daemon.url("/v1/identify"),
                 json{{"userId", id}, {"traits", {{"consent", {{"email", true}}}}}}.dump())
                .status == 200);
    REQUIRE(call("POST", daemon.url("/v1/track"),
                 json{{"event", "signup"}, {"userId", id}, {"messageId", "x"}}.dump())
                .status == 200);
  }
  auto templates_of = [&](const std::string& customer) {
    std::set<std::string> out;
    for (const auto& action : actions_in(dir)) {
      if (action["customer_id"] == customer) out.insert(action["template"].get<std::string>());
    }
    return out;
  };
  // e1's first send is in the sink before the erasure (the erasure drops unsent actions).
  REQUIRE(eventually([&] { return templates_of("e1").count("welcome-1") == 1; }));
  auto erased = call("DELETE", daemon.url("/v1/customers/e1"));
  REQUIRE(erased.status == 200);
  auto removed = body_of(erased)["removed"];
  CHECK(removed["profile"] == true);
  CHECK(removed["timeline_events"] == 2);
  CHECK(removed["runs"] == 1);
  CHECK(removed["timers"] == 1);
  CHECK(call("GET", daemon.url("/v1/customers/e1")).status == 404);
  CHECK(call("GET", daemon.url("/v1/customers/e1/explain")).status == 404);
  auto again = call("DELETE", daemon.url("/v1/customers/e1"));
  REQUIRE(again.status == 200);
  CHECK(body_of(again)["found"] == false);
  // The erased customer's pending wait never sends. e2's wait ends after e1's: once e2's second
  // send is in the sink and no wake-up is left anywhere, e1's would have sent too.
  REQUIRE(
      eventually([&] { return templates_of("e2").count("welcome-2") == 1 && settled(daemon); }));
  CHECK(templates_of("e2") == std::set<std::string>{"welcome-1", "welcome-sms", "welcome-2"});
  CHECK(templates_of("e1").count("welcome-2") == 0);
}

TEST_CASE("serve: a reload with a broken script is refused and the running set stays", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  DaemonProcess daemon(dir, {"--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  dir.write("journeys/broken.journey", "journey broken {\n  send email \"x\"\n}\n");
  auto refused = call("POST", daemon.url("/v1/journeys/reload"));
  REQUIRE(refused.status == 422);
  CHECK(body_of(refused)["reloaded"] == false);
  CHECK(body_of(refused)["diagnostics"]["errors"].get<int>() >= 1);
  auto listed = body_of(call("GET", daemon.url("/v1/journeys")))["journeys"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "welcome");
  REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"r1"})").status ==
          200);

  daemon.signal(SIGHUP);
  REQUIRE(eventually([&] {
    return daemon.log().find("SIGHUP") != std::string::npos &&
           daemon.log().find("reload refused") != std::string::npos;
  }));
  CHECK(call("GET", daemon.url("/healthz")).status == 200);

  dir.write("journeys/broken.journey",
            "journey fixed {\n  entry on signup\n  send email \"x\"\n}\n");
  auto accepted = call("POST", daemon.url("/v1/journeys/reload"));
  REQUIRE(accepted.status == 200);
  CHECK(body_of(accepted)["reloaded"] == true);
  CHECK(body_of(accepted)["journeys"].size() == 2);
}

TEST_CASE("serve: auth scopes and bad input get clear JSON errors", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", R"(
[[tokens]]
token = "ingest-token"
scopes = ["ingest"]
[[tokens]]
token = "read-token"
scopes = ["read"]
[[tokens]]
token = "admin-token"
scopes = ["admin"]
[limits]
body_bytes = 2048
batch_items = 3
read_timeout = "1s"
)");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  auto track = daemon.url("/v1/track");
  const std::string ok_event = R"({"event":"signup","userId":"a1"})";

  SECTION("tokens and scopes") {
    CHECK(call("POST", track, ok_event).status == 401);
    CHECK(call("POST", track, ok_event, "wrong-token").status == 401);
    auto forbidden = call("POST", track, ok_event, "read-token");
    CHECK(forbidden.status == 403);
    CHECK_THAT(body_of(forbidden)["error"].get<std::string>(), Catch::Contains("ingest"));
    CHECK(call("POST", track, ok_event, "ingest-token").status == 200);
    CHECK(call("GET", daemon.url("/v1/customers/a1"), "", "ingest-token").status == 403);
    CHECK(call("GET", daemon.url("/v1/customers/a1"), "", "read-token").status == 200);
    CHECK(call("DELETE", daemon.url("/v1/customers/a1"), "", "read-token").status == 403);
    CHECK(call("DELETE", daemon.url("/v1/customers/a1"), "", "admin-token").status == 200);
    CHECK(call("GET", daemon.url("/healthz")).status == 200);
  }
  SECTION("malformed JSON, wrong types, invalid UTF-8, unknown fields") {
    auto bad = call("POST", track, "{\"event\": ", "ingest-token");
    CHECK(bad.status == 400);
    CHECK(body_of(bad)["path"] == "$");
    CHECK_THAT(body_of(bad)["error"].get<std::string>(), Catch::StartsWith("malformed JSON"));
    auto typed =
        call("POST", track, R"({"event":"signup","userId":"a1","timestamp":5})", "ingest-token");
    CHECK(typed.status == 400);
    CHECK(body_of(typed)["path"] == "$.timestamp");
    auto utf8 = call("POST", track, "{\"event\":\"sign\xff\",\"userId\":\"a1\"}", "ingest-token");
    CHECK(utf8.status == 400);
    auto unknown =
        call("POST", track, R"({"event":"signup","userId":"u1","context":{"ip":"1.2.3.4"},"zz":1})",
             "ingest-token");
    CHECK(unknown.status == 200);
    json batch = {{"batch",
                   {{{"type", "track"}, {"event", "signup"}, {"userId", "b1"}},
                    {{"type", "track"}, {"event", "signup"}, {"userId", 7}}}}};
    auto rejected = call("POST", daemon.url("/v1/batch"), batch.dump(), "ingest-token");
    CHECK(rejected.status == 400);
    CHECK(body_of(rejected)["path"] == "$.batch[1].userId");
    CHECK(call("GET", daemon.url("/v1/customers/b1"), "", "read-token").status == 404);
  }
  SECTION("limits: huge bodies, big batches, unknown routes, wrong methods") {
    auto huge = call("POST", track, std::string(100'000, ' '), "ingest-token");
    CHECK(huge.status == 413);
    json batch = {{"batch", json::array()}};
    for (int i = 0; i < 4; ++i)
      batch["batch"].push_back({{"type", "track"}, {"event", "x"}, {"userId", "u"}});
    auto big = call("POST", daemon.url("/v1/batch"), batch.dump(), "ingest-token");
    CHECK(big.status == 413);
    CHECK(body_of(big)["path"] == "$.batch");
    CHECK(call("GET", daemon.url("/v2/nothing"), "", "admin-token").status == 404);
    CHECK(call("GET", track, "", "admin-token").status == 405);
  }
  SECTION("a slow client is timed out") {
    net::io_context io;
    tcp::socket socket(io);
    auto url = daemon.url("");
    auto port = static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    std::string partial = "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    net::write(socket, net::buffer(partial));
    char byte;
    boost::system::error_code ec;
    // The server closes the connection after its read timeout (1s); bounded by SO_RCVTIMEO.
    timeval tv{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    socket.read_some(net::buffer(&byte, 1), ec);
    CHECK(ec == net::error::eof);  // a receive timeout would be would_block instead
    CHECK(call("GET", daemon.url("/healthz")).status == 200);
  }
}

TEST_CASE("serve: without tokens it refuses a non-loopback address", "[serve]") {
  TempDir dir;
  DaemonProcess daemon(dir, {"--listen", "0.0.0.0:0", "--journeys", "journeys"});
  CHECK_FALSE(daemon.started());
  CHECK(daemon.wait() == 2);
}

TEST_CASE("serve: a run keeps its version across a reload and a restart", "[serve]") {
  TempDir dir;
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n");
  dir.write("journeys/v.journey",
            "journey v {\n  entry on signup\n  send email \"first\"\n  wait 3s\n  send email "
            "\"old-second\"\n}\n");
  {
    DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
    REQUIRE(daemon.started());
    REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"old"})").status ==
            200);
    dir.write("journeys/v.journey",
              "journey v {\n  entry on signup\n  send email \"first\"\n  wait 3s\n  send email "
              "\"new-second\"\n}\n");
    auto reloaded = call("POST", daemon.url("/v1/journeys/reload"));
    REQUIRE(reloaded.status == 200);
    CHECK(body_of(reloaded)["reloaded"] == true);
    REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"new"})").status ==
            200);
    auto versions = body_of(call("GET", daemon.url("/v1/journeys")))["journeys"][0]["versions"];
    CHECK(versions.size() == 2);
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait() == 0);
  }
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  auto second_of = [&](const std::string& customer) {
    for (const auto& action : actions_in(dir)) {
      if (action["customer_id"] == customer && action["template"] != "first") {
        return action["template"].get<std::string>();
      }
    }
    return std::string();
  };
  REQUIRE(eventually([&] { return !second_of("old").empty() && !second_of("new").empty(); }));
  CHECK(second_of("old") == "old-second");
  CHECK(second_of("new") == "new-second");
}

TEST_CASE("serve: connections beyond the limit get 429 when none can be evicted", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", "[limits]\nmax_connections = 1\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  // The one connection is busy with a request (its body is on the way): it cannot be evicted.
  net::io_context io;
  tcp::socket held(io);
  held.connect({net::ip::make_address("127.0.0.1"), port_of(daemon)});
  std::string partial =
      "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n";
  net::write(held, net::buffer(partial));
  // The server's 100 Continue says it has the headers and waits for the body.
  std::string interim(25, '\0');
  net::read(held, net::buffer(interim));
  REQUIRE_THAT(interim, Catch::StartsWith("HTTP/1.1 100 Continue"));
  net::write(held, net::buffer(std::string("{")));
  REQUIRE(eventually([&] { return call("GET", daemon.url("/healthz")).status == 429; }, 5));
  auto refused = call("GET", daemon.url("/healthz"));
  CHECK_THAT(body_of(refused)["error"].get<std::string>(), Catch::Contains("too many connections"));
  held.close();
  CHECK(eventually([&] { return call("GET", daemon.url("/healthz")).status == 200; }, 5));
}

TEST_CASE("serve: the same events give the same actions whatever the batching", "[serve]") {
  // Timestamps in the past: waits come due at once, and every action time derives from the
  // events, so the two action streams must match byte for byte once sorted by customer.
  std::vector<json> events;
  for (int i = 0; i < 12; ++i) {
    std::string id = "s" + std::to_string(i);
    events.push_back({{"type", "identify"},
                      {"userId", id},
                      {"messageId", id + "-i"},
                      {"timestamp", "2026-01-01T08:00:00Z"},
                      {"traits", {{"consent", {{"email", i % 3 != 0}}}}}});
    events.push_back({{"type", "track"},
                      {"event", "signup"},
                      {"userId", id},
                      {"messageId", id + "-t"},
                      {"timestamp", "2026-01-01T09:00:0" + std::to_string(i % 10) + "Z"}});
  }
  auto run = [&](bool batched) {
    TempDir dir;
    dir.write("journeys/welcome.journey", kWelcome);
    DaemonProcess daemon(dir, {"--listen", "127.0.0.1:0"});
    REQUIRE(daemon.started());
    if (batched) {
      REQUIRE(call("POST", daemon.url("/v1/batch"), json{{"batch", events}}.dump()).status == 200);
    } else {
      for (const auto& event : events) {
        REQUIRE(call("POST", daemon.url(event["type"] == "track" ? "/v1/track" : "/v1/identify"),
                     event.dump())
                    .status == 200);
      }
    }
    REQUIRE(eventually([&] { return actions_in(dir).size() >= 36; }));
    REQUIRE(eventually([&] { return settled(daemon); }));
    CHECK(actions_in(dir).size() == 36);
    std::map<std::string, std::vector<std::string>> by_customer;
    for (const auto& action : actions_in(dir)) {
      by_customer[action["customer_id"].get<std::string>()].push_back(action.dump());
    }
    return by_customer;
  };
  auto one_by_one = run(false);
  auto batched = run(true);
  CHECK(one_by_one.size() == 12);
  CHECK(one_by_one == batched);
}

TEST_CASE("serve: configuration errors name the key and line, a full queue gets 429", "[serve]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  SECTION("a bad key") {
    dir.write("journey.toml", "\nshards = \"four\"\n");
    DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
    CHECK_FALSE(daemon.started());
    CHECK(daemon.wait() == 2);
    CHECK_THAT(daemon.log(), Catch::Contains("journey.toml:2: `shards`: expected an integer"));
  }
  SECTION("the ingest queue limit") {
    dir.write("journey.toml", "[limits]\nmax_queue = 1\n");
    DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
    REQUIRE(daemon.started());
    json batch = {{"batch",
                   {{{"type", "track"}, {"event", "signup"}, {"userId", "q1"}},
                    {{"type", "track"}, {"event", "signup"}, {"userId", "q2"}}}}};
    auto full = call("POST", daemon.url("/v1/batch"), batch.dump());
    CHECK(full.status == 429);
    CHECK_THAT(body_of(full)["error"].get<std::string>(), Catch::Contains("queue is full"));
    CHECK(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"q1"})").status ==
          200);
  }
}

TEST_CASE("serve: a broadcast and a date-attribute entry fire at their instants", "[serve]") {
  TempDir dir;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  // `entry at` takes a local date and time (the engine's default zone is UTC): whole seconds,
  // written without the `Z`.
  const auto at = journey::engine::format_timestamp((now / 1000 + 4) * 1000);
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n");
  dir.write(
      "journeys/calendar.journey",
      "journey sale {\n  entry at " + at.substr(0, 19) +
          " when customer.vip == true\n  send email \"sale\"\n}\n\n"
          "journey renewal {\n  entry on date customer.renew_at\n  send email \"renew\"\n}\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  const auto renew_at = journey::engine::format_timestamp(now + 3000);
  for (const auto& [id, vip] :
       std::vector<std::pair<std::string, bool>>{{"ana", true}, {"bob", true}, {"cyd", false}}) {
    const json identify = {{"userId", id}, {"traits", {{"vip", vip}, {"renew_at", renew_at}}}};
    REQUIRE(call("POST", daemon.url("/v1/identify"), identify.dump()).status == 200);
  }
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 5; }, 30));
  std::map<std::string, int> sends;
  for (const auto& action : actions_in(dir))
    sends[action["template"].get<std::string>() + " " + action["customer_id"].get<std::string>()]++;
  CHECK(
      sends ==
      std::map<std::string, int>{
          {"renew ana", 1}, {"renew bob", 1}, {"renew cyd", 1}, {"sale ana", 1}, {"sale bob", 1}});
  // GET /v1/journeys shows the broadcast's audience: the two VIPs known at its instant.
  const auto audience = [&] {
    const json listed = body_of(call("GET", daemon.url("/v1/journeys")));
    for (const auto& j : listed["journeys"]) {
      if (j["name"] == "sale") return j["versions"][0].value("audience", 0);
    }
    return 0;
  };
  REQUIRE(eventually([&] { return audience() == 2; }));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait() == 0);
}

TEST_CASE("serve: a broadcast deployed by a reload reaches customers idle since", "[serve]") {
  TempDir dir;
  dir.write("journey.toml", "[engine]\nconsent = \"assumed\"\n");
  dir.write("journeys/plain.journey",
            "journey plain {\n  entry on signup\n  send email \"hi\"\n}\n");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  REQUIRE(call("POST", daemon.url("/v1/identify"), R"({"userId":"idle","traits":{"vip":true}})")
              .status == 200);
  REQUIRE(eventually([&] { return settled(daemon); }));
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto at = journey::engine::format_timestamp((now / 1000 + 4) * 1000);
  dir.write("journeys/sale.journey",
            "journey sale {\n  entry at " + at.substr(0, 19) + "\n  send email \"sale\"\n}\n");
  REQUIRE(call("POST", daemon.url("/v1/journeys/reload")).status == 200);
  // No further input for `idle`: the reload itself sets the broadcast's timer.
  REQUIRE(eventually([&] { return actions_in(dir).size() >= 1; }, 30));
  const auto actions = actions_in(dir);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0]["customer_id"] == "idle");
  CHECK(actions[0]["template"] == "sale");
  daemon.signal(SIGTERM);
  CHECK(daemon.wait() == 0);
}
