// Diagnostics are data: parse, lint and compile return them in a list and keep going.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.hpp"

namespace journey::dsl {

enum class Severity : unsigned char { Error, Warning, Note };

/// A secondary location attached to a diagnostic ("label defined here").
struct DiagnosticNote {
  std::string file;  // path of the file the span refers to
  Span span;
  std::string message;
};

/// A replacement that fixes a finding: `text` in place of the source at `span` (same file).
/// "Did you mean" suggestions carry one, so that tools can apply them.
struct Fix {
  Span span;
  std::string text;
};

/// One finding about a script. `code` is stable (E001, W001, ...) and has an `--explain` text.
struct Diagnostic {
  Severity severity = Severity::Error;
  std::string code;
  std::string file;  // path of the SourceFile the span refers to
  Span span;
  std::string message;
  std::vector<DiagnosticNote> notes;
  std::string help;        // e.g. "did you mean `order_completed`?"; empty when none
  std::optional<Fix> fix;  // the edit that `help` proposes, when it proposes one
};

/// The number of diagnostics one file may report before the rest are dropped.
inline constexpr std::size_t kMaxDiagnosticsPerFile = 100;

}  // namespace journey::dsl
