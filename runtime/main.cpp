// journey: lint, format, compile, simulate and serve marketing journeys.
#include <iostream>

#include "runtime/cli/command.hpp"

int main(int argc, char** argv) try {
  CLI::App app{"journey: marketing journeys as code. Lint, format, draw, simulate and serve them.",
               "journey"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "journey " JOURNEY_VERSION);
  journey::cli::Run run;
  journey::cli::add_lint(app, run);
  journey::cli::add_fmt(app, run);
  journey::cli::add_compile(app, run);
  journey::cli::add_graph(app, run);
  journey::cli::add_diff(app, run);
  journey::cli::add_simulate(app, run);
  journey::cli::add_explain(app, run);
  journey::cli::add_serve(app, run);
  journey::cli::add_model(app, run);
  journey::cli::add_cluster(app, run);
  journey::cli::add_lsp(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return journey::cli::kExitUsage;
  }
  return run ? run() : journey::cli::kExitUsage;
} catch (const std::exception& e) {  // a bug: the commands report every expected failure
  std::cerr << "journey: internal error: " << e.what() << "\n";
  return journey::cli::kExitUsage;
}
