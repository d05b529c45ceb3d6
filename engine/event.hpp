// Input events in the shapes of the Segment spec (track and identify).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "engine/time.hpp"

namespace journey::engine {

/// One input event for one customer.
struct Event {
  enum class Type : std::uint8_t { Track, Identify };
  Type type = Type::Track;
  std::string customer_id;                               // Segment `userId`
  std::string name;                                      // track: the event name; identify: empty
  Millis at = 0;                                         // `timestamp`
  nlohmann::json properties = nlohmann::json::object();  // track `properties`, identify `traits`
  std::string message_id;                                // `messageId`; empty when absent
};

/// Why an input object was refused: a JSON path ("$.timestamp") and a message.
struct EventError {
  std::string path;
  std::string message;
};

/// Reads one Segment-shaped object. Unknown fields are ignored; wrong types are errors.
std::variant<Event, EventError> parse_event(const nlohmann::json& object);

}  // namespace journey::engine
