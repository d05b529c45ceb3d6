// What the parser tests share: parsing a text, the one journey of an error-free text, and a
// text as `journey fmt` prints it.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "dsl/fmt.hpp"
#include "dsl/parser.hpp"

namespace journey::test {

/// Parses a text as the file `t.journey`.
inline dsl::ParseResult parse_text(const std::string& text) {
  return dsl::parse(dsl::SourceFile("t.journey", text));
}

/// Parses one journey and requires it to be free of errors.
inline dsl::Journey one_journey(const std::string& text) {
  const dsl::ParseResult r = parse_text(text);
  INFO(text);
  for (const auto& d : r.diagnostics) INFO(d.code + ": " + d.message);
  REQUIRE(r.diagnostics.empty());
  REQUIRE(r.module.journeys.size() == 1);
  return r.module.journeys[0];
}

/// The text in `journey fmt`'s canonical layout; requires it to be free of errors.
inline std::string formatted(const std::string& text) {
  const dsl::SourceFile file("t.journey", text);
  const dsl::ParseResult r = dsl::parse(file);
  REQUIRE(r.diagnostics.empty());
  return dsl::format(file, r.module);
}

}  // namespace journey::test
