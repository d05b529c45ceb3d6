// The `journey` subcommands. Each file in runtime/cli/ adds one subcommand to the app; its
// callback stores the function that main() runs after parsing, which returns the exit code.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace journey::cli {

/// Set by the chosen subcommand's callback; main() calls it after parsing.
using Run = std::function<int()>;

/// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings =
    1;                                // lint errors, fmt --check changes, bad input with --strict
inline constexpr int kExitUsage = 2;  // usage or I/O error

void add_lint(CLI::App& app, Run& run);
void add_fmt(CLI::App& app, Run& run);
void add_compile(CLI::App& app, Run& run);
void add_graph(CLI::App& app, Run& run);
void add_diff(CLI::App& app, Run& run);
void add_simulate(CLI::App& app, Run& run);
void add_explain(CLI::App& app, Run& run);
void add_serve(CLI::App& app, Run& run);
void add_model(CLI::App& app, Run& run);
void add_cluster(CLI::App& app, Run& run);
void add_lsp(CLI::App& app, Run& run);

}  // namespace journey::cli
