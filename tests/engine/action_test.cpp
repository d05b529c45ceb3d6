// Action lines: the hand-written serialiser gives the bytes nlohmann's ordered dump gives.
#include "engine/action.hpp"

#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

std::string reference(const journey::engine::Action& a) {
  nlohmann::ordered_json out;
  out["action_id"] = a.action_id;
  out["customer_id"] = a.customer_id;
  out["journey"] = a.journey;
  out["step"] = a.step;
  out["channel"] = a.channel;
  out["template"] = a.template_name;
  out["params"] = nlohmann::ordered_json(a.params);
  out["at"] = journey::engine::format_timestamp(a.at);
  out["status"] = a.sent ? "sent" : "suppressed";
  if (!a.sent) out["reason"] = a.reason;
  if (!a.variant.empty()) out["variant"] = a.variant;
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

TEST_CASE("action lines match the JSON library byte for byte", "[action]") {
  journey::engine::Action a;
  a.action_id = "0123456789abcdef0123456789abcdef";
  a.journey = "welcome";
  a.step = "L10:3";
  a.channel = "email";
  a.template_name = "welcome-1";
  a.at = 1767225600250;
  for (const std::string id : {"c1", "quote\"back\\slash", "ctl\x01\x1f\t\n\r\b\f\x7f",
                               "caf\xc3\xa9", "bad\xff utf8", ""}) {
    INFO(id);
    a.customer_id = id;
    a.params = {{"code", "WELCOME10"}, {"n", 1.5}, {"z", {1, nullptr, "x\n"}}};
    a.sent = true;
    a.variant.clear();
    CHECK(journey::engine::to_json_line(a) == reference(a));
    a.sent = false;
    a.reason = "consent \"email\"";
    a.variant = id;
    a.params = nlohmann::json::object();
    CHECK(journey::engine::to_json_line(a) == reference(a));
  }
}
