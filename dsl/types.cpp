#include "dsl/types.hpp"

#include "dsl/fmt.hpp"

namespace journey::dsl {

namespace {

bool known(Type t) {
  return t != Type::Unknown;
}

/// Types on which no arithmetic is defined.
bool non_arithmetic(Type t) {
  return t == Type::String || t == Type::Bool || t == Type::List || t == Type::None;
}

/// The result of arithmetic on two known types, or Unknown when it is not defined.
Type arithmetic(BinaryOp op, Type l, Type r) {
  using T = Type;
  switch (op) {
    case BinaryOp::Add:
      if (l == T::Number && r == T::Number) return T::Number;
      if (l == T::Duration && r == T::Duration) return T::Duration;
      if ((l == T::Timestamp && r == T::Duration) || (l == T::Duration && r == T::Timestamp)) {
        return T::Timestamp;
      }
      return T::Unknown;
    case BinaryOp::Sub:
      if (l == T::Number && r == T::Number) return T::Number;
      if (l == T::Duration && r == T::Duration) return T::Duration;
      if (l == T::Timestamp && r == T::Duration) return T::Timestamp;
      if (l == T::Timestamp && r == T::Timestamp) return T::Duration;
      return T::Unknown;
    case BinaryOp::Mul:
      if (l == T::Number && r == T::Number) return T::Number;
      if ((l == T::Duration && r == T::Number) || (l == T::Number && r == T::Duration)) {
        return T::Duration;
      }
      return T::Unknown;
    case BinaryOp::Div:
      if (l == T::Number && r == T::Number) return T::Number;
      if (l == T::Duration && r == T::Number) return T::Duration;
      if (l == T::Duration && r == T::Duration) return T::Number;
      return T::Unknown;
    default: return T::Unknown;
  }
}

std::string quoted(BinaryOp op) {
  return "`" + std::string(op_text(op)) + "`";
}

}  // namespace

std::string_view describe(Type type) {
  switch (type) {
    case Type::Unknown: return "a value of unknown type";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Bool: return "a bool";
    case Type::Duration: return "a duration";
    case Type::Timestamp: return "a timestamp";
    case Type::List: return "a list";
    case Type::None: return "none";
  }
  return "a value";
}

Type plan_type(std::string_view json_type) {
  if (json_type == "number" || json_type == "integer") return Type::Number;
  if (json_type == "string") return Type::String;
  if (json_type == "boolean") return Type::Bool;
  if (json_type == "array") return Type::List;
  return Type::Unknown;
}

TypeRule binary_type(BinaryOp op, Type l, Type r) {
  TypeRule rule;
  switch (op) {
    case BinaryOp::Or:
    case BinaryOp::And:
      rule.result = Type::Bool;
      for (Type t : {l, r}) {
        if (known(t) && t != Type::Bool) {
          rule.error = quoted(op) + " needs bool operands, found " + std::string(describe(t));
          break;
        }
      }
      return rule;
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge: {
      rule.result = Type::Bool;
      if (known(l) && known(r) && l != Type::None && r != Type::None && l != r) {
        rule.error =
            "cannot compare " + std::string(describe(l)) + " with " + std::string(describe(r));
        return rule;
      }
      const bool ordering = op != BinaryOp::Eq && op != BinaryOp::Ne;
      if (ordering) {
        for (Type t : {l, r}) {
          if (t == Type::Bool || t == Type::List) {
            rule.error = quoted(op) + " cannot order " + std::string(describe(t));
            break;
          }
        }
      }
      return rule;
    }
    case BinaryOp::In:
      rule.result = Type::Bool;
      if (known(r) && r != Type::List) {
        rule.error = "`in` needs a list on the right, found " + std::string(describe(r));
      }
      return rule;
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::Div: {
      const bool bad = non_arithmetic(l) || non_arithmetic(r) ||
                       (known(l) && known(r) && arithmetic(op, l, r) == Type::Unknown);
      if (bad) {
        rule.error = "cannot apply " + quoted(op) + " to " + std::string(describe(l)) + " and " +
                     std::string(describe(r));
        return rule;
      }
      rule.result = known(l) && known(r) ? arithmetic(op, l, r) : Type::Unknown;
      return rule;
    }
  }
  return rule;
}

TypeRule not_type(Type operand) {
  TypeRule rule{Type::Bool, {}};
  if (known(operand) && operand != Type::Bool) {
    rule.error = "`not` needs a bool, found " + std::string(describe(operand));
  }
  return rule;
}

TypeRule negate_type(Type operand) {
  TypeRule rule{operand, {}};
  if (known(operand) && operand != Type::Number && operand != Type::Duration) {
    rule.result = Type::Unknown;
    rule.error = "`-` needs a number or a duration, found " + std::string(describe(operand));
  }
  return rule;
}

TypeRule condition_type(Type value) {
  TypeRule rule{Type::Bool, {}};
  if (known(value) && value != Type::Bool) {
    rule.error = "a condition must be a bool, found " + std::string(describe(value));
  }
  return rule;
}

}  // namespace journey::dsl
