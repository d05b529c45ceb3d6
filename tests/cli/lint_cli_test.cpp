// `journey lint` through the real binary: formats, flags, exit codes, folders, plans, channels.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace fs = std::filesystem;

using namespace journey::test;

namespace {

const char* const kClean = "journey welcome {\n  entry on signup\n  send email \"welcome-1\"\n}\n";
const char* const kUnknownSegment =
    "segment dormant = since(order_completed) >= 30d\n"
    "journey wake_up {\n  entry when customer is dormnt\n  send email \"we-miss-you\"\n}\n";
const char* const kWarningOnly =
    "journey bye {\n  entry on unsubscribe\n  exit\n  send email \"never\"\n}\n";

const char* const kPlanJson = R"({"events": {
  "signup": {"properties": {"source": "string"}},
  "order_completed": {"properties": {"amount": "number", "sku": "string"}}
}})";

const char* const kPlanToml = R"([events.signup.properties]
source = "string"

[events.order_completed.properties]
amount = "number"
sku = "string"
)";

const char* const kPlanViolations =
    "journey j {\n"
    "  entry on sigup\n"
    "  exit on order_completed where event.ammount > 3\n"
    "  goal g: order_completed where event.amount == \"big\" within 7d\n"
    "  send email \"x\"\n"
    "}\n";

std::vector<std::string> json_codes(const std::string& out) {
  std::vector<std::string> codes;
  const auto doc = nlohmann::json::parse(out);
  for (const auto& d : doc.at("diagnostics")) codes.push_back(d.at("code").get<std::string>());
  return codes;
}

}  // namespace

TEST_CASE("lint: exit 0 and no output when clean, 1 with errors", "[cli][lint]") {
  TempDir dir;
  dir.write("clean.journey", kClean);
  dir.write("bad.journey", kUnknownSegment);
  const RunResult clean = run_journey(dir.path, "lint clean.journey");
  CHECK(clean.code == 0);
  CHECK(clean.out.empty());
  const RunResult bad = run_journey(dir.path, "lint bad.journey --color never");
  CHECK(bad.code == 1);
  CHECK(bad.out ==
        "bad.journey:3:26: error[E104]: unknown segment `dormnt`\n"
        " 3 |   entry when customer is dormnt\n"
        "   |                          ^~~~~~\n"
        "  = help: did you mean `dormant`?\n"
        "\n"
        "1 error, 0 warnings\n");
  // Same input, same bytes.
  CHECK(run_journey(dir.path, "lint bad.journey --color never").out == bad.out);
}

TEST_CASE("lint: --strict fails on warnings", "[cli][lint]") {
  TempDir dir;
  dir.write("warn.journey", kWarningOnly);
  const RunResult relaxed = run_journey(dir.path, "lint warn.journey");
  CHECK(relaxed.code == 0);
  CHECK(relaxed.out.find("warning[W101]") != std::string::npos);
  CHECK(run_journey(dir.path, "lint --strict warn.journey").code == 1);
}

TEST_CASE("lint: --format json is one document with every field", "[cli][lint]") {
  TempDir dir;
  dir.write("bad.journey", kUnknownSegment);
  dir.write("warn.journey", kWarningOnly);
  const RunResult r = run_journey(dir.path, "lint bad.journey warn.journey --format json");
  CHECK(r.code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc.at("errors") == 1);
  CHECK(doc.at("warnings") == 1);
  REQUIRE(doc.at("diagnostics").size() == 2);
  const auto& d = doc.at("diagnostics").at(0);
  CHECK(d.at("file") == "bad.journey");
  CHECK(d.at("line") == 3);
  CHECK(d.at("column") == 26);
  CHECK(d.at("end_line") == 3);
  CHECK(d.at("end_column") == 32);
  CHECK(d.at("severity") == "error");
  CHECK(d.at("code") == "E104");
  CHECK(d.at("message") == "unknown segment `dormnt`");
  CHECK(d.at("notes").is_array());
  CHECK(d.at("help") == "did you mean `dormant`?");
  CHECK(doc.at("diagnostics").at(1).at("severity") == "warning");
  CHECK(doc.at("diagnostics").at(1).at("file") == "warn.journey");
}

TEST_CASE("lint: --format sarif is SARIF 2.1.0", "[cli][lint]") {
  TempDir dir;
  dir.write("bad.journey", kUnknownSegment);
  const RunResult r = run_journey(dir.path, "lint bad.journey --format sarif");
  CHECK(r.code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc.at("version") == "2.1.0");
  const auto& run0 = doc.at("runs").at(0);
  CHECK(run0.at("tool").at("driver").at("name") == "journey");
  CHECK(run0.at("tool").at("driver").at("rules").at(0).at("id") == "E104");
  const auto& result = run0.at("results").at(0);
  CHECK(result.at("ruleId") == "E104");
  CHECK(result.at("level") == "error");
  const auto& loc = result.at("locations").at(0).at("physicalLocation");
  CHECK(loc.at("artifactLocation").at("uri") == "bad.journey");
  CHECK(loc.at("region").at("startLine") == 3);
  CHECK(loc.at("region").at("startColumn") == 26);
  CHECK(loc.at("region").at("endColumn") == 32);
}

TEST_CASE("lint: --explain prints a code's text, unknown codes exit 2", "[cli][lint]") {
  TempDir dir;
  const RunResult r = run_journey(dir.path, "lint --explain E104");
  CHECK(r.code == 0);
  CHECK(r.out.rfind("E104: unknown segment\n", 0) == 0);
  CHECK(r.out.find("Fix:") != std::string::npos);
  CHECK(run_journey(dir.path, "lint --explain w101").code == 0);
  const RunResult unknown = run_journey(dir.path, "lint --explain E999");
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("E999") != std::string::npos);
}

TEST_CASE("lint: every code has an explanation with an example and a fix", "[cli][lint]") {
  TempDir dir;
  for (const char* code :
       {"E000", "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E100", "E101",
        "E102", "E103", "E104", "E105", "E106", "E107", "E108", "E109", "E110", "E111",
        "E112", "E113", "E114", "E115", "E116", "E117", "E118", "W101"}) {
    INFO(code);
    const RunResult r = run_journey(dir.path, std::string("lint --explain ") + code);
    CHECK(r.code == 0);
    CHECK(r.out.find("Example") != std::string::npos);
    CHECK(r.out.find("Fix") != std::string::npos);
  }
}

TEST_CASE("lint: folders are searched recursively for *.journey, in sorted order", "[cli][lint]") {
  TempDir dir;
  dir.write("flows/b.journey", kUnknownSegment);
  dir.write("flows/nested/a.journey", "journey lonely {\n  send email \"x\"\n}\n");
  dir.write("flows/notes.txt", "journey not_linted {\n}\n");
  dir.write("flows/a.journey", kClean);
  const RunResult r = run_journey(dir.path, "lint flows --format json");
  CHECK(r.code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  REQUIRE(doc.at("diagnostics").size() == 2);
  CHECK(doc.at("diagnostics").at(0).at("file") == "flows/b.journey");
  CHECK(doc.at("diagnostics").at(1).at("file") == "flows/nested/a.journey");
  CHECK(doc.at("diagnostics").at(1).at("code") == "E100");
  // A trailing slash gives the same paths.
  CHECK(run_journey(dir.path, "lint flows/ --format json").out == r.out);
}

TEST_CASE("lint: names are checked across all files given together", "[cli][lint]") {
  TempDir dir;
  dir.write("a.journey", "segment dormant = since(order_completed) >= 30d\n");
  dir.write("b.journey",
            "journey j {\n  entry when customer is dormant\n}\njourney j2 {\n  entry on x\n}\n");
  dir.write("c.journey", "journey j {\n  entry on y\n}\n");
  CHECK(run_journey(dir.path, "lint b.journey").code == 1);  // dormant is unknown alone
  const RunResult r = run_journey(dir.path, "lint a.journey b.journey c.journey --format json");
  CHECK(json_codes(r.out) == std::vector<std::string>{"E103"});
  const auto d = nlohmann::json::parse(r.out).at("diagnostics").at(0);
  CHECK(d.at("file") == "c.journey");
  CHECK(d.at("notes").at(0).at("file") == "b.journey");
}

TEST_CASE("lint: an unreadable path is an I/O error, exit 2", "[cli][lint]") {
  TempDir dir;
  dir.write("clean.journey", kClean);
  const RunResult r = run_journey(dir.path, "lint clean.journey missing.journey --color never");
  CHECK(r.code == 2);
  CHECK(r.out.find("missing.journey: error[E000]: cannot read `missing.journey`") !=
        std::string::npos);
  const RunResult json = run_journey(dir.path, "lint missing_dir --format json");
  CHECK(json.code == 2);
  CHECK(json_codes(json.out) == std::vector<std::string>{"E000"});
}

TEST_CASE("lint: usage errors exit 2", "[cli][lint]") {
  TempDir dir;
  dir.write("clean.journey", kClean);
  CHECK(run_journey(dir.path, "lint").code == 2);
  CHECK(run_journey(dir.path, "lint clean.journey --format xml").code == 2);
  CHECK(run_journey(dir.path, "lint clean.journey --color sometimes").code == 2);
}

TEST_CASE("lint: --channels reports unknown channels", "[cli][lint]") {
  TempDir dir;
  dir.write("j.journey",
            "journey j {\n  entry on signup\n  send emial \"x\"\n  send sms \"y\"\n}\n");
  CHECK(run_journey(dir.path, "lint j.journey").code == 0);
  const RunResult r =
      run_journey(dir.path, "lint j.journey --channels email,sms,push --format json");
  CHECK(r.code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  REQUIRE(json_codes(r.out) == std::vector<std::string>{"E113"});
  CHECK(doc.at("diagnostics").at(0).at("help") == "did you mean `email`?");
  CHECK(doc.at("diagnostics").at(0).at("column") == 8);
}

TEST_CASE("lint: --plan (JSON or TOML) checks events, properties and their types", "[cli][lint]") {
  TempDir dir;
  dir.write("plan.json", kPlanJson);
  dir.write("plan.toml", kPlanToml);
  dir.write("j.journey", kPlanViolations);
  CHECK(run_journey(dir.path, "lint j.journey").code == 0);
  for (const char* plan : {"plan.json", "plan.toml"}) {
    INFO(plan);
    const RunResult r =
        run_journey(dir.path, std::string("lint j.journey --format json --plan ") + plan);
    CHECK(r.code == 1);
    CHECK(json_codes(r.out) == std::vector<std::string>{"E114", "E115", "E116"});
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc.at("diagnostics").at(0).at("help") == "did you mean `signup`?");
    CHECK(doc.at("diagnostics").at(1).at("help") == "did you mean `amount`?");
  }
}

TEST_CASE("lint: the [lint] table of the nearest .journeyrc or journey.toml", "[cli][lint]") {
  TempDir dir;
  dir.write("project/plans/plan.json", kPlanJson);
  dir.write("project/journeys/j.journey", kPlanViolations);
  dir.write("project/journeys/k.journey",
            "journey k {\n  entry on signup\n  send emial \"x\"\n}\n");
  CHECK(run_journey(dir.path, "lint project/journeys").code == 0);
  // The daemon's file, in the folder above: it accepts the table, and lint finds it.
  dir.write("project/journey.toml",
            "db = \"x.db\"\n[lint]\nplan = \"plans/plan.json\"\nchannels = [\"email\"]\n");
  RunResult r = run_journey(dir.path, "lint project/journeys --format json");
  CHECK(r.code == 1);
  CHECK(json_codes(r.out) == std::vector<std::string>{"E114", "E115", "E116", "E113"});
  // A flag replaces its setting only.
  r = run_journey(dir.path, "lint project/journeys/k.journey --format json --channels emial");
  CHECK(json_codes(r.out).empty());
  // .journeyrc comes first in a folder, and nearer folders first.
  dir.write("project/journeys/.journeyrc", "[lint]\nchannels = [\"sms\"]\n");
  r = run_journey(dir.path, "lint project/journeys/k.journey --format json");
  REQUIRE(json_codes(r.out) == std::vector<std::string>{"E113"});
  CHECK(nlohmann::json::parse(r.out).at("diagnostics").at(0).at("help") ==
        "the configured channels are: sms");
  // A broken table is a usage error naming the file and the place.
  dir.write("project/journeys/.journeyrc", "[lint]\nchannel = [\"sms\"]\n");
  r = run_journey(dir.path, "lint project/journeys");
  CHECK(r.code == 2);
  CHECK(r.err.find(".journeyrc:2:1: unknown key lint.channel") != std::string::npos);
}

TEST_CASE("lint: the [topics] table declares the subscription topics (W104)", "[cli][lint]") {
  TempDir dir;
  dir.write("journeys/news.journey",
            "journey news {\n  entry on signup\n  send email \"digest\" topic newsleter\n}\n");
  CHECK(run_journey(dir.path, "lint journeys --strict").code == 0);  // nothing declared
  dir.write("journey.toml", "[topics]\nnewsletter = \"opt-in\"\n");
  RunResult r = run_journey(dir.path, "lint journeys");
  CHECK(r.code == 0);  // a warning
  CHECK(r.out.find("journeys/news.journey:3:29: warning[W104]: topic `newsleter` is not declared "
                   "in [topics]") != std::string::npos);
  CHECK(r.out.find("did you mean `newsletter`?") != std::string::npos);
  CHECK(run_journey(dir.path, "lint journeys --strict").code == 1);
  CHECK(run_journey(dir.path, "lint --help").out.find("[topics] table") != std::string::npos);
  dir.write("journey.toml", "topics = [\"newsletter\"]\n");
  r = run_journey(dir.path, "lint journeys");
  CHECK(r.code == 2);
  CHECK(r.err.find("journey.toml:1:10: `topics` must be a table") != std::string::npos);
}

TEST_CASE("lint: a bad plan file is a usage error naming the place", "[cli][lint]") {
  TempDir dir;
  dir.write("j.journey", kClean);
  dir.write("bad.json", R"({"events": {"signup": {"properties": {"source": "text"}}}})");
  const RunResult r = run_journey(dir.path, "lint j.journey --plan bad.json");
  CHECK(r.code == 2);
  CHECK(r.err.find("bad.json: events.signup.properties.source") != std::string::npos);
  CHECK(run_journey(dir.path, "lint j.journey --plan nowhere.json").code == 2);
}

TEST_CASE("lint: colour only when asked", "[cli][lint]") {
  TempDir dir;
  dir.write("bad.journey", kUnknownSegment);
  CHECK(run_journey(dir.path, "lint bad.journey").out.find('\x1b') ==
        std::string::npos);  // not a TTY
  CHECK(run_journey(dir.path, "lint bad.journey --color always").out.find("\x1b[") !=
        std::string::npos);
  CHECK(run_journey(dir.path, "lint bad.journey --color never").out.find('\x1b') ==
        std::string::npos);
}

TEST_CASE("compile, graph and explain refuse a --journey the paths do not declare", "[cli]") {
  TempDir dir;
  write_file(dir.path / "a.journey",
             slurp(fs::path(JOURNEY_SOURCE_DIR) / "tests/scenarios/spec_example/journeys.journey"));
  write_file(dir.path / "events.ndjson", "");
  for (const std::string command : {"compile a.journey --emit ir", "graph a.journey --format dot",
                                    "explain a.journey --events events.ndjson --customer u1"}) {
    const auto named = run_journey(dir.path, command + " --journey nope");
    CHECK(named.code == 2);
    CHECK(named.out.empty());
    const auto verb = command.substr(0, command.find(' '));
    CHECK(named.err == "journey " + verb + ": no journey named `nope` in the given paths\n");
  }
  // A journey the paths declare is kept alone.
  const auto kept = run_journey(dir.path, "compile a.journey --emit ir --journey welcome");
  CHECK(kept.code == 0);
  CHECK(nlohmann::json::parse(kept.out)["journeys"].size() == 1);
}
