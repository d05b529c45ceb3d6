#include "runtime/http/views.hpp"

#include <map>
#include <set>

namespace journey::runtime {

using nlohmann::json;

json erasure_view(const std::string& customer_id, const Erasure& e, bool wal_truncated) {
  return {{"customer_id", customer_id},
          {"found", e.profile},
          {"wal_truncated", wal_truncated},
          {"removed",
           {{"profile", e.profile},
            {"timeline_events", e.events},
            {"runs", e.runs},
            {"timers", e.timers},
            {"unsent_actions", e.unsent_actions},
            {"trace_lines", e.trace_lines},
            {"message_ids", e.message_ids}}}};
}

json actions_view(const std::vector<OutboxEntry>& recent) {
  json actions = json::array();
  for (const auto& entry : recent) {
    json action = json::parse(entry.payload, nullptr, false);
    if (action.is_discarded()) action = json::object();
    action["delivery"] = {{"status", status_name(entry.status)},
                          {"attempts", entry.attempts},
                          {"last_error", entry.last_error}};
    actions.push_back(std::move(action));
  }
  return actions;
}

json explain_view(const std::string& customer_id, std::size_t kept_lines,
                  const std::vector<StoredTrace>& lines) {
  json trace = json::array();
  for (const auto& line : lines) {
    json detail = json::parse(line.detail_json, nullptr, false);
    trace.push_back({{"at", engine::format_timestamp(line.at)},
                     {"journey", line.journey},
                     {"message", line.message},
                     {"detail", detail.is_discarded() ? json::object() : detail}});
  }
  return {{"customer_id", customer_id}, {"kept_lines", kept_lines}, {"trace", trace}};
}

json journeys_view(const std::vector<CounterRow>& counters,
                   const std::vector<std::pair<StoredRun, std::size_t>>& run_counts,
                   const std::vector<engine::JourneyInfo>& live, const std::string& deployment,
                   const StepNamer& name_of) {
  struct Row {
    json counts = {{"entered", 0}, {"exited", 0},      {"sends", 0},
                   {"errors", 0},  {"migrated_in", 0}, {"migrated_out", 0}};
    json suppressions = json::object();
    json goals = json::object();
    json exits = json::object();
    json runs = json::object();
    json steps = json::object();
    std::int64_t active = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  for (const auto& counter : counters) {
    auto& row = rows[{counter.journey, counter.version}];
    if (counter.metric == "suppressed") {
      row.suppressions[counter.key.empty() ? "unknown" : counter.key] = counter.value;
    } else if (counter.metric == "goals") {
      row.goals[counter.key] = counter.value;
    } else if (counter.metric == "exited") {
      row.counts["exited"] = row.counts["exited"].get<std::int64_t>() + counter.value;
      row.exits[counter.key.empty() ? "end" : counter.key] = counter.value;
    } else {
      row.counts[counter.metric] =
          row.counts.value(counter.metric, std::int64_t{0}) + counter.value;
    }
  }
  for (const auto& [run, count] : run_counts) {
    auto& row = rows[{run.journey, run.version}];
    row.runs[run.state.empty() ? "running" : name_of(run)] = count;
    row.steps[run.state.empty() ? "running" : run.state] = count;
    row.active += static_cast<std::int64_t>(count);
  }
  std::set<std::pair<std::string, std::string>> live_keys;
  for (const auto& info : live) {
    live_keys.insert({info.name, info.version});
    rows[{info.name, info.version}];
  }
  std::map<std::string, json> by_name;
  for (auto& [key, row] : rows) {
    json version = {{"version", key.second},
                    {"live", live_keys.count(key) != 0},
                    {"active_runs", row.active},
                    {"runs_by_state", row.runs},
                    {"runs_by_step", row.steps},
                    {"entered", row.counts["entered"]},
                    {"exited", row.counts["exited"]},
                    {"exits", row.exits},
                    {"sends", row.counts["sends"]},
                    {"suppressions", row.suppressions},
                    {"goals", row.goals},
                    {"errors", row.counts["errors"]},
                    {"migrated_in", row.counts["migrated_in"]},
                    {"migrated_out", row.counts["migrated_out"]}};
    auto& entry = by_name[key.first];
    if (entry.is_null())
      entry = {{"name", key.first}, {"live_version", nullptr}, {"versions", json::array()}};
    if (live_keys.count(key) != 0) entry["live_version"] = key.second;
    entry["versions"].push_back(std::move(version));
  }
  json journeys = json::array();
  for (auto& [name, entry] : by_name) journeys.push_back(std::move(entry));
  return {{"deployment", deployment}, {"journeys", journeys}};
}

json source_view(const std::string& journey, const std::string& version,
                 const Deployment& deployment) {
  json files = json::array();
  for (const auto& [path, text] : deployment.files)
    files.push_back({{"path", path}, {"text", text}});
  return {{"journey", journey},
          {"version", version},
          {"deployment", deployment.id},
          {"naming", deployment.naming == engine::StepNaming::Positions ? "positions" : "tree"},
          {"files", std::move(files)}};
}

}  // namespace journey::runtime
