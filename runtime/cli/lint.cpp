// `journey lint`: not built yet.
#include "runtime/cli/command.hpp"

namespace journey::cli {

void add_lint(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("lint", "(not built yet)");
  sub->callback([&run] { run = [] { return kExitUsage; }; });
}

}  // namespace journey::cli
