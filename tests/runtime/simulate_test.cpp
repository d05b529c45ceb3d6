// The simulate driver: the output does not depend on threads, partitions, the memory budget
// (records spilled to temporary files or not) or the order of lines among customers.
#include "runtime/sim/simulate.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_support.hpp"
#include "dsl/workspace.hpp"
#include "engine/engine.hpp"
#include "engine/program.hpp"
#include "runtime/common/config.hpp"

namespace {

using journey::test::TempDir;

struct Run {
  bool ok = false;
  std::string actions;
  std::string report;
  std::string errors;
  std::string messages;  // what went to err
  std::size_t events = 0;
  std::size_t skipped = 0;
  std::size_t customers = 0;
};

Run run(const journey::engine::Engine& engine, const journey::engine::Program& program,
        journey::runtime::SimulateOptions options) {
  options.report = true;
  Run out;
  std::ostringstream err;
  const auto result = journey::runtime::simulate(
      engine, options, [&out](std::string_view line) { out.actions.append(line).push_back('\n'); },
      err);
  out.ok = result.ok;
  out.report = result.report.render(program);
  for (const auto& r : result.errors)
    out.errors += r.customer_id + " " + r.journey + " " + r.detail + "\n";
  out.messages = err.str();
  out.events = result.events;
  out.skipped = result.skipped;
  out.customers = result.customers;
  return out;
}

// The standard journeys, checked and compiled for an engine with the sample purchase model that
// their churn-risk journey reads.
struct Stdlib {
  journey::engine::EngineConfig config;
  journey::engine::CompileResult compiled;
  Stdlib() {
    config.model = journey::runtime::load_model(JOURNEY_SOURCE_DIR "/examples/model.json");
    journey::dsl::Workspace ws;
    journey::dsl::add_paths(ws, {JOURNEY_SOURCE_DIR "/stdlib-journeys"});
    journey::dsl::CheckOptions checks;
    checks.model = journey::engine::model_facts(config.model);
    journey::dsl::check(ws, checks);
    REQUIRE_FALSE(ws.has_errors());
    compiled = journey::engine::compile(ws);
    REQUIRE(compiled.program);
  }
};

}  // namespace

TEST_CASE("simulate gives the same bytes whatever the threads, partitions and memory budget",
          "[simulate][property]") {
  const Stdlib stdlib;
  const auto& compiled = stdlib.compiled;
  journey::engine::Engine engine(stdlib.config);
  engine.deploy(compiled.program);

  // The demo data, with two malformed lines, and the same lines shuffled.
  std::vector<std::string> lines;
  std::ifstream in(JOURNEY_SOURCE_DIR "/examples/data/events.ndjson");
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() > 500);
  lines.insert(lines.begin() + 100, "{\"event\":\"x\"");
  lines.insert(lines.begin() + 400, "{\"event\":\"x\",\"userId\":\"c1\",\"timestamp\":\"soon\"}");
  TempDir dir;
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  dir.write("events.ndjson", text);

  journey::runtime::SimulateOptions base;
  base.events = (dir.path / "events.ndjson").string();
  const Run reference = run(engine, *compiled.program, base);
  REQUIRE(reference.ok);
  CHECK(reference.skipped == 2);
  CHECK(reference.events == lines.size() - 2);
  CHECK(reference.customers == 40);
  CHECK(std::count(reference.actions.begin(), reference.actions.end(), '\n') > 40);
  CHECK(reference.messages.find("events.ndjson:101: invalid JSON") != std::string::npos);
  CHECK(reference.messages.find("events.ndjson:401: $.timestamp: unparsable timestamp") !=
        std::string::npos);

  for (const unsigned threads : {1U, 2U, 3U}) {
    for (const std::size_t budget : {std::size_t{0}, std::size_t{1} << 12, std::size_t{64} << 20}) {
      for (const std::size_t partition : {std::size_t{1} << 10, std::size_t{64} << 20}) {
        INFO("threads " << threads << ", budget " << budget << ", partition bytes " << partition);
        auto options = base;
        options.threads = threads;
        options.memory_budget = budget;
        options.partition_bytes = partition;
        const Run other = run(engine, *compiled.program, options);
        CHECK(other.ok);
        CHECK(other.actions == reference.actions);
        CHECK(other.report == reference.report);
        CHECK(other.errors == reference.errors);
        CHECK(other.messages == reference.messages);
      }
    }
  }

  // The same lines in time order, as an export from an event store comes: customers interleave,
  // each customer's lines keep their relative order.
  const auto time_of = [](const std::string& line) -> std::string {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    return j.is_object() && j.contains("timestamp") && j["timestamp"].is_string()
               ? j["timestamp"].get<std::string>()
               : "";
  };
  std::stable_sort(
      lines.begin(), lines.end(),
      [&time_of](const std::string& a, const std::string& b) { return time_of(a) < time_of(b); });
  std::string by_time;
  for (const auto& l : lines) by_time += l + "\n";
  dir.write("by_time.ndjson", by_time);
  auto options = base;
  options.events = (dir.path / "by_time.ndjson").string();
  options.threads = 2;
  options.memory_budget = 0;
  const Run mixed = run(engine, *compiled.program, options);
  CHECK(mixed.ok);
  CHECK(mixed.skipped == 2);
  CHECK(mixed.actions == reference.actions);
  CHECK(mixed.report == reference.report);
}

TEST_CASE("simulate reports an unreadable input and reads a stream", "[simulate]") {
  const Stdlib stdlib;
  const auto& compiled = stdlib.compiled;
  journey::engine::Engine engine(stdlib.config);
  engine.deploy(compiled.program);
  journey::runtime::SimulateOptions options;
  options.events = "/nonexistent/events.ndjson";
  const Run missing = run(engine, *compiled.program, options);
  CHECK_FALSE(missing.ok);
  CHECK(missing.messages == "/nonexistent/events.ndjson: cannot read the file\n");
  options.events = JOURNEY_SOURCE_DIR "/examples";  // a folder
  CHECK_FALSE(run(engine, *compiled.program, options).ok);

  // A pipe (no size, no positional reads) gives what the file gives.
  options.events = JOURNEY_SOURCE_DIR "/examples/data/events.ndjson";
  const Run from_file = run(engine, *compiled.program, options);
  TempDir dir;
  const auto fifo = dir.path / "events.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&fifo] {
    std::ofstream out(fifo, std::ios::binary);
    std::ifstream in(JOURNEY_SOURCE_DIR "/examples/data/events.ndjson", std::ios::binary);
    out << in.rdbuf();
  });
  options.events = fifo.string();
  options.threads = 2;
  const Run from_pipe = run(engine, *compiled.program, options);
  writer.join();
  CHECK(from_pipe.ok);
  CHECK(from_pipe.actions == from_file.actions);
  CHECK(from_pipe.report == from_file.report);
}
