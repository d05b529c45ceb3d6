// Format 1 of the customer state, as earlier builds wrote it (the state as a JSON object, encoded
// as CBOR): engine::deserialize still reads it. Shared by serialize_test and bench/bench_state.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/state.hpp"

namespace journey::test {

/// The state as the format 1 writer (CBOR) of earlier builds laid it out; also a way to compare
/// two states field by field.
inline nlohmann::json format1_json(const engine::CustomerState& state) {
  using nlohmann::json;
  const auto small_ints = [](const std::vector<std::int8_t>& values) {
    json out = json::array();
    for (const auto v : values) out.push_back(static_cast<int>(v));
    return out;
  };
  json out;
  out["v"] = 1;
  out["id"] = state.customer_id;
  out["known"] = state.known;
  out["profile"] = state.profile;
  out["mids"] = state.message_ids;
  out["clock"] = state.clock;
  out["timeline"] = json::object();
  for (const auto& [event, entries] : state.timeline) {
    json list = json::array();
    for (const auto& e : entries) list.push_back({e.at, e.properties});
    out["timeline"][event] = std::move(list);
  }
  out["runs"] = json::object();
  for (const auto& [name, r] : state.runs) {
    out["runs"][name] = {{"version", r.version},
                         {"entry", r.entry_no},
                         {"entered", r.entered_at},
                         {"pc", r.pc},
                         {"wait", static_cast<int>(r.wait)},
                         {"wake", r.wake_at},
                         {"trigger", r.trigger},
                         {"event", r.event},
                         {"variant", r.variant},
                         {"step", r.step},
                         {"visits", r.visits},
                         {"exits", small_ints(r.exit_values)}};
  }
  out["history"] = json::object();
  for (const auto& [name, h] : state.history) {
    json every = json::array();
    for (const auto& [idx, t] : h.every_next) every.push_back({idx, t});
    out["history"][name] = {{"entries", h.entries},
                            {"last", h.last_entry},
                            {"version", h.version},
                            {"variant", h.variant},
                            {"step", h.step},
                            {"trigger", h.trigger},
                            {"goals", h.goals_reached},
                            {"when", small_ints(h.when_values)},
                            {"check", h.check_at ? json(*h.check_at) : json(nullptr)},
                            {"every", std::move(every)}};
  }
  out["sent"] = json::array();
  for (const auto& s : state.sent) out["sent"].push_back({s.at, s.journey, s.channel});
  return out;
}

inline std::string format1(const engine::CustomerState& state) {
  const auto bytes = nlohmann::json::to_cbor(format1_json(state));
  return {bytes.begin(), bytes.end()};
}

}  // namespace journey::test
