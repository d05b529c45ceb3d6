#include "engine/action.hpp"

#include <algorithm>

namespace journey::engine {

void append_json_string(std::string& out, const std::string& text) {
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

namespace {

void append_field(std::string& out, const char* key, const std::string& value) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += key;
  out += "\":";
  append_json_string(out, value);
}

}  // namespace

std::string to_json_line(const Action& action) {
  std::string out = "{";
  out.reserve(256);
  append_field(out, "action_id", action.action_id);
  append_field(out, "customer_id", action.customer_id);
  append_field(out, "journey", action.journey);
  append_field(out, "step", action.step);
  append_field(out, "channel", action.channel);
  append_field(out, "template", action.template_name);
  out += ",\"params\":";
  out += action.params.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  append_field(out, "at", format_timestamp(action.at));
  append_field(out, "status", action.sent ? "sent" : "suppressed");
  if (!action.sent) append_field(out, "reason", action.reason);
  if (!action.variant.empty()) append_field(out, "variant", action.variant);
  if (!action.topic.empty()) append_field(out, "topic", action.topic);
  if (action.transactional) out += ",\"transactional\":true";
  out += '}';
  return out;
}

}  // namespace journey::engine
