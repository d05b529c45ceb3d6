// The SQLite store on a real file in a temporary folder.
#include <filesystem>
#include <random>

#include <catch2/catch.hpp>

#include "runtime/store/sqlite_store.hpp"

using namespace journey::runtime;
namespace fs = std::filesystem;

namespace {

/// A fresh folder under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("journey-store-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

OutboxEntry action(const std::string& id, const std::string& customer) {
  OutboxEntry entry;
  entry.action_id = id;
  entry.customer_id = customer;
  entry.channel = "email";
  entry.payload = "{\"action_id\":\"" + id + "\"}";
  return entry;
}

}  // namespace

TEST_CASE("store: batch commit and reads", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  CHECK(store.schema_version() == SqliteStore::kSchemaVersion);
  Batch batch;
  batch.customers.push_back({"c1", std::string("st\0ate", 6), 5000, {{"welcome", "v1", "wait"}}});
  batch.customers.push_back({"c2", "state2", std::nullopt, {}});
  batch.events.push_back({"c1", "m-1", 1000, "{}"});
  batch.actions.push_back(action("a1", "c1"));
  batch.actions.push_back(action("a2", "c1"));
  batch.counters.push_back({"welcome", "v1", "sends", "", 2});
  batch.traces = trace_rows({{"c1", 1000, "welcome", "entered", "{}"}});
  auto result = store.apply(batch);
  CHECK(result.actions_inserted == 2);
  CHECK(store.load_customer("c1") == std::string("st\0ate", 6));
  CHECK_FALSE(store.load_customer("c3"));
  CHECK(store.due_wakeups(4999, 10).empty());
  CHECK(store.due_wakeups(5000, 10) ==
        std::vector<std::pair<std::string, journey::engine::Millis>>{{"c1", 5000}});
  CHECK(store.pending_wakeups() == 1);
  CHECK(store.run_counts().size() == 1);
  CHECK(store.traces("c1").size() == 1);

  SECTION("an action id is never created twice") {
    Batch again;
    again.actions.push_back(action("a1", "c1"));
    again.counters.push_back({"welcome", "v1", "sends", "", 1});
    auto second = store.apply(again);
    CHECK(second.actions_inserted == 0);
    CHECK(second.actions_existing == 1);
    CHECK(store.counters().at(0).value == 3);
    CHECK(store.due_actions(0, 10).size() == 2);
  }
  SECTION("delivery states") {
    auto due = store.due_actions(0, 10);
    REQUIRE(due.size() == 2);
    CHECK(due[0].action_id == "a1");
    store.mark_delivered(std::vector<std::int64_t>{due[0].seq});
    store.mark_failed({due[1].seq, 1, 9000, "connection refused", false});
    CHECK(store.due_actions(8999, 10).empty());
    CHECK(store.next_action_attempt() == 9000);
    store.mark_failed({due[1].seq, 2, 0, "HTTP 500", true});
    CHECK(store.due_actions(100000, 10).empty());
    auto counts = store.outbox_counts();
    CHECK(counts["delivered"] == 1);
    CHECK(counts["dead"] == 1);
    auto recent = store.recent_actions("c1", 10);
    REQUIRE(recent.size() == 2);
    CHECK(recent[0].action_id == "a2");
    CHECK(recent[0].last_error == "HTTP 500");
  }
  SECTION("erasure removes the customer and keeps delivered ids") {
    store.mark_delivered(std::vector<std::int64_t>{store.due_actions(0, 10).at(0).seq});
    CHECK(store.erased_customers().empty());
    Erasure erased = store.erase_customer("c1", 5000, {"m1", "m2"});
    CHECK(erased.profile);
    CHECK(erased.events == 1);
    CHECK(erased.runs == 1);
    CHECK(erased.timers == 1);
    CHECK(erased.unsent_actions == 1);
    CHECK(erased.trace_lines == 1);
    CHECK(erased.message_ids == 2);
    CHECK_FALSE(store.load_customer("c1"));
    CHECK(store.recent_actions("c1", 10).empty());
    // Neither the delivered action nor the unsent one is ever created again.
    Batch again;
    again.actions.push_back(action("a1", "c1"));
    again.actions.push_back(action("a2", "c1"));
    CHECK(store.apply(again).actions_existing == 2);
    // Tombstones: keyed hashes, never the ids themselves.
    auto tombstones = store.erased_customers();
    REQUIRE(tombstones.size() == 1);
    CHECK(tombstones[0].first == store.keyed_hash("c1"));
    CHECK(tombstones[0].first.size() == 32);
    CHECK(tombstones[0].first.find("c1") == std::string::npos);
    CHECK(tombstones[0].second == 5000);
    CHECK(store.erased_message("c1", "m2"));
    CHECK_FALSE(store.erased_message("c1", "m3"));
    CHECK_FALSE(store.erased_message("c2", "m1"));
    CHECK_FALSE(store.erase_customer("c1", 6000, {}).profile);
    CHECK(store.erased_customers().at(0).second == 6000);
    CHECK(store.expire_erased(5500) == 2);  // the two message ids erased at 5000
    CHECK(store.expire_erased(6001) == 1);
    CHECK(store.erased_customers().empty());
  }
  SECTION("retention and trace trimming") {
    CHECK(store.expire_events(1000) == 0);
    CHECK(store.expire_events(1001) == 1);
    Batch traces;
    std::vector<StoredTrace> lines;
    for (int i = 0; i < 5; ++i)
      lines.push_back({"c1", 2000 + i, "", "line " + std::to_string(i), "{}"});
    traces.traces = trace_rows(lines);
    store.apply(traces);
    // Three more commits of one line each: 1 + 5 + 3 lines in five rows.
    for (int i = 5; i < 8; ++i) {
      Batch one;
      one.traces = trace_rows(
          {{"c1", 2000 + i, "", "line " + std::to_string(i), "{\"i\":" + std::to_string(i) + "}"}});
      store.apply(one);
    }
    CHECK(store.traces("c1").size() == 9);
    store.trim_traces("c1", 3);  // whole rows go: the three one-line rows stay
    auto kept = store.traces("c1");
    REQUIRE(kept.size() == 3);
    CHECK(kept[0].message == "line 5");
    CHECK(kept[0].detail_json == "{\"i\":5}");
    store.trim_traces("c1", 2);
    CHECK(store.traces("c1").size() == 2);
    store.trim_traces("c1", 1);
    kept = store.traces("c1", 1);
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].message == "line 7");
    CHECK(store.traces("c1", 0).empty());
  }
}

TEST_CASE("store: a failed batch leaves nothing behind", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  store.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.json = 'bad' "
      "BEGIN SELECT RAISE(ABORT, 'refused'); END");
  Batch batch;
  batch.customers.push_back({"c1", "s", 1, {}});
  batch.events.push_back({"c1", "m", 1, "bad"});
  CHECK_THROWS_AS(store.apply(batch), StoreError);
  CHECK_FALSE(store.load_customer("c1"));
  batch.events[0].json = "good";
  store.apply(batch);
  CHECK(store.load_customer("c1") == "s");
}

TEST_CASE("store: data survives reopening and old schemas migrate", "[store]") {
  TempDir dir;
  auto path = (dir.path / "j.db").string();
  {
    SqliteStore old(path, 1);
    CHECK(old.schema_version() == 1);
    old.exec("INSERT INTO customers(id, state, next_wakeup) VALUES ('c1', 'old', 42)");
    old.exec(
        "INSERT INTO outbox(action_id, customer_id, channel, payload) VALUES "
        "('a1','c1','sms','{}')");
  }
  SqliteStore store(path);
  CHECK(store.schema_version() == SqliteStore::kSchemaVersion);
  CHECK(store.load_customer("c1") == "old");
  CHECK(store.due_wakeups(42, 10) ==
        std::vector<std::pair<std::string, journey::engine::Millis>>{{"c1", 42}});
  auto due = store.due_actions(0, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].last_error.empty());
  store.mark_failed({due[0].seq, 1, 0, "timeout", false});
  CHECK(store.due_actions(0, 10).at(0).last_error == "timeout");
  CHECK(store.run_counts().empty());
}

TEST_CASE("store: schemas 4 and 5 keep the events, trace lines and outbox of schema 3", "[store]") {
  TempDir dir;
  auto path = (dir.path / "j.db").string();
  {
    SqliteStore old(path, 3);
    old.exec(
        "INSERT INTO events(customer_id, message_id, at, json) VALUES ('c1','m1',10,'{}'), "
        "('c1','m2',20,'{}')");
    old.exec("INSERT INTO message_ids VALUES ('c1','m1'), ('c1','m2')");
    old.exec(
        "INSERT INTO traces(customer_id, at, journey, message, detail) VALUES "
        "('c1', 10, '', 'event a', '{\"x\":1}'), ('c2', 11, 'w', 'entered', 'not json'), "
        "('c1', 12, 'w', 'say \"hi\"', '{}')");
    // A pending action, and a delivered one whose customer was erased.
    old.exec(
        "INSERT INTO outbox(action_id, customer_id, channel, payload) VALUES "
        "('a1', 'c1', 'email', '{}')");
    old.exec(
        "INSERT INTO outbox(action_id, customer_id, channel, payload, status) VALUES "
        "('a0', '', 'email', '', 'delivered')");
  }
  SqliteStore store(path);
  CHECK(store.schema_version() == SqliteStore::kSchemaVersion);
  auto due = store.due_actions(0, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].action_id == "a1");
  Batch replay;  // both ids exist: neither is created again
  replay.actions.push_back(action("a1", "c1"));
  replay.actions.push_back(action("a0", "c0"));
  CHECK(store.apply(replay).actions_existing == 2);
  store.mark_delivered(std::vector<std::int64_t>{due[0].seq});
  CHECK(store.outbox_counts()["delivered"] == 2);
  auto lines = store.traces("c1");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at == 10);
  CHECK(lines[0].detail_json == "{\"x\":1}");
  CHECK(lines[1].message == "say \"hi\"");
  CHECK(store.traces("c2").at(0).detail_json == "{}");
  // New lines continue the count; the trim keeps the newest.
  Batch more;
  more.traces = trace_rows({{"c1", 30, "w", "later", "{}"}});
  more.trace_keep = 1;
  store.apply(more);
  lines = store.traces("c1");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].message == "later");
  CHECK(store.expire_events(15) == 1);
  Erasure erased = store.erase_customer("c1", 100, {});
  CHECK(erased.events == 1);
  CHECK(erased.trace_lines == 1);
  Batch again;  // c1 comes back: its delivered action is not created again
  again.actions.push_back(action("a1", "c1"));
  CHECK(store.apply(again).actions_existing == 1);
}

TEST_CASE("store: a newer schema is refused", "[store]") {
  TempDir dir;
  auto path = (dir.path / "j.db").string();
  {
    SqliteStore store(path);
    store.exec("INSERT INTO schema_version VALUES (99, 0)");
  }
  CHECK_THROWS_WITH(SqliteStore(path), Catch::Contains("newer"));
}

TEST_CASE("store: deployments", "[store]") {
  TempDir dir;
  auto path = (dir.path / "j.db").string();
  {
    SqliteStore store(path);
    store.save_deployment({"d1", 10, {{"a.journey", "journey a {}"}}});
    store.save_deployment({"d2", 20, {{"a.journey", "journey a2 {}"}, {"b.journey", "x"}}});
    store.save_deployment({"d1", 30, {{"a.journey", "journey a {}"}}});
  }
  SqliteStore store(path);
  auto all = store.deployments();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == "d2");
  CHECK(all[0].files.size() == 2);
  CHECK(all[1].id == "d1");
  CHECK(all[1].deployed_at == 30);
  CHECK(all[1].files.at(0).second == "journey a {}");
}

TEST_CASE("store: deployments of schema 6 keep the naming they were compiled with", "[store]") {
  TempDir dir;
  auto path = (dir.path / "j.db").string();
  {
    SqliteStore old(path, 6);
    old.exec("INSERT INTO deployments(id, deployed_at, seq) VALUES ('d0', 5, 1)");
    old.exec(
        "INSERT INTO deployment_files(deployment_id, path, text) VALUES ('d0', 'a.journey', 'x')");
  }
  SqliteStore store(path);
  Deployment fresh{"d1", 10, {{"a.journey", "y"}}};
  CHECK(fresh.naming == journey::engine::StepNaming::Tree);
  store.save_deployment(fresh);
  auto all = store.deployments();
  REQUIRE(all.size() == 2);
  CHECK(all[0].naming == journey::engine::StepNaming::Positions);
  CHECK(all[1].naming == journey::engine::StepNaming::Tree);
  store.delete_deployment("d0");
  all = store.deployments();
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == "d1");
  CHECK(all[0].files.at(0).second == "y");
}

TEST_CASE("store: the versions and customers of active runs", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  Batch batch;
  batch.customers.push_back({"c2", "s", std::nullopt, {{"w", "v1", "2"}, {"x", "v9", "1"}}});
  batch.customers.push_back({"c1", "s", std::nullopt, {{"w", "v1", "3"}}});
  batch.customers.push_back({"c3", "s", std::nullopt, {{"w", "v2", "2"}}});
  store.apply(batch);
  CHECK(store.versions_in_use() ==
        std::set<std::pair<std::string, std::string>>{{"w", "v1"}, {"w", "v2"}, {"x", "v9"}});
  CHECK(store.customers_in("w", "v1") == std::vector<std::string>{"c1", "c2"});
  CHECK(store.customers_in("w", "v0").empty());
  CHECK(store.customer_ids() == std::vector<std::string>{"c1", "c2", "c3"});
}

TEST_CASE("store: outbox queries by channel", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  Batch batch;
  auto sms = action("s1", "c1");
  sms.channel = "sms";
  batch.actions.push_back(action("e1", "c1"));
  batch.actions.push_back(sms);
  store.apply(batch);
  CHECK(store.due_actions(0, 10).size() == 2);
  CHECK(store.due_actions(0, 10, {{"sms"}, false}).at(0).action_id == "s1");
  CHECK(store.due_actions(0, 10, {{"sms"}, true}).at(0).action_id == "e1");
  CHECK(store.due_actions(0, 10, {{"sms"}, true}).size() == 1);
  CHECK(store.due_actions(0, 10, {{}, false}).empty());
  CHECK(store.next_action_attempt({{"push"}, false}) == std::nullopt);
}

TEST_CASE("store: wake-ups at one instant page through in (wake-up, id) order", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  Batch batch;
  for (int i = 0; i < 10; ++i) batch.customers.push_back({"c" + std::to_string(i), "s", 5000, {}});
  batch.customers.push_back({"early", "s", 4000, {}});
  batch.customers.push_back({"late", "s", 9000, {}});
  batch.customers.push_back({"none", "s", std::nullopt, {}});
  store.apply(batch);
  std::vector<std::string> seen;
  std::optional<std::pair<journey::engine::Millis, std::string>> after;
  for (int page = 0; page < 10; ++page) {
    auto rows = store.due_wakeups(5000, 4, after);
    for (const auto& [customer, due] : rows) seen.push_back(customer);
    if (rows.size() < 4) break;
    after = std::make_pair(rows.back().second, rows.back().first);
  }
  CHECK(seen == std::vector<std::string>{"early", "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7",
                                         "c8", "c9"});
}

TEST_CASE("store: batched delivery marks, trace trimming and unchanged runs", "[store]") {
  TempDir dir;
  SqliteStore store((dir.path / "j.db").string());
  Batch batch;
  batch.customers.push_back({"c1", "s", std::nullopt, {{"welcome", "v1", "L4:3"}}});
  for (const char* id : {"a1", "a2", "a3"}) batch.actions.push_back(action(id, "c1"));
  std::vector<StoredTrace> lines;
  for (int i = 0; i < 5; ++i)
    lines.push_back({"c1", 2000 + i, "", "line " + std::to_string(i), "{}"});
  for (int i = 0; i < 2; ++i)
    lines.push_back({"c2", 2000 + i, "", "other " + std::to_string(i), "{}"});
  batch.traces = trace_rows(lines);
  batch.trace_keep = 3;
  store.apply(batch);
  CHECK(store.traces("c1").size() == 5);  // one commit is one row: kept whole
  auto kept = store.traces("c1", 3);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].message == "line 2");
  CHECK(store.traces("c2").size() == 2);

  auto due = store.due_actions(0, 10);
  REQUIRE(due.size() == 3);
  store.mark_delivered(std::vector<std::int64_t>{due[0].seq, due[2].seq});
  auto counts = store.outbox_counts();
  CHECK(counts["delivered"] == 2);
  CHECK(counts["pending"] == 1);
  CHECK(store.due_actions(0, 10).at(0).action_id == "a2");

  // A write that says the runs are unchanged leaves the stored ones; one that changes them
  // replaces them.
  Batch same;
  same.customers.push_back({"c1", "s2", std::nullopt, {}, false});
  store.apply(same);
  CHECK(store.run_counts().size() == 1);
  Batch ended;
  ended.customers.push_back({"c1", "s3", std::nullopt, {}, true});
  ended.traces = trace_rows({{"c1", 3000, "", "last", "{}"}});
  ended.trace_keep = 0;
  store.apply(ended);
  CHECK(store.run_counts().empty());
  CHECK(store.traces("c1").empty());
}
