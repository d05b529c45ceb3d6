// `journey simulate PATH... --events FILE`: dry-run journeys over an event history in virtual
// time and print the actions (or the funnel report, or a customer trace).
#include "runtime/sim/simulate.hpp"

#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/engine.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"
#include "runtime/common/config.hpp"

namespace journey::cli {
namespace {

constexpr std::size_t kFlushBytes = std::size_t{1} << 20;

struct SimulateArgs {
  std::vector<std::string> paths;
  std::string events;
  std::string profiles;
  std::string until;
  bool report = false;
  std::string report_html;
  std::string actions;
  std::string trace;
  bool strict = false;
  std::string default_zone = "UTC";
  std::string consent = "required";
  unsigned threads = 0;  // 0: one per core
  std::vector<std::string> caps;
  std::string model;
  engine::IdentityConfig identity;
  ProgramFlags program;
  std::string calendar;
};

// `CHANNEL=N/DURATION` (channel `*` for all channels) into the config's engine-wide caps.
bool add_cap(const std::string& spec, engine::EngineConfig& config) {
  const auto eq = spec.find('=');
  const auto slash = spec.find('/', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || eq == 0 || slash == std::string::npos) return false;
  const std::string count = spec.substr(eq + 1, slash - eq - 1);
  if (count.empty() || count.size() > 9 ||
      count.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto per = runtime::parse_duration_ms(spec.substr(slash + 1));
  if (!per || *per <= 0) return false;
  config.channel_caps[spec.substr(0, eq)] = {std::stoll(count), *per};
  return true;
}

// What the run covered, for the HTML report's title: the journey paths and the events file.
std::string describe_paths(const SimulateArgs& args) {
  std::string out;
  for (const auto& path : args.paths) out += (out.empty() ? "" : ", ") + path;
  return out + " over " + args.events;
}

int simulate(const SimulateArgs& args) {
  std::optional<engine::Millis> until;
  if (!args.until.empty()) {
    until = engine::parse_timestamp(args.until);
    if (!until) {
      std::cerr << "journey simulate: --until: unparsable timestamp \"" << args.until
                << "\" (expected ISO-8601 such as 2026-01-31T00:00:00Z)\n";
      return kExitUsage;
    }
  }
  engine::EngineConfig config;
  config.default_zone = args.default_zone;
  config.consent_assumed = args.consent == "assumed";
  for (const auto& cap : args.caps) {
    if (!add_cap(cap, config)) {
      std::cerr << "journey simulate: --cap: expected CHANNEL=N/DURATION (e.g. email=3/7d, "
                   "*=5/1d), got \""
                << cap << "\"\n";
      return kExitUsage;
    }
  }
  if (!read_program_flags(args.program, config.program, "simulate")) return kExitUsage;
  auto model = load_model_flag(args.model, "simulate");
  if (model.exit_code != kExitOk) return model.exit_code;
  config.model = std::move(model.model);
  if (!args.calendar.empty()) {
    try {
      config.holidays = runtime::load_holidays(args.calendar);
    } catch (const runtime::ConfigError& e) {
      std::cerr << "journey simulate: --calendar: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  const Loaded compiled = load_program(args.paths, engine::model_facts(config.model));
  if (!compiled.program) return compiled.exit_code;
  engine::Engine engine(config);
  engine.deploy(compiled.program);

  std::ofstream actions_file;
  if (!args.actions.empty()) {
    actions_file.open(args.actions, std::ios::binary);
    if (!actions_file) {
      std::cerr << "journey simulate: cannot write " << args.actions << "\n";
      return kExitUsage;
    }
  }
  runtime::SimulateOptions options;
  options.events = args.events;
  options.profiles = args.profiles;
  options.identity = args.identity;
  options.until = until;
  if (!args.trace.empty()) options.trace_customer = args.trace;
  options.strict = args.strict;
  options.threads =
      args.threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : args.threads;
  options.report = args.report || !args.report_html.empty();
  options.actions = !args.report || actions_file.is_open();
  // Actions go to stdout (unless --report) and to the --actions file, through one buffer each.
  std::string to_stdout;
  std::string to_file;
  const auto flush = [&](bool all) {
    if (to_stdout.size() >= (all ? 1 : kFlushBytes)) {
      std::cout.write(to_stdout.data(), static_cast<std::streamsize>(to_stdout.size()));
      to_stdout.clear();
    }
    if (to_file.size() >= (all ? 1 : kFlushBytes)) {
      actions_file.write(to_file.data(), static_cast<std::streamsize>(to_file.size()));
      to_file.clear();
    }
  };
  const auto result = runtime::simulate(
      engine, options,
      [&](std::string_view line) {
        if (!args.report) to_stdout.append(line).push_back('\n');
        if (actions_file.is_open()) to_file.append(line).push_back('\n');
        flush(false);
      },
      std::cerr);
  flush(true);
  if (!result.ok) return args.strict ? kExitFindings : kExitUsage;
  if (result.skipped > 0) std::cerr << result.skipped << " input lines skipped\n";
  if (options.trace_customer) std::cerr << runtime::render_trace(result.trace, std::nullopt);
  for (const auto& r : result.errors) {
    std::cerr << engine::format_timestamp(r.at) << ": customer " << r.customer_id
              << (r.journey.empty() ? "" : ", journey " + r.journey) << ": error: " << r.detail
              << "\n";
  }
  if (actions_file.is_open()) {
    actions_file.close();
    if (!actions_file) {
      std::cerr << "journey simulate: cannot write " << args.actions << "\n";
      return kExitUsage;
    }
  }
  if (!args.report_html.empty()) {
    std::ofstream html(args.report_html, std::ios::binary);
    html << result.report.render_html(*compiled.program, "Dry run of " + describe_paths(args));
    html.close();
    if (!html) {
      std::cerr << "journey simulate: cannot write " << args.report_html << "\n";
      return kExitUsage;
    }
  }
  if (args.report) {
    std::cout << result.report.render(*compiled.program);
    if (result.merges + result.merges_refused > 0) {
      std::cout << "identity: " << result.merges << " merged into another id, "
                << result.merges_refused << " refused (more than " << options.identity.max_ids
                << " ids per customer)\n";
    }
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace

void add_simulate(CLI::App& app, Run& run) {
  auto args = std::make_shared<SimulateArgs>();
  auto* sub =
      app.add_subcommand("simulate", "Dry-run journeys over an event history in virtual time");
  sub->add_option("paths", args->paths, "Journey files or folders")->required();
  sub->add_option("--events", args->events,
                  "Segment NDJSON events (track, identify, page, alias; by userId or anonymousId)")
      ->required();
  sub->add_option("--profiles", args->profiles,
                  "NDJSON starting profiles {\"userId\":..,\"traits\":{..}}");
  sub->add_option("--until", args->until, "Fire timers up to this time (ISO-8601)");
  sub->add_flag("--report", args->report, "Print the funnel report instead of the actions");
  sub->add_option("--report-html", args->report_html,
                  "Also write the report as one self-contained HTML page (each journey's canvas "
                  "with its counts, and its goals per variant as charts) to this file");
  sub->add_option("--actions", args->actions, "Also write the actions to this file");
  sub->add_option("--trace", args->trace, "Write this customer's trace to stderr");
  sub->add_flag("--strict", args->strict, "Stop at the first malformed input line");
  sub->add_option("--default-zone", args->default_zone,
                  "IANA zone for customers without customer.timezone");
  sub->add_option("--consent", args->consent, "Consent policy")
      ->check(CLI::IsMember({"required", "assumed"}));
  sub->add_option("--cap", args->caps,
                  "Engine-wide cap CHANNEL=N/DURATION (channel * for all); may repeat");
  sub->add_option("--model", args->model,
                  "Purchase model (journey model fit --out) for p_alive(), expected_orders(), "
                  "predicted_value()");
  sub->add_option("--calendar", args->calendar,
                  "Holiday calendar (one date YYYY-MM-DD a line) for `send window ... except "
                  "holidays` and is_holiday()");
  sub->add_option("--threads", args->threads,
                  "Threads to read and run on (default: one per core; same output)")
      ->check(CLI::Range(1U, 64U));
  add_identity_flags(*sub, args->identity);
  add_program_flags(*sub, args->program);
  sub->callback([&run, args] { run = [args] { return simulate(*args); }; });
}

}  // namespace journey::cli
