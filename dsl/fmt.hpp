// `journey fmt`: the one canonical layout of a journey file, and tree comparison for its tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dsl/ast.hpp"
#include "dsl/diagnostic.hpp"
#include "dsl/print.hpp"
#include "dsl/source.hpp"

namespace journey::dsl {

/// The canonical text of a file that parsed without errors: 2-space indent, one statement per
/// line, header clauses in the order title, entry, reentry, exit, goal, quiet hours, cap, on
/// update, then a blank line and the steps; one blank line between declarations; a blank line
/// between steps is kept. Comments stay where they were: a comment on its own line stays above the
/// node it precedes, a comment at the end of a line stays at the end of that line. Durations are
/// written in d, h, m, s (`2w` becomes `14d`, `90m` becomes `1h30m`).
std::string format(const SourceFile& file, const Module& module);

/// The canonical text of a whole file, or why it is not formatted.
struct Formatted {
  std::optional<std::string> text;   // absent when `problems` is not empty
  std::vector<Diagnostic> problems;  // syntax errors, or a once-only header clause written twice
                                     // (E117: formatting would keep only one of them)
};

/// Parses `file` and formats it, unless it has syntax errors or a repeated header clause.
Formatted format_source(const SourceFile& file);

/// True when two modules are the same tree, ignoring spans; comments are compared by their text
/// (without trailing blanks) in any order, since header clauses move with their comments.
bool same_tree(const Module& a, const Module& b);

}  // namespace journey::dsl
