// A fast path for reading Segment event lines: one pass over the bytes that validates the whole
// line as JSON and picks out the fields the simulator needs, without building a JSON tree. It
// accepts only lines it can read exactly as engine::parse_event would (plain printable ASCII
// strings, no duplicate fields of interest, no errors); for anything else it answers nullopt and
// the caller parses the line the slow way, which also gives the exact error message.
#pragma once

#include <optional>
#include <string_view>

#include "engine/event.hpp"

namespace journey::runtime {

/// The fields of one event line, as views into the line.
struct ScannedEvent {
  engine::Event::Type type = engine::Event::Type::Track;
  std::string_view customer_id;   // userId, else anonymousId
  std::string_view anonymous_id;  // anonymousId; empty when absent or null
  std::string_view previous_id;   // alias: previousId (only the slow path reads aliases)
  bool anonymous = false;         // no userId
  std::string_view name;          // track only
  engine::Millis at = 0;
  std::string_view message_id;  // empty when absent or null
  std::string_view properties;  // the `properties` (track) or `traits` (identify) object as JSON
                                // text; empty when absent or null
};

/// The fields of an event parsed the slow way (engine::parse_event), as views into it;
/// `properties` is its properties' JSON text.
ScannedEvent scanned_from(const engine::Event& event, std::string_view properties);

/// Reads one NDJSON line (without its newline) the fast way, or nullopt when the slow way must.
std::optional<ScannedEvent> scan_event(std::string_view line);

}  // namespace journey::runtime
