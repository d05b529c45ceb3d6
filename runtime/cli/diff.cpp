// `journey diff OLD NEW`: what changes between two versions of journeys, step by step, and what a
// reload would do to the runs inside them: those at a step the new version has unchanged move
// there under `on update migrate`, the others keep their version. The old side is files, or a
// version deployed in a daemon (`--from-daemon URL`, whose runs in flight it counts); with
// `--events` the runs in flight are those a simulation of the old side leaves at the end.
#include "engine/diff.hpp"

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <boost/beast/http/verb.hpp>

#include "engine/program.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"
#include "runtime/deliver/http_client.hpp"
#include "runtime/serve/journey_set.hpp"
#include "runtime/sim/simulate.hpp"

namespace journey::cli {
namespace {

using nlohmann::json;

constexpr std::int64_t kTimeoutMs = 30'000;

struct DiffArgs {
  std::vector<std::string> paths;
  std::string journey;
  std::string format = "text";
  std::string daemon;
  std::string token;
  std::string version;
  std::string events;
  std::string profiles;
  std::string until;
  std::string model;
};

/// A failure already explained on stderr; the command exits with kExitUsage.
struct Failed {};

/// GET of a daemon's route, as JSON; a clear message and Failed when it does not answer 200.
json get_json(const DiffArgs& args, const std::string& route) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!args.token.empty()) headers.emplace_back("Authorization", "Bearer " + args.token);
  std::string base = args.daemon;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + route;
  const auto answer =
      runtime::http_call(boost::beast::http::verb::get, url, "", headers, kTimeoutMs);
  if (answer.status == 0) {
    std::cerr << "journey diff: GET " << url << ": " << answer.error << "\n";
    throw Failed{};
  }
  json body = json::parse(answer.body, nullptr, false);
  if (answer.status != 200 || body.is_discarded()) {
    const std::string why = !body.is_discarded() && body.is_object() && body.contains("error")
                                ? body["error"].get<std::string>()
                                : answer.body.substr(0, 200);
    std::cerr << "journey diff: GET " << url << ": " << answer.status << " " << why << "\n";
    throw Failed{};
  }
  return body;
}

/// A path segment of a URL, with everything but unreserved characters %-escaped.
std::string escaped(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/// The versions a daemon keeps, compiled from their sources as it compiles them: one program per
/// deployment, fetched once.
class DaemonVersions {
 public:
  explicit DaemonVersions(const DiffArgs& args) : args_(args) {}

  /// The program of the deployment that holds `journey`@`version`.
  std::shared_ptr<const engine::Program> program_of(const std::string& journey,
                                                    const std::string& version) {
    for (const auto& [id, program] : programs_) {
      const auto* j = program->find_journey(journey);
      if (j != nullptr && j->version == version) return program;
    }
    const json source = get_json(
        args_, "/v1/journeys/" + escaped(journey) + "/versions/" + escaped(version) + "/source");
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& f : source.at("files")) files.emplace_back(f.at("path"), f.at("text"));
    const auto naming = source.value("naming", "tree") == "positions"
                            ? engine::StepNaming::Positions
                            : engine::StepNaming::Tree;
    // The daemon checked these files against its purchase model; nothing runs them here.
    dsl::CheckOptions checks;
    checks.model = kAnyModel;
    auto set = runtime::compile_files(files, checks, naming);
    if (!set.ok()) {
      std::cerr << "journey diff: the daemon's deployment " << source.value("deployment", "?")
                << " does not compile here:\n"
                << runtime::summarize_errors(set.diagnostics) << "\n";
      throw Failed{};
    }
    const auto* j = set.program->find_journey(journey);
    if (j == nullptr || j->version != version) {
      std::cerr << "journey diff: the daemon's source of " << journey << "@" << version
                << " compiles to another version here ("
                << (j == nullptr ? std::string("no such journey") : j->version)
                << "): is this build older than the daemon?\n";
      throw Failed{};
    }
    programs_.emplace_back(source.value("deployment", ""), set.program);
    return set.program;
  }

 private:
  const DiffArgs& args_;
  std::vector<std::pair<std::string, std::shared_ptr<const engine::Program>>> programs_;
};

/// The old side and its runs in flight, from a daemon.
std::shared_ptr<const engine::Program> from_daemon(
    const DiffArgs& args, std::map<std::string, std::vector<engine::RunsAt>>& runs,
    DaemonVersions& versions) {
  const json listed = get_json(args, "/v1/journeys");
  std::shared_ptr<const engine::Program> old;
  for (const auto& j : listed.at("journeys")) {
    const std::string name = j.at("name");
    if (!args.version.empty()) {
      if (name == args.journey) old = versions.program_of(name, args.version);
    } else if (!old && j.at("live_version").is_string()) {
      old = versions.program_of(name, j.at("live_version"));
    }
  }
  if (!old) {
    std::cerr << "journey diff: the daemon at " << args.daemon
              << (args.version.empty()
                      ? std::string(" has no live journeys")
                      : " has no version " + args.version + " of journey `" + args.journey + "`")
              << "\n";
    throw Failed{};
  }
  for (const auto& j : listed.at("journeys")) {
    const std::string name = j.at("name");
    for (const auto& v : j.at("versions")) {
      const auto& by_step = v.value("runs_by_step", json::object());
      if (by_step.empty()) continue;
      engine::RunsAt at;
      const std::string version = v.at("version");
      if (auto program = versions.program_of(name, version))
        at.version = program->find_journey(name);
      for (const auto& [step, count] : by_step.items()) at.by_step[step] = count.get<std::size_t>();
      runs[name].push_back(std::move(at));
    }
  }
  return old;
}

/// The runs a simulation of the old side leaves in flight.
bool simulated(const DiffArgs& args, const std::shared_ptr<const engine::Program>& old,
               std::optional<engine::PurchaseModel> model,
               std::map<std::string, std::vector<engine::RunsAt>>& runs) {
  runtime::SimulateOptions options;
  options.events = args.events;
  options.profiles = args.profiles;
  if (!args.until.empty()) {
    options.until = engine::parse_timestamp(args.until);
    if (!options.until) {
      std::cerr << "journey diff: --until: unparsable timestamp \"" << args.until
                << "\" (expected ISO-8601 such as 2026-01-31T00:00:00Z)\n";
      return false;
    }
  }
  options.until_last_event = true;
  options.actions = false;
  options.threads = std::max(1U, std::thread::hardware_concurrency());
  engine::EngineConfig config;
  config.model = std::move(model);
  engine::Engine engine(config);
  engine.deploy(old);
  const auto result = runtime::simulate(
      engine, options, [](std::string_view) {}, std::cerr);
  if (!result.ok) return false;
  for (const auto& [key, steps] : result.in_flight) {
    engine::RunsAt at;
    at.version = old->find_journey(key.first);
    for (const auto& [step, n] : steps) at.by_step[step] = n;
    runs[key.first].push_back(std::move(at));
  }
  return true;
}

int diff(const DiffArgs& args) {
  const bool daemon = !args.daemon.empty();
  if (args.paths.size() != (daemon ? 1U : 2U)) {
    std::cerr << "journey diff: "
              << (daemon ? "with --from-daemon, give the NEW path only" : "give two paths: OLD NEW")
              << "\n";
    return kExitUsage;
  }
  if (!args.version.empty() && args.journey.empty()) {
    std::cerr << "journey diff: --version needs --journey (the journey it is a version of)\n";
    return kExitUsage;
  }
  auto model = load_model_flag(args.model, "diff");
  if (model.exit_code != kExitOk) return model.exit_code;
  // Only a simulation of the old side (--events) runs the journeys: then the predictive functions
  // need the model; a comparison alone runs nothing, so any model will do.
  const std::optional<dsl::ModelFacts> facts = args.events.empty() && !model.model
                                                   ? std::optional<dsl::ModelFacts>(kAnyModel)
                                                   : engine::model_facts(model.model);
  try {
    const Loaded neu = load_program({args.paths.back()}, facts);
    if (!neu.program) return neu.exit_code;
    std::map<std::string, std::vector<engine::RunsAt>> runs;
    DaemonVersions versions(args);
    std::shared_ptr<const engine::Program> old;
    if (daemon) {
      old = from_daemon(args, runs, versions);
    } else {
      const Loaded loaded = load_program({args.paths.front()}, facts);
      if (!loaded.program) return loaded.exit_code;
      old = loaded.program;
      if (!args.events.empty() && !simulated(args, old, std::move(model.model), runs))
        return kExitUsage;
    }
    json result = engine::program_diff(old.get(), neu.program.get(), runs);
    if (!args.journey.empty()) {
      json kept = json::array();
      for (auto& j : result["journeys"]) {
        if (j["journey"] == args.journey) kept.push_back(std::move(j));
      }
      if (kept.empty()) {
        std::cerr << "journey diff: no journey named `" << args.journey << "` on either side\n";
        return kExitUsage;
      }
      result["changed"] = kept[0]["change"] == "unchanged" ? 0 : 1;
      result["journeys"] = std::move(kept);
    }
    if (args.format == "json") {
      std::cout << result.dump(2) << "\n";
    } else {
      std::cout << engine::diff_text(result);
    }
    return result["changed"].get<std::size_t>() == 0 ? kExitOk : kExitFindings;
  } catch (const Failed&) {
    return kExitUsage;
  } catch (const json::exception& e) {
    std::cerr << "journey diff: the daemon's answer is not what this build expects: " << e.what()
              << "\n";
    return kExitUsage;
  }
}

}  // namespace

void add_diff(CLI::App& app, Run& run) {
  auto args = std::make_shared<DiffArgs>();
  auto* sub = app.add_subcommand(
      "diff",
      "Compare two versions of journeys step by step, and what a reload does to the runs "
      "inside them");
  sub->add_option("paths", args->paths, "OLD NEW (files or folders); with --from-daemon, NEW")
      ->required();
  sub->add_option("--journey", args->journey, "Only this journey");
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  auto* daemon =
      sub->add_option("--from-daemon", args->daemon,
                      "The old side is the live version in this daemon (http://HOST:PORT)"
                      ", with its runs in flight");
  sub->add_option("--token", args->token, "Bearer token for the daemon (read scope)")
      ->needs(daemon);
  sub->add_option("--version", args->version,
                  "With --from-daemon and --journey: this deployed version instead of the live one")
      ->needs(daemon);
  auto* events = sub->add_option("--events", args->events,
                                 "Count the runs in flight that OLD leaves after these events "
                                 "(Segment NDJSON)")
                     ->excludes(daemon);
  sub->add_option("--profiles", args->profiles, "With --events: NDJSON starting profiles")
      ->needs(events);
  sub->add_option("--until", args->until,
                  "With --events: fire timers up to this time (default: the last event's)")
      ->needs(events);
  sub->add_option("--model", args->model,
                  "Purchase model (journey model fit --out) that the journeys' p_alive(), "
                  "expected_orders() and predicted_value() read when --events runs them");
  sub->callback([&run, args] { run = [args] { return diff(*args); }; });
}

}  // namespace journey::cli
