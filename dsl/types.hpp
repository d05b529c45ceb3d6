// Static types of expressions, as far as they are known when linting, and the rules that say
// which operators accept which types. Used by the checks to report type mismatches (E108, E116).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dsl/ast.hpp"

namespace journey::dsl {

/// What a lint can know about a value's type. `Unknown` accepts everything (customer.* and
/// event.* without a tracking plan).
enum class Type : std::uint8_t { Unknown, Number, String, Bool, Duration, Timestamp, List, None };

/// "a number", "a duration", ... for messages.
std::string_view describe(Type type);

/// The type of a tracking-plan property type name ("number", "string", "boolean", "array",
/// "object"); Unknown for "object" and anything else.
Type plan_type(std::string_view json_type);

/// The outcome of applying an operator: the result type, or a message when the operand types
/// cannot go together (the result is then Unknown, so one mistake is reported once).
struct TypeRule {
  Type result = Type::Unknown;
  std::string error;  // empty when the operands fit
};

/// `lhs OP rhs`.
TypeRule binary_type(BinaryOp op, Type lhs, Type rhs);
/// `not x`.
TypeRule not_type(Type operand);
/// `-x`.
TypeRule negate_type(Type operand);
/// A value used as a condition (if, where, entry when, segment...): it must be a bool.
TypeRule condition_type(Type value);

}  // namespace journey::dsl
