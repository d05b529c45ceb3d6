#include "engine/action.hpp"

namespace journey::engine {

std::string to_json_line(const Action& action) {
  nlohmann::ordered_json out;
  out["action_id"] = action.action_id;
  out["customer_id"] = action.customer_id;
  out["journey"] = action.journey;
  out["step"] = action.step;
  out["channel"] = action.channel;
  out["template"] = action.template_name;
  out["params"] = nlohmann::ordered_json(action.params);
  out["at"] = format_timestamp(action.at);
  out["status"] = action.sent ? "sent" : "suppressed";
  if (!action.sent) out["reason"] = action.reason;
  if (!action.variant.empty()) out["variant"] = action.variant;
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace journey::engine
