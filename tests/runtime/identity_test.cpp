// Identity resolution in the simulate driver: persons whose ids sit in different partitions run
// together, and the output is the same bytes whatever the threads, partitions, memory budget and
// order of lines among customers.
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_support.hpp"
#include "dsl/workspace.hpp"
#include "engine/engine.hpp"
#include "engine/program.hpp"
#include "runtime/sim/simulate.hpp"

namespace {

using journey::test::TempDir;
using nlohmann::json;

struct Output {
  bool ok = false;
  std::string actions;
  std::string report;
  std::string trace;
  journey::runtime::SimulationResult result;
};

Output run(const journey::engine::Engine& engine, const journey::engine::Program& program,
           journey::runtime::SimulateOptions options) {
  options.report = true;
  Output out;
  std::ostringstream err;
  out.result = journey::runtime::simulate(
      engine, options, [&out](std::string_view line) { out.actions.append(line).push_back('\n'); },
      err);
  out.ok = out.result.ok;
  out.report = out.result.report.render(program);
  out.trace = journey::runtime::render_trace(out.result.trace, std::nullopt);
  return out;
}

// The demo data with anonymous visitors: customers whose id ends in an even digit send their
// first half of events under an anonymousId, the middle one with both ids (the login). Plus an
// alias of a stranger's device to c0000003, and c0000005 giving c0000007's email.
std::vector<std::string> anonymous_history() {
  std::vector<json> lines;
  std::ifstream in(JOURNEY_SOURCE_DIR "/examples/data/events.ndjson");
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  std::map<std::string, int> count;
  for (const auto& j : lines) ++count[j.at("userId").get<std::string>()];
  std::map<std::string, int> seen;
  std::string email_of_7;
  std::vector<std::string> out;
  for (auto j : lines) {
    const std::string id = j.at("userId").get<std::string>();
    if (id == "c0000007" && j.contains("traits") && j["traits"].contains("email"))
      email_of_7 = j["traits"]["email"].get<std::string>();
    if ((id.back() - '0') % 2 == 0) {
      const int n = ++seen[id];
      const int half = (count[id] + 1) / 2;
      if (n <= half) j["anonymousId"] = "anon-" + id;
      if (n < half) j.erase("userId");
    }
    out.push_back(j.dump());
  }
  out.push_back(json{{"type", "alias"},
                     {"userId", "c0000003"},
                     {"previousId", "device-x"},
                     {"timestamp", "2026-01-10T00:00:00Z"}}
                    .dump());
  out.push_back(json{{"type", "track"},
                     {"event", "view_product"},
                     {"anonymousId", "device-x"},
                     {"properties", {{"product_id", "p001"}}},
                     {"timestamp", "2026-01-09T00:00:00Z"}}
                    .dump());
  REQUIRE_FALSE(email_of_7.empty());
  out.push_back(json{{"type", "identify"},
                     {"userId", "c0000005"},
                     {"traits", {{"email", email_of_7}}},
                     {"timestamp", "2026-01-20T00:00:00Z"}}
                    .dump());
  return out;
}

// Which person a line of anonymous_history() belongs to.
std::string person_of(const std::string& line) {
  const auto j = json::parse(line);
  std::string id =
      j.contains("userId") ? j["userId"].get<std::string>() : j["anonymousId"].get<std::string>();
  if (id.rfind("anon-", 0) == 0) id = id.substr(5);
  if (id == "device-x") return "c0000003";
  if (id == "c0000007") return "c0000005";
  return id;
}

std::string text_of(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

}  // namespace

TEST_CASE("linked customers give the same bytes whatever the threads, partitions and order",
          "[simulate][identity][property]") {
  journey::engine::Engine engine(journey::engine::EngineConfig{});
  journey::dsl::Workspace ws;
  journey::dsl::add_source(ws, "welcome.journey", R"(
journey welcome {
  entry on signup
  reentry never
  send email "welcome-1"
  wait 2d
  send email "welcome-2"
}
journey browse {
  entry on view_product
  reentry after 1d
  wait 1h
  send push "browse" with { n: count(view_product) }
}
)");
  journey::dsl::check(ws, {});
  REQUIRE_FALSE(ws.has_errors());
  const auto compiled = journey::engine::compile(ws);
  REQUIRE(compiled.program);
  engine.deploy(compiled.program);

  const auto lines = anonymous_history();
  TempDir dir;
  dir.write("events.ndjson", text_of(lines));
  journey::runtime::SimulateOptions base;
  base.events = (dir.path / "events.ndjson").string();
  base.identity.keys = {"email"};
  base.trace_customer = "anon-c0000002";
  const Output reference = run(engine, *compiled.program, base);
  REQUIRE(reference.ok);
  // 20 customers with an even id logged in, device-x was aliased, c0000005 gave 7's email.
  CHECK(reference.result.merges == 22);
  CHECK(reference.result.customers == 39);  // c0000005 and c0000007 are one
  CHECK(reference.trace.find("merged anon-c0000002 into c0000002 (anonymousId)") !=
        std::string::npos);

  std::mt19937 rng(11);
  for (const unsigned threads : {1U, 2U, 3U}) {
    for (const std::size_t partition : {std::size_t{1} << 10, std::size_t{64} << 20}) {
      for (const std::size_t budget : {std::size_t{0}, std::size_t{64} << 20}) {
        INFO("threads " << threads << ", partition bytes " << partition << ", budget " << budget);
        // Lines of different persons interleaved anew, each person's own lines in their order.
        std::map<std::string, std::vector<std::string>> by_person;
        std::vector<std::string> order;
        for (const auto& line : lines) {
          const auto key = person_of(line);
          by_person[key].push_back(line);
          order.push_back(key);
        }
        std::shuffle(order.begin(), order.end(), rng);
        std::map<std::string, std::size_t> next;
        std::vector<std::string> shuffled;
        for (const auto& key : order) shuffled.push_back(by_person[key][next[key]++]);
        dir.write("other.ndjson", text_of(shuffled));
        auto options = base;
        options.events = (dir.path / "other.ndjson").string();
        options.threads = threads;
        options.partition_bytes = partition;
        options.memory_budget = budget;
        const Output other = run(engine, *compiled.program, options);
        CHECK(other.ok);
        CHECK(other.actions == reference.actions);
        CHECK(other.report == reference.report);
        CHECK(other.trace == reference.trace);
      }
    }
  }
}

TEST_CASE("explain of a linked id runs the whole person", "[simulate][identity]") {
  journey::engine::Engine engine(journey::engine::EngineConfig{});
  journey::dsl::Workspace ws;
  journey::dsl::add_source(ws, "w.journey",
                           "journey w {\n  entry on signup\n  send email \"w\"\n}\n");
  journey::dsl::check(ws, {});
  const auto compiled = journey::engine::compile(ws);
  REQUIRE(compiled.program);
  engine.deploy(compiled.program);
  TempDir dir;
  dir.write("events.ndjson", text_of(anonymous_history()));
  journey::runtime::SimulateOptions options;
  options.events = (dir.path / "events.ndjson").string();
  options.only_customer = "c0000004";
  options.trace_customer = "c0000004";
  options.threads = 2;
  const Output one = run(engine, *compiled.program, options);
  REQUIRE(one.ok);
  CHECK(one.result.customers == 1);
  CHECK(one.trace.find("merged anon-c0000004 into c0000004 (anonymousId)") != std::string::npos);
  options.only_customer = "anon-c0000004";
  options.trace_customer = "anon-c0000004";
  CHECK(run(engine, *compiled.program, options).trace == one.trace);
}
