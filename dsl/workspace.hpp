// Loading a set of journey files (or directories) together, and checking them as one program.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.hpp"
#include "dsl/diagnostic.hpp"
#include "dsl/source.hpp"

namespace journey::dsl {

/// One property of an event in a tracking plan, with its JSON type
/// ("string", "number", "boolean", "object", "array").
struct PlanProperty {
  std::string name;
  std::string type;
};

/// A tracking plan: the events a business sends and their properties (`--plan FILE`).
struct TrackingPlan {
  std::map<std::string, std::vector<PlanProperty>> events;
  /// Customer attributes by path after `customer.` (dot-joined) -> type: "string", "number",
  /// "boolean", "object", "array", "date" or "timestamp".
  std::map<std::string, std::string> customer;
};

/// What the checks know of the purchase model that `p_alive()`, `expected_orders(D)` and
/// `predicted_value(D)` read (`--model FILE`, `[model] file` in journey.toml).
struct ModelFacts {
  bool spend = false;  // it has Gamma-Gamma (fitted with `--value`): predicted_value() works
};

/// What the checks may know beyond the scripts themselves.
struct CheckOptions {
  std::vector<std::string> channels;  // allowed channels; empty means any
  std::vector<std::string> topics;    // declared subscription topics; empty means any (else W104)
  std::optional<TrackingPlan> plan;   // when given, unknown events and properties are reported
  std::optional<ModelFacts> model;    // without one, the predictive functions are errors (E119)
};

/// One parsed file.
struct LoadedFile {
  std::unique_ptr<SourceFile> source;  // stable address: diagnostics and notes refer to it
  Module module;
};

/// Every file loaded together, with all diagnostics (syntax and semantic) in file order.
struct Workspace {
  std::vector<LoadedFile> files;
  std::vector<Diagnostic> diagnostics;

  bool has_errors() const;
  const SourceFile* find_file(const std::string& path) const;
};

/// One file's text parsed, apart from a workspace: the file and its syntax diagnostics (capped at
/// kMaxDiagnosticsPerFile, each naming the file).
struct ParsedFile {
  LoadedFile file;
  std::vector<Diagnostic> syntax;
};

/// Parses one file's text (already read).
ParsedFile parse_source(std::string path, std::string text);

/// Adds one file's text (already read) to the workspace and parses it.
void add_source(Workspace& ws, std::string path, std::string text);

/// Adds files and directories (recursively, `*.journey`, sorted by path). A path that cannot be
/// read yields an error diagnostic with code E000 and the path as file.
void add_paths(Workspace& ws, const std::vector<std::string>& paths);

/// Runs every semantic check over the whole workspace, appending to ws.diagnostics.
void check(Workspace& ws, const CheckOptions& options);

}  // namespace journey::dsl
