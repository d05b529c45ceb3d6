// Engine time: milliseconds since the Unix epoch, UTC. The engine never reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace journey::engine {

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
using Millis = std::int64_t;

/// Parses ISO-8601 / RFC 3339 ("2026-01-03T10:00:00Z", "...T10:00:00.250+08:00").
std::optional<Millis> parse_timestamp(std::string_view text);

/// Formats as UTC with a `Z`: "2026-01-03T10:00:00Z", with ".250" only when milliseconds are set.
std::string format_timestamp(Millis at);

}  // namespace journey::engine
