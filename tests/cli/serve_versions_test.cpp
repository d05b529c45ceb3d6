// Editing live journeys in the real daemon (issue 17): a reload with runs in flight under both
// update policies, killed during the migration and started again; the dry run of a reload; the
// collection of old versions; `journey diff --from-daemon`; and a database written by the build
// before step ids were named by their place in the step tree.
#include "cli/cli_support.hpp"
#include "cli/serve_support.hpp"

using namespace journey::test::serve;

namespace {

const char* const kConfig = "[engine]\nconsent = \"assumed\"\n";

std::string journey_text(const std::string& header, const std::string& second,
                         const std::string& wait = "30s") {
  return "# The welcome series.\njourney welcome {\n  entry on signup\n" + header +
         "  send email \"first\"\n  wait " + wait + "\n  send email \"" + second + "\"\n}\n";
}

/// A daemon's folder: its configuration and the first welcome journey.
void write_welcome(const TempDir& dir, const std::string& wait = "30s") {
  dir.write("journey.toml", kConfig);
  dir.write("journeys/welcome.journey", journey_text("", "old-second", wait));
}

/// The arguments of `journey serve` in a folder write_welcome wrote.
const std::vector<std::string> kServe = {"--config", "journey.toml", "--listen", "127.0.0.1:0"};

/// Signs up `count` customers w0, w1, ... in batches; true when every batch is acknowledged.
bool sign_up(const DaemonProcess& daemon, int count) {
  for (int from = 0; from < count; from += 1000) {
    json batch = {{"batch", json::array()}};
    for (int i = from; i < std::min(count, from + 1000); ++i) {
      const std::string id = "w" + std::to_string(i);
      batch["batch"].push_back(
          {{"type", "track"}, {"event", "signup"}, {"userId", id}, {"messageId", id}});
    }
    if (call("POST", daemon.url("/v1/batch"), batch.dump()).status != 200) return false;
  }
  return true;
}

/// The templates each customer got, from the file sink.
std::map<std::string, std::multiset<std::string>> templates_by_customer(const TempDir& dir) {
  std::map<std::string, std::multiset<std::string>> out;
  for (const auto& action : actions_in(dir))
    out[action["customer_id"].get<std::string>()].insert(action["template"].get<std::string>());
  return out;
}

/// The version entry of a journey in GET /v1/journeys.
json version_entry(const DaemonProcess& daemon, const std::string& version) {
  const json listed = body_of(call("GET", daemon.url("/v1/journeys")));
  for (const auto& j : listed["journeys"]) {
    for (const auto& v : j["versions"]) {
      if (v["version"] == version) return v;
    }
  }
  return nullptr;
}

/// Runs `count` customers into the wait of the first version, reloads the second (with or
/// without `on update migrate`), kills the daemon while the reload moves runs, starts it again,
/// and checks that every customer got the first send and exactly one second send: the new one
/// when migrating, else the old one.
void reload_with_runs_in_flight(bool migrate) {
  constexpr int kCustomers = 3000;
  TempDir dir;
  write_welcome(dir);
  std::string old_version;
  std::string new_version;
  {
    DaemonProcess daemon(dir, kServe);
    REQUIRE(daemon.started());
    REQUIRE(sign_up(daemon, kCustomers));
    old_version = body_of(call("GET", daemon.url("/v1/journeys")))["journeys"][0]["live_version"];
    REQUIRE(version_entry(daemon, old_version)["active_runs"] == kCustomers);
    dir.write("journeys/welcome.journey",
              journey_text(migrate ? "  on update migrate\n" : "", "new-second"));
    auto reloaded = call("POST", daemon.url("/v1/journeys/reload"));
    REQUIRE(reloaded.status == 200);
    REQUIRE(body_of(reloaded)["reloaded"] == true);
    new_version = body_of(reloaded)["journeys"][0]["version"];
    REQUIRE(new_version != old_version);
    if (migrate) {
      // Killed as soon as the first runs have moved: most are still on the old version.
      REQUIRE(eventually([&] { return metric(daemon, "journey_runs_migrated_total") > 0; }, 20));
    }
    daemon.signal(SIGKILL);
    CHECK(daemon.wait() == 128 + SIGKILL);
  }
  DaemonProcess daemon(dir, kServe);
  REQUIRE(daemon.started());
  // At start the daemon moves the runs the killed one had not moved yet.
  if (migrate) {
    REQUIRE(eventually([&] { return version_entry(daemon, old_version)["active_runs"] == 0; }, 30));
    const auto moved = version_entry(daemon, new_version);
    CHECK(moved["migrated_in"] == kCustomers);
    CHECK(version_entry(daemon, old_version)["migrated_out"] == kCustomers);
    CHECK(moved["runs_by_state"]["wait 30s after send email \"first\""] == kCustomers);
    auto trace = body_of(call("GET", daemon.url("/v1/customers/w7/explain")))["trace"];
    const bool traced = std::any_of(trace.begin(), trace.end(), [](const json& line) {
      return line["message"].get<std::string>().rfind("migrated from version ", 0) == 0;
    });
    CHECK(traced);
  } else {
    CHECK(version_entry(daemon, old_version)["active_runs"] == kCustomers);
    CHECK(metric(daemon, "journey_runs_migrated_total") == 0);
  }
  const std::string second = migrate ? "new-second" : "old-second";
  const bool complete = eventually(
      [&] {
        const auto got = templates_by_customer(dir);
        if (got.size() != kCustomers) return false;
        return std::all_of(got.begin(), got.end(),
                           [](const auto& entry) { return entry.second.size() >= 2; });
      },
      120);
  if (!complete) {
    std::map<std::size_t, std::size_t> by_count;  // templates received -> customers
    for (const auto& [customer, templates] : templates_by_customer(dir))
      ++by_count[templates.size()];
    for (const auto& [count, customers] : by_count)
      UNSCOPED_INFO(customers << " customers with " << count << " actions");
    UNSCOPED_INFO("timers pending " << metric(daemon, "journey_timers_pending") << ", fired "
                                    << metric(daemon, "journey_timers_fired_total"));
  }
  REQUIRE(complete);
  REQUIRE(eventually([&] { return settled(daemon); }, 30));
  std::set<std::string> ids;
  std::size_t lines = 0;
  for (const auto& action : actions_in(dir)) {
    ids.insert(action["action_id"].get<std::string>());
    ++lines;
  }
  CHECK(ids.size() == lines);  // no action twice
  for (const auto& [customer, templates] : templates_by_customer(dir)) {
    INFO(customer);
    CHECK(templates == std::multiset<std::string>{"first", second});
  }
}

}  // namespace

TEST_CASE("serve: a reload under `on update migrate`, SIGKILL while it moves runs, restart",
          "[serve][versions]") {
  reload_with_runs_in_flight(true);
}

TEST_CASE("serve: a reload under the default policy, SIGKILL, restart: runs keep their version",
          "[serve][versions]") {
  reload_with_runs_in_flight(false);
}

TEST_CASE("serve: a reload's dry run answers what it would do and changes nothing",
          "[serve][versions]") {
  TempDir dir;
  write_welcome(dir);
  DaemonProcess daemon(dir, kServe);
  REQUIRE(daemon.started());
  REQUIRE(sign_up(daemon, 3));
  const auto before = body_of(call("GET", daemon.url("/v1/journeys")));
  const std::string live = before["journeys"][0]["live_version"];

  // Only a comment and the layout change: nothing would change.
  dir.write("journeys/welcome.journey",
            "# reworded\n\n" + journey_text("", "old-second") + "\n# the end\n");
  auto same = call("POST", daemon.url("/v1/journeys/reload?dry_run=1"));
  REQUIRE(same.status == 200);
  CHECK(body_of(same)["dry_run"] == true);
  CHECK(body_of(same)["diff"]["changed"] == 0);
  CHECK(body_of(same)["diff"]["journeys"][0]["change"] == "unchanged");

  dir.write("journeys/welcome.journey", journey_text("  on update migrate\n", "new-second"));
  auto preview = call("POST", daemon.url("/v1/journeys/reload?dry_run=1"));
  REQUIRE(preview.status == 200);
  const auto answer = body_of(preview);
  CHECK(answer["reloaded"] == false);
  CHECK(answer["would_reload"] == true);
  CHECK(answer["live_deployment"] == before["deployment"]);
  const auto& d = answer["diff"]["journeys"][0];
  CHECK(d["change"] == "changed");
  CHECK(d["old_version"] == live);
  CHECK(d["on_update"] == "migrate");
  REQUIRE(d["steps"].size() == 1);
  CHECK(d["steps"][0]["change"] == "changed");
  CHECK(d["steps"][0]["old"]["name"] == "send email \"old-second\" after wait 30s");
  CHECK(d["in_flight"] == 3);
  CHECK(d["migrate"] == 3);
  REQUIRE(d["runs"].size() == 1);
  CHECK(d["runs"][0]["name"] == "wait 30s after send email \"first\"");
  CHECK(d["runs"][0]["to"]["id"] == "2");
  // Nothing happened: the same live version, its runs where they were, no migration.
  const auto after = body_of(call("GET", daemon.url("/v1/journeys")));
  CHECK(after["deployment"] == before["deployment"]);
  CHECK(after["journeys"][0]["live_version"] == live);
  CHECK(after["journeys"][0]["versions"].size() == 1);
  CHECK(metric(daemon, "journey_runs_migrated_total") == 0);

  dir.write("journeys/welcome.journey", "journey welcome {\n  send email \"x\"\n}\n");
  auto broken = call("POST", daemon.url("/v1/journeys/reload?dry_run=1"));
  CHECK(broken.status == 422);
  CHECK(body_of(broken)["diagnostics"]["errors"] == 1);
}

TEST_CASE("serve: a version no run uses any more is collected", "[serve][versions]") {
  TempDir dir;
  write_welcome(dir, "2s");
  DaemonProcess daemon(dir, kServe);
  REQUIRE(daemon.started());
  REQUIRE(sign_up(daemon, 2));
  const std::string v1 =
      body_of(call("GET", daemon.url("/v1/journeys")))["journeys"][0]["live_version"];
  dir.write("journeys/welcome.journey", journey_text("", "new-second", "2s"));
  REQUIRE(call("POST", daemon.url("/v1/journeys/reload")).status == 200);
  // Its runs still wait: the old version is kept, and its source can be read.
  auto source = call("GET", daemon.url("/v1/journeys/welcome/versions/" + v1 + "/source"));
  REQUIRE(source.status == 200);
  CHECK(body_of(source)["naming"] == "tree");
  CHECK_THAT(body_of(source)["files"][0]["text"].get<std::string>(), Catch::Contains("old-second"));
  CHECK(metric(daemon, "journey_versions_collected_total") == 0);
  REQUIRE(eventually([&] { return actions_in(dir).size() == 4; }, 20));
  REQUIRE(eventually([&] { return version_entry(daemon, v1)["active_runs"] == 0; }, 10));
  // The next reload (or the hourly housekeeping) collects it: its runs have all left.
  REQUIRE(call("POST", daemon.url("/v1/journeys/reload")).status == 200);
  REQUIRE(eventually([&] { return metric(daemon, "journey_versions_collected_total") == 1; }, 10));
  auto gone = call("GET", daemon.url("/v1/journeys/welcome/versions/" + v1 + "/source"));
  CHECK(gone.status == 404);
  CHECK_THAT(body_of(gone)["error"].get<std::string>(), Catch::Contains("collected"));
  CHECK_THAT(daemon.log(), Catch::Contains("old journey versions collected"));
  // Its counts stay in GET /v1/journeys.
  CHECK(version_entry(daemon, v1)["entered"] == 2);
}

TEST_CASE("serve: journey diff --from-daemon compares with the live version and its runs",
          "[serve][versions]") {
  TempDir dir;
  write_welcome(dir);
  DaemonProcess daemon(dir, kServe);
  REQUIRE(daemon.started());
  REQUIRE(sign_up(daemon, 4));
  dir.write("new.journey", journey_text("  on update migrate\n", "new-second"));
  const auto diff =
      journey::test::run_journey(dir.path, "diff --from-daemon " + daemon.url("") + " new.journey");
  INFO(diff.out << diff.err);
  CHECK(diff.code == 1);  // differences
  CHECK_THAT(diff.out, Catch::Contains("journey welcome: changed"));
  CHECK_THAT(diff.out, Catch::Contains("~ send email \"old-second\" after wait 30s"));
  CHECK_THAT(diff.out, Catch::Contains("in-flight runs: 4 (4 migrate"));
  CHECK_THAT(diff.out, Catch::Contains("4 at wait 30s after send email \"first\""));
  // Nothing changed but the policy and a comment: the versions are the same, exit 0.
  dir.write("same.journey", "# the same\n" + journey_text("", "old-second"));
  CHECK(
      journey::test::run_journey(dir.path, "diff --from-daemon " + daemon.url("") + " same.journey")
          .code == 0);

  // A wrong address: the error names the URL and the daemon's answer.
  const auto wrong = journey::test::run_journey(
      dir.path, "diff --from-daemon " + daemon.url("/nothing-here") + " new.journey");
  CHECK(wrong.code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("/nothing-here/v1/journeys: 404 no such route"));

  // A daemon with tokens: `--token` with the read scope reads it, another is refused by name.
  TempDir secured;
  secured.write("journey.toml", std::string(kConfig) +
                                    "[[tokens]]\ntoken = \"read-secret\"\nname = \"r\"\n"
                                    "scopes = [\"read\"]\n[[tokens]]\ntoken = \"ingest-secret\"\n"
                                    "name = \"i\"\nscopes = [\"ingest\"]\n");
  secured.write("journeys/welcome.journey", journey_text("", "old-second"));
  DaemonProcess guarded(secured, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(guarded.started());
  const std::string from = "diff --from-daemon " + guarded.url("") + " " +
                           (dir.path / "new.journey").string() + " --token ";
  CHECK(journey::test::run_journey(dir.path, from + "read-secret").code == 1);
  const auto refused = journey::test::run_journey(dir.path, from + "ingest-secret");
  CHECK(refused.code == 2);
  CHECK_THAT(refused.err, Catch::Contains("403 this token lacks the `read` scope"));
}

TEST_CASE("serve: a database of the build before issue 17 goes on with the old step ids",
          "[serve][versions]") {
  // tests/data/legacy_naming: a database with runs in flight written by that build, and the
  // actions that build writes from there (make.sh). Every wait in it is long due.
  const fs::path fixture = fs::path(JOURNEY_TESTS_DIR) / "data/legacy_naming";
  TempDir dir;
  fs::copy_file(fixture / "journey.db", dir.path / "journey.db");
  fs::copy_file(fixture / "journeys/legacy.journey", dir.path / "journeys/legacy.journey");
  DaemonProcess daemon(dir, {"--journeys", "journeys", "--db", "journey.db", "--listen",
                             "127.0.0.1:0", "--sink", "file:actions.ndjson"});
  REQUIRE(daemon.started());
  std::set<std::string> expected;
  {
    std::ifstream file(fixture / "expected.ndjson");
    std::string line;
    while (std::getline(file, line)) {
      if (!line.empty()) expected.insert(line);
    }
  }
  REQUIRE(expected.size() >= 6);
  const auto lines = [&] {
    std::set<std::string> out;
    std::istringstream in(dir.read("actions.ndjson"));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.insert(line);
    }
    return out;
  };
  REQUIRE(eventually([&] { return lines().size() >= expected.size(); }, 30));
  // The same actions, byte for byte: the same action ids, steps (L<line>:<col>) and variants.
  CHECK(lines() == expected);
  const auto journeys = body_of(call("GET", daemon.url("/v1/journeys")));
  json welcome;
  for (const auto& j : journeys["journeys"]) {
    if (j["name"] == "welcome") welcome = j;
  }
  REQUIRE(welcome.is_object());
  CHECK(welcome["live_version"] != "8418c2eec175a831");  // the new naming, a new version
  // New entries take the new version and its step ids.
  REQUIRE(call("POST", daemon.url("/v1/track"), R"({"event":"signup","userId":"fresh"})").status ==
          200);
  REQUIRE(eventually([&] { return lines().size() >= expected.size() + 2; }, 10));
  std::set<std::string> fresh_steps;
  for (const auto& action : actions_in(dir)) {
    if (action["customer_id"] == "fresh") fresh_steps.insert(action["step"].get<std::string>());
  }
  CHECK(fresh_steps == std::set<std::string>{"1", "first"});
  // The old version's runs have all left: the next reload collects it.
  REQUIRE(eventually([&] { return version_entry(daemon, "8418c2eec175a831")["active_runs"] == 0; },
                     10));
  REQUIRE(call("POST", daemon.url("/v1/journeys/reload")).status == 200);
  CHECK(eventually([&] { return metric(daemon, "journey_versions_collected_total") >= 1; }, 10));
  CHECK(call("GET", daemon.url("/v1/journeys/welcome/versions/8418c2eec175a831/source")).status ==
        404);
}
