// The language's canonical printers of expressions and literals, apart from the file formatter
// (fmt.hpp) so that the engine's traces and IR can use them without it. Defined in fmt.cpp,
// whose layout shares their helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dsl/ast.hpp"

namespace journey::dsl {

/// The canonical source text of an expression, with the fewest parentheses that keep its meaning.
/// Shared by `journey fmt`, the compiler's IR and version hash, graphs and messages.
std::string expr_text(const Expr& expr);

/// A duration in seconds as the language writes it: "1d12h", "30m", "0s".
std::string duration_text(std::int64_t seconds);

/// Seconds since midnight as HH:MM.
std::string time_of_day_text(std::int64_t seconds);

/// A binary operator as written: "and", "==", "+".
const char* op_text(BinaryOp op);

/// A string literal: in double quotes, with `"`, `\`, line breaks, tabs and control characters
/// escaped.
std::string string_text(std::string_view text);

/// An event name as a script writes it: bare when it can be, else as a string.
std::string event_name_text(const std::string& name);

}  // namespace journey::dsl
