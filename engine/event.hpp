// Input events in the shapes of the Segment spec: track, identify, page and alias, by userId or
// anonymousId.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "engine/time.hpp"

namespace journey::engine {

/// One input event for one customer.
struct Event {
  // Page is read as a track event named "page" (its `name` among the properties); Alias links
  // `previous_id` to `customer_id` and carries nothing else.
  enum class Type : std::uint8_t { Track, Identify, Alias };
  Type type = Type::Track;
  std::string customer_id;   // Segment `userId`, else `anonymousId`
  std::string anonymous_id;  // `anonymousId`, when the event has one (also when it has a userId)
  std::string previous_id;   // alias: `previousId`
  bool anonymous = false;    // no userId: the customer is the anonymous visitor `anonymous_id`
  std::string name;          // track: the event name; identify, alias: empty
  Millis at = 0;             // `timestamp`
  nlohmann::json properties = nlohmann::json::object();  // track `properties`, identify `traits`
  std::string message_id;                                // `messageId`; empty when absent

  /// Another id the event says is the same person: the anonymousId beside a userId, or an
  /// alias's previousId. Empty when there is none.
  const std::string& linked_id() const {
    static const std::string none;
    if (type == Type::Alias) return previous_id;
    return anonymous || anonymous_id == customer_id ? none : anonymous_id;
  }
};

/// Why an input object was refused: a JSON path ("$.timestamp") and a message.
struct EventError {
  std::string path;
  std::string message;
};

/// Reads one Segment-shaped object. Unknown fields are ignored; wrong types are errors.
std::variant<Event, EventError> parse_event(const nlohmann::json& object);

}  // namespace journey::engine
