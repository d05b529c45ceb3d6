// A set of journey scripts checked and compiled together: what the daemon deploys.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// The outcome of checking and compiling some scripts.
// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::json's noexcept move asserts its invariant
struct JourneySet {
  Deployment deployment;                           // id (hash of the files) and the files
  std::shared_ptr<const engine::Program> program;  // null when there are errors
  nlohmann::json diagnostics;                      // {"diagnostics":[...],"errors":N,"warnings":N}
  bool ok() const { return program != nullptr; }
};

/// What the checks know of the engine: its purchase model, and the topics of `[topics]` (a send
/// naming another topic is warning W104).
dsl::CheckOptions engine_checks(const engine::EngineConfig& config);

/// Reads every `*.journey` file under `dir` (recursively, sorted by path), checks and compiles.
JourneySet load_journey_dir(const std::string& dir, const dsl::CheckOptions& options);

/// Checks and compiles files already in memory (a stored deployment) with the naming they were
/// deployed with.
JourneySet compile_files(const std::vector<std::pair<std::string, std::string>>& files,
                         const dsl::CheckOptions& options, engine::StepNaming naming);

/// The errors of a diagnostics document as `file:line:col: error[CODE]: message` lines.
std::string summarize_errors(const nlohmann::json& diagnostics);

/// Lints one posted script: the same JSON document as `journey lint --format json`.
nlohmann::json lint_script(const std::string& text, const dsl::CheckOptions& options);

}  // namespace journey::runtime
