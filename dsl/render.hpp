// Rendering diagnostics for people (text with source line and caret) and for tools (JSON,
// SARIF 2.1.0). Rendering is a pure function of the workspace: same input, same bytes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dsl/diagnostic.hpp"
#include "dsl/workspace.hpp"

namespace journey::dsl {

/// How many errors and warnings a list holds.
struct Tally {
  std::size_t errors = 0;
  std::size_t warnings = 0;
};

Tally tally(const std::vector<Diagnostic>& diagnostics);

/// `path:line:col: error[E104]: message`, the source line, a caret line, notes and help, one
/// blank line between diagnostics, then a summary line (`2 errors, 1 warning`) when there are
/// findings. ANSI colours only when `color` is set.
std::string render_text(const Workspace& ws, bool color);

/// One JSON document: {"diagnostics":[...], "errors":N, "warnings":N}.
std::string render_json(const Workspace& ws);

/// A SARIF 2.1.0 log with one run of the tool "journey".
std::string render_sarif(const Workspace& ws);

/// The caret line for `span` on its first line: spaces up to the start (tabs and wide
/// characters counted as displayed), `^` under the first character, `~` under the rest of the
/// span on that line. `display` receives the source line as it is shown (tabs expanded).
std::string caret_line(const SourceFile& file, Span span, std::string& display);

}  // namespace journey::dsl
