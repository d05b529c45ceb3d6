// `journey explain`: not built yet.
#include "runtime/cli/command.hpp"

namespace journey::cli {

void add_explain(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("explain", "(not built yet)");
  sub->callback([&run] { run = [] { return kExitUsage; }; });
}

}  // namespace journey::cli
