// `journey serve`: not built yet.
#include "runtime/cli/command.hpp"

namespace journey::cli {

void add_serve(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("serve", "(not built yet)");
  sub->callback([&run] { run = [] { return kExitUsage; }; });
}

}  // namespace journey::cli
