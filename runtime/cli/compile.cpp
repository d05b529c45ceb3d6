// `journey compile`: not built yet.
#include "runtime/cli/command.hpp"

namespace journey::cli {

void add_compile(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("compile", "(not built yet)");
  sub->callback([&run] { run = [] { return kExitUsage; }; });
}

}  // namespace journey::cli
