// Loading, checking and compiling the journeys named on a command line, for the commands that
// run or draw them (simulate, explain, compile, graph).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/engine.hpp"
#include "engine/identity.hpp"
#include "engine/program.hpp"

namespace journey::cli {

/// The compiled program, or the exit code to return (diagnostics already printed to stderr).
struct Loaded {
  std::shared_ptr<const engine::Program> program;
  int exit_code = 0;
};

/// Parses, checks and compiles `paths` (files or folders), knowing this of the purchase model (the
/// predictive functions are errors without one: engine::model_facts of the model to run with).
/// On errors prints the diagnostics to stderr as `journey lint` does, and returns exit code 1
/// (2 when a path cannot be read).
Loaded load_program(const std::vector<std::string>& paths,
                    const std::optional<dsl::ModelFacts>& model);

/// What the commands that only print journeys (compile, graph) tell the checks of the model:
/// they run nothing, so any model will do.
inline constexpr dsl::ModelFacts kAnyModel{true};

/// The purchase model of a `--model FILE` flag, or the exit code to return.
struct ModelFlag {
  std::optional<engine::PurchaseModel> model;  // nothing when no file was given
  int exit_code = 0;
};

/// Reads the model file of `--model` (nothing when `path` is empty). A file that cannot be read
/// or is not a model prints `journey COMMAND: --model: FILE: ...` (naming the JSON path of a bad
/// value) and returns kExitUsage.
ModelFlag load_model_flag(const std::string& path, const std::string& command);

/// The journeys a command works on (`--journey NAME`): every journey of `program` when `name` is
/// empty, else the one so named. Empty when there is none; then `journey COMMAND: no journey
/// named ...` is printed to stderr, and the command returns kExitUsage.
std::vector<const engine::Journey*> select_journeys(const engine::Program& program,
                                                    const std::string& name,
                                                    const std::string& command);

/// The identity flags of the commands that run customers (simulate, explain):
/// `--identity-keys KEY,...` and `--max-ids N`, into `identity`.
void add_identity_flags(CLI::App& sub, engine::IdentityConfig& identity);

/// The program flags of the commands that run customers (simulate, explain), as given.
struct ProgramFlags {
  std::string holdout;  // "5%"
  std::string salt;
  int max_active = 0;
  std::vector<std::string> topics;  // NAME=opt-in|opt-out
};

/// `--holdout SHARE`, `--holdout-salt TEXT`, `--max-active N` and `--topic NAME=opt-in|opt-out`.
void add_program_flags(CLI::App& sub, ProgramFlags& flags);

/// The flags into `rules`; false after printing `journey COMMAND: --FLAG: ...` for a bad value.
bool read_program_flags(const ProgramFlags& flags, engine::ProgramRules& rules,
                        const std::string& command);

}  // namespace journey::cli
