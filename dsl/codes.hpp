// Every diagnostic code, with its title and the text `journey lint --explain CODE` prints.
// Codes are stable: never reuse or renumber one. Each has a golden test in tests/golden/lint/.
//
// Syntax (parser)
//   E001 syntax error: something else was expected here
//   E002 unterminated string
//   E003 invalid escape in a string
//   E004 nesting too deep
//   E005 invalid literal (duration unit, time of day out of range, bad percent)
//   E006 a keyword used as a name
//   E007 header clause after the first step
// Semantic (checks)
//   E100 journey has no entry clause
//   E101 undefined label
//   E102 duplicate label
//   E103 duplicate journey or segment name
//   E104 unknown segment
//   E105 segment cycle
//   E106 split percentages do not sum to 100
//   E107 loop with no wait
//   E108 type mismatch
//   E109 `wait up to` with no `on` branch
//   E110 impossible value (cap 0, quiet hours with equal ends, zero duration where one is needed)
//   E111 `event.` with no event in scope
//   E112 `trigger.` in a journey without an event entry
//   E113 unknown channel (a channel list is configured)
//   E114 unknown event (a tracking plan is given)
//   E115 unknown event property (a tracking plan is given)
//   E116 event property type mismatch (a tracking plan is given)
//   E117 header clause repeated
//   E118 duplicate name in a journey (goal, split variant)
//   E119 a predictive function (p_alive, expected_orders, predicted_value) without a model
//   E120 a calendar clause's attribute is not a date (a tracking plan is given)
//   W101 unreachable step
//   W102 a calendar offset longer than a year
// Input
//   E000 a file or folder that cannot be read
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace journey::dsl {

/// A diagnostic code's documentation.
struct CodeInfo {
  std::string_view code;
  std::string_view title;
  std::string_view explanation;  // several lines: what it means, an example, how to fix it
};

/// Every code, in code order.
const std::vector<CodeInfo>& all_codes();

/// The documentation of one code (case-insensitive), or nothing.
std::optional<CodeInfo> find_code(std::string_view code);

}  // namespace journey::dsl
