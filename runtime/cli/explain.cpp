// `journey explain PATH... --events FILE --customer ID`: why did (or didn't) this customer get
// that message: the customer's trace through every journey (or one).
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.hpp"
#include "engine/program.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"
#include "runtime/sim/simulate.hpp"

namespace journey::cli {
namespace {

struct ExplainArgs {
  std::vector<std::string> paths;
  std::string events;
  std::string profiles;
  std::string customer;
  std::string journey;
  std::string until;
  std::string default_zone = "UTC";
  std::string consent = "required";
  std::string model;
  engine::IdentityConfig identity;
  ProgramFlags program;
};

int explain(const ExplainArgs& args) {
  std::optional<engine::Millis> until;
  if (!args.until.empty()) {
    until = engine::parse_timestamp(args.until);
    if (!until) {
      std::cerr << "journey explain: --until: unparsable timestamp \"" << args.until << "\"\n";
      return kExitUsage;
    }
  }
  auto model = load_model_flag(args.model, "explain");
  if (model.exit_code != kExitOk) return model.exit_code;
  const Loaded compiled = load_program(args.paths, engine::model_facts(model.model));
  if (!compiled.program) return compiled.exit_code;
  std::optional<std::string> journey;
  if (!args.journey.empty()) {
    if (select_journeys(*compiled.program, args.journey, "explain").empty()) return kExitUsage;
    journey = args.journey;
  }
  engine::EngineConfig config;
  config.default_zone = args.default_zone;
  config.consent_assumed = args.consent == "assumed";
  config.model = std::move(model.model);
  if (!read_program_flags(args.program, config.program, "explain")) return kExitUsage;
  engine::Engine engine(config);
  engine.deploy(compiled.program);
  // Only the customer's own lines are run; other customers cannot affect them.
  runtime::SimulateOptions options;
  options.events = args.events;
  options.profiles = args.profiles;
  options.identity = args.identity;
  options.until = until;
  options.trace_customer = args.customer;
  options.only_customer = args.customer;
  options.threads = std::max(1U, std::thread::hardware_concurrency());
  options.actions = false;
  const auto result = runtime::simulate(engine, options, {}, std::cerr);
  if (!result.ok) return kExitUsage;
  if (result.skipped > 0) std::cerr << result.skipped << " input lines skipped\n";
  if (result.customers == 0) {
    std::cerr << "journey explain: customer `" << args.customer << "` has no events in "
              << args.events << "\n";
  }
  std::cout << runtime::render_trace(result.trace, journey);
  std::cout.flush();
  return kExitOk;
}

}  // namespace

void add_explain(CLI::App& app, Run& run) {
  auto args = std::make_shared<ExplainArgs>();
  auto* sub =
      app.add_subcommand("explain", "Why did (or didn't) a customer get a message: their trace");
  sub->add_option("paths", args->paths, "Journey files or folders")->required();
  sub->add_option("--events", args->events, "Segment NDJSON events")->required();
  sub->add_option("--customer", args->customer,
                  "The customer id (any id linked to the customer: its trace shows the merges)")
      ->required();
  sub->add_option("--journey", args->journey, "Only this journey's lines");
  sub->add_option("--profiles", args->profiles, "NDJSON starting profiles");
  sub->add_option("--until", args->until, "Fire timers up to this time (ISO-8601)");
  sub->add_option("--default-zone", args->default_zone,
                  "IANA zone for customers without customer.timezone");
  sub->add_option("--consent", args->consent, "Consent policy")
      ->check(CLI::IsMember({"required", "assumed"}));
  sub->add_option("--model", args->model,
                  "Purchase model (journey model fit --out) for p_alive(), expected_orders(), "
                  "predicted_value()");
  add_identity_flags(*sub, args->identity);
  add_program_flags(*sub, args->program);
  sub->callback([&run, args] { run = [args] { return explain(*args); }; });
}

}  // namespace journey::cli
