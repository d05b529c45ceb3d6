// `journey compile PATH... --emit ir`: print the compiled state machines as JSON.
#include <iostream>
#include <memory>

#include "engine/program.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"

namespace journey::cli {
namespace {

struct CompileArgs {
  std::vector<std::string> paths;
  std::string emit = "ir";
  std::string journey;
};

int compile(const CompileArgs& args) {
  const Loaded loaded = load_program(args.paths, kAnyModel);
  if (!loaded.program) return loaded.exit_code;
  const auto selected = select_journeys(*loaded.program, args.journey, "compile");
  if (selected.empty()) return kExitUsage;
  nlohmann::json out;
  out["journeys"] = nlohmann::json::array();
  for (const auto* journey : selected) out["journeys"].push_back(engine::ir_json(*journey));
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return kExitOk;
}

}  // namespace

void add_compile(CLI::App& app, Run& run) {
  auto args = std::make_shared<CompileArgs>();
  auto* sub = app.add_subcommand("compile", "Compile journeys and print the compiled form");
  sub->add_option("paths", args->paths, "Journey files or folders")->required();
  sub->add_option("--emit", args->emit, "What to print: ir (the state machines as JSON)")
      ->check(CLI::IsMember({"ir"}));
  sub->add_option("--journey", args->journey, "Only this journey");
  sub->callback([&run, args] { run = [args] { return compile(*args); }; });
}

}  // namespace journey::cli
