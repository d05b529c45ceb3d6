// Actions: the sends the engine decides on, the only thing in the action stream.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/time.hpp"

namespace journey::engine {

/// One send, delivered or suppressed.
struct Action {
  std::string action_id;  // pure function of (customer, journey, version, entry no, step, visit)
  std::string customer_id;
  std::string journey;
  std::string step;  // stable step name: the label, else "L<line>:<col>" of the step in the source
  std::string channel;
  std::string template_name;
  nlohmann::json params = nlohmann::json::object();
  Millis at = 0;
  bool sent = true;     // false: suppressed
  std::string reason;   // when suppressed: "consent", "cap", ...
  std::string variant;  // split variant when the send is inside a split branch
  std::string topic;    // the subscription topic (`send ... topic NAME`), for unsubscribe links
  bool transactional = false;  // `send ... transactional` or a send of a transactional journey
};

/// One NDJSON line (no newline), keys in the order of spec section 7:
/// action_id, customer_id, journey, step, channel, template, params, at, status[, reason][,
/// variant]; then, beyond the spec, [topic][, transactional] when set.
std::string to_json_line(const Action& action);

/// Appends `text` as a JSON string, byte for byte as nlohmann's dump (no ASCII escaping, invalid
/// UTF-8 replaced): plain ASCII directly, anything else through nlohmann.
void append_json_string(std::string& out, const std::string& text);

}  // namespace journey::engine
