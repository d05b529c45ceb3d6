// `journey graph`: not built yet.
#include "runtime/cli/command.hpp"

namespace journey::cli {

void add_graph(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("graph", "(not built yet)");
  sub->callback([&run] { run = [] { return kExitUsage; }; });
}

}  // namespace journey::cli
