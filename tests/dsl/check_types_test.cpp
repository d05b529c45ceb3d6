// The static type rules behind E108 / E116.
#include <catch2/catch.hpp>

#include "dsl/types.hpp"

using namespace journey::dsl;

TEST_CASE("arithmetic on numbers, durations and timestamps", "[check][types]") {
  CHECK(binary_type(BinaryOp::Add, Type::Number, Type::Number).result == Type::Number);
  CHECK(binary_type(BinaryOp::Add, Type::Duration, Type::Duration).result == Type::Duration);
  CHECK(binary_type(BinaryOp::Add, Type::Timestamp, Type::Duration).result == Type::Timestamp);
  CHECK(binary_type(BinaryOp::Sub, Type::Timestamp, Type::Timestamp).result == Type::Duration);
  CHECK(binary_type(BinaryOp::Mul, Type::Number, Type::Duration).result == Type::Duration);
  CHECK(binary_type(BinaryOp::Div, Type::Duration, Type::Duration).result == Type::Number);
  CHECK(binary_type(BinaryOp::Add, Type::Unknown, Type::Number).error.empty());
  CHECK(binary_type(BinaryOp::Add, Type::Unknown, Type::Number).result == Type::Unknown);
}

TEST_CASE("arithmetic on strings, bools, lists and none is an error", "[check][types]") {
  CHECK(binary_type(BinaryOp::Add, Type::String, Type::String).error ==
        "cannot apply `+` to a string and a string");
  CHECK_FALSE(binary_type(BinaryOp::Mul, Type::Bool, Type::Number).error.empty());
  CHECK_FALSE(binary_type(BinaryOp::Sub, Type::Unknown, Type::List).error.empty());
  CHECK_FALSE(binary_type(BinaryOp::Add, Type::None, Type::Number).error.empty());
  CHECK_FALSE(binary_type(BinaryOp::Add, Type::Number, Type::Duration).error.empty());
  CHECK_FALSE(binary_type(BinaryOp::Div, Type::Number, Type::Duration).error.empty());
}

TEST_CASE("comparisons need like types, none compares with anything", "[check][types]") {
  CHECK(binary_type(BinaryOp::Gt, Type::Duration, Type::Number).error ==
        "cannot compare a duration with a number");
  CHECK(binary_type(BinaryOp::Eq, Type::String, Type::String).error.empty());
  CHECK(binary_type(BinaryOp::Eq, Type::String, Type::None).error.empty());
  CHECK(binary_type(BinaryOp::Ne, Type::Unknown, Type::Bool).error.empty());
  CHECK(binary_type(BinaryOp::Lt, Type::Bool, Type::Bool).error == "`<` cannot order a bool");
  CHECK(binary_type(BinaryOp::Lt, Type::Timestamp, Type::Timestamp).error.empty());
  CHECK(binary_type(BinaryOp::Eq, Type::Number, Type::Number).result == Type::Bool);
}

TEST_CASE("logic and membership", "[check][types]") {
  CHECK(binary_type(BinaryOp::And, Type::Bool, Type::Unknown).error.empty());
  CHECK(binary_type(BinaryOp::Or, Type::Bool, Type::Number).error ==
        "`or` needs bool operands, found a number");
  CHECK(binary_type(BinaryOp::In, Type::String, Type::List).error.empty());
  CHECK(binary_type(BinaryOp::In, Type::String, Type::String).error ==
        "`in` needs a list on the right, found a string");
  CHECK(not_type(Type::Bool).error.empty());
  CHECK(not_type(Type::Unknown).error.empty());
  CHECK(not_type(Type::Number).error == "`not` needs a bool, found a number");
  CHECK(negate_type(Type::Duration).result == Type::Duration);
  CHECK_FALSE(negate_type(Type::String).error.empty());
  CHECK(condition_type(Type::Bool).error.empty());
  CHECK(condition_type(Type::Number).error == "a condition must be a bool, found a number");
}

TEST_CASE("tracking plan type names", "[check][types]") {
  CHECK(plan_type("number") == Type::Number);
  CHECK(plan_type("integer") == Type::Number);
  CHECK(plan_type("string") == Type::String);
  CHECK(plan_type("boolean") == Type::Bool);
  CHECK(plan_type("array") == Type::List);
  CHECK(plan_type("object") == Type::Unknown);
}
