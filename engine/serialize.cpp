// CustomerState to bytes and back: JSON encoded as CBOR (compact, self-describing).
#include <limits>
#include <stdexcept>

#include "engine/engine.hpp"
#include "engine/state.hpp"

namespace journey::engine {
namespace {

nlohmann::json values_json(const std::vector<std::int8_t>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto v : values) out.push_back(static_cast<int>(v));
  return out;
}

std::vector<std::int8_t> values_from(const nlohmann::json& j) {
  std::vector<std::int8_t> out;
  for (const auto& v : j) out.push_back(static_cast<std::int8_t>(v.get<int>()));
  return out;
}

}  // namespace

std::string serialize(const CustomerState& state) {
  nlohmann::json out;
  out["v"] = 1;
  out["id"] = state.customer_id;
  out["known"] = state.known;
  out["profile"] = state.profile;
  out["mids"] = state.message_ids;
  out["clock"] = state.clock;
  nlohmann::json timeline = nlohmann::json::object();
  for (const auto& [event, entries] : state.timeline) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : entries) list.push_back({e.at, e.properties});
    timeline[event] = std::move(list);
  }
  out["timeline"] = std::move(timeline);
  nlohmann::json runs = nlohmann::json::object();
  for (const auto& [name, r] : state.runs) {
    runs[name] = {{"version", r.version},   {"entry", r.entry_no},  {"entered", r.entered_at},
                  {"pc", r.pc},             {"wait", static_cast<int>(r.wait)}, {"wake", r.wake_at},
                  {"trigger", r.trigger},   {"event", r.event},     {"variant", r.variant},
                  {"step", r.step},         {"visits", r.visits},   {"exits", values_json(r.exit_values)}};
  }
  out["runs"] = std::move(runs);
  nlohmann::json history = nlohmann::json::object();
  for (const auto& [name, h] : state.history) {
    nlohmann::json every = nlohmann::json::array();
    for (const auto& [idx, t] : h.every_next) every.push_back({idx, t});
    history[name] = {{"entries", h.entries}, {"last", h.last_entry},    {"version", h.version},
                     {"variant", h.variant}, {"step", h.step},          {"trigger", h.trigger},
                     {"goals", h.goals_reached}, {"when", values_json(h.when_values)},
                     {"check", h.check_at ? nlohmann::json(*h.check_at) : nlohmann::json(nullptr)},
                     {"every", std::move(every)}};
  }
  out["history"] = std::move(history);
  nlohmann::json sent = nlohmann::json::array();
  for (const auto& s : state.sent) sent.push_back({s.at, s.journey, s.channel});
  out["sent"] = std::move(sent);
  const auto bytes = nlohmann::json::to_cbor(out);
  return {bytes.begin(), bytes.end()};
}

std::unique_ptr<CustomerState> deserialize(const std::string& bytes) {
  const nlohmann::json in = nlohmann::json::from_cbor(bytes);
  if (!in.is_object() || in.value("v", 0) != 1) throw std::runtime_error("customer state: unknown format");
  auto state = std::make_unique<CustomerState>();
  state->customer_id = in.at("id").get<std::string>();
  state->known = in.at("known").get<bool>();
  state->profile = in.at("profile");
  state->message_ids = in.at("mids").get<std::set<std::string>>();
  state->clock = in.at("clock").get<Millis>();
  for (const auto& [event, list] : in.at("timeline").items()) {
    auto& entries = state->timeline[event];
    for (const auto& e : list) entries.push_back({e.at(0).get<Millis>(), e.at(1)});
  }
  for (const auto& [name, r] : in.at("runs").items()) {
    RunState run;
    run.journey = name;
    run.version = r.at("version").get<std::string>();
    run.entry_no = r.at("entry").get<std::int64_t>();
    run.entered_at = r.at("entered").get<Millis>();
    run.pc = r.at("pc").get<std::size_t>();
    run.wait = static_cast<RunState::Wait>(r.at("wait").get<int>());
    run.wake_at = r.at("wake").get<Millis>();
    run.trigger = r.at("trigger");
    run.event = r.at("event");
    run.variant = r.at("variant").get<std::string>();
    run.step = r.at("step").get<std::string>();
    run.visits = r.at("visits").get<std::map<std::string, std::int64_t>>();
    run.exit_values = values_from(r.at("exits"));
    state->runs[name] = std::move(run);
  }
  for (const auto& [name, h] : in.at("history").items()) {
    JourneyHistory hist;
    hist.entries = h.at("entries").get<std::int64_t>();
    hist.last_entry = h.at("last").get<Millis>();
    hist.version = h.at("version").get<std::string>();
    hist.variant = h.at("variant").get<std::string>();
    hist.step = h.at("step").get<std::string>();
    hist.trigger = h.at("trigger");
    hist.goals_reached = h.at("goals").get<std::set<std::string>>();
    hist.when_values = values_from(h.at("when"));
    if (!h.at("check").is_null()) hist.check_at = h.at("check").get<Millis>();
    for (const auto& e : h.at("every")) hist.every_next[e.at(0).get<std::size_t>()] = e.at(1).get<Millis>();
    state->history[name] = std::move(hist);
  }
  for (const auto& s : in.at("sent")) state->sent.push_back({s.at(0).get<Millis>(), s.at(1).get<std::string>(), s.at(2).get<std::string>()});
  return state;
}

}  // namespace journey::engine
