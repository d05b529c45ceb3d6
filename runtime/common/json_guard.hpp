// Limits on untrusted JSON text, checked before it is parsed: nesting depth (every later
// recursive walk — nlohmann's dump(), the engine's traces, the state encoding — is then bounded)
// and numbers too large for a double (which nlohmann refuses with an out_of_range exception).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace journey::runtime {

/// Where a JSON text breaks a limit: a JSON path ("$.properties.a[0]") and a message.
struct JsonLimitError {
  std::string path;
  std::string message;
};

/// Whether a JSON number's text is too large for a double (1e999; an underflow such as 1e-999
/// reads as 0 and is not). Only the longest prefix that is a number counts.
bool beyond_double(std::string_view number);

/// The first place where `text` nests arrays and objects deeper than `max_depth` (the top-level
/// value is depth 1) or holds a number outside the range of a double. Malformed text is not
/// reported here (the parser says where it is malformed); the scan stops at the first problem.
std::optional<JsonLimitError> check_json_limits(std::string_view text, std::size_t max_depth);

}  // namespace journey::runtime
