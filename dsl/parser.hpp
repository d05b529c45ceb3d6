// Text to AST. The grammar lives in grammar.hpp; this is the entry point.
#pragma once

#include <vector>

#include "dsl/ast.hpp"
#include "dsl/diagnostic.hpp"
#include "dsl/source.hpp"

namespace journey::dsl {

/// The AST of one file and the syntax errors found in it. On errors the parser recovers at the
/// next statement or declaration and keeps going; `module` holds whatever parsed.
struct ParseResult {
  Module module;
  std::vector<Diagnostic> diagnostics;
};

/// Parses one file. Never throws on bad input; deep nesting is a diagnostic, not a crash.
ParseResult parse(const SourceFile& file);

}  // namespace journey::dsl
