#include "runtime/http/views.hpp"

#include <map>
#include <set>
#include <utility>

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
            {"message_ids", e.message_ids}}},
          {"ids", e.ids.empty() ? std::vector<std::string>{customer_id} : e.ids}};
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

VersionCounts version_counts(const std::vector<CounterRow>& counters,
                             const std::vector<std::pair<StoredRun, std::size_t>>& run_counts) {
  VersionCounts out;
  for (const auto& counter : counters) {
    out[{counter.journey, counter.version}].add(counter.metric, counter.key, counter.value);
  }
  for (const auto& [run, count] : run_counts) {
    out[{run.journey, run.version}].add_waiting(run.state, static_cast<std::int64_t>(count));
  }
  return out;
}

namespace {

json pairs_json(const std::map<std::pair<std::string, std::string>, std::int64_t>& counts,
                const char* first, const char* second) {
  json out = json::array();
  for (const auto& [key, n] : counts)
    out.push_back({{first, key.first}, {second, key.second}, {"runs", n}});
  return out;
}

}  // namespace

json journeys_view(VersionCounts counts, const std::vector<engine::JourneyInfo>& live,
                   const std::string& deployment, const StepNamer& name_of) {
  std::set<std::pair<std::string, std::string>> live_keys;
  for (const auto& info : live) {
    live_keys.insert({info.name, info.version});
    counts[{info.name, info.version}];
  }
  std::map<std::string, json> by_name;
  for (const auto& [key, c] : counts) {
    json runs = json::object();
    json runs_by_step = json::object();
    json steps = json::object();
    for (const auto& [step, n] : c.steps) {
      if (n.waiting > 0) {
        runs[step.empty() ? "running" : name_of({key.first, key.second, step})] = n.waiting;
        runs_by_step[step.empty() ? "running" : step] = n.waiting;
      }
      if (step.empty()) continue;
      steps[step] = {{"waiting", n.waiting},
                     {"visits", n.visits},
                     {"sent", n.sent},
                     {"suppressed", n.suppressed}};
    }
    json converted = json::array();
    for (const auto& [goal_variant, n] : c.converted) {
      converted.push_back(
          {{"goal", goal_variant.first}, {"variant", goal_variant.second}, {"runs", n}});
    }
    json by_send = json::array();  // each conversion credited to the last send before it
    for (const auto& [step, n] : c.steps) {
      for (const auto& [goal, runs] : n.goals)
        by_send.push_back({{"goal", goal}, {"step", step}, {"runs", runs}});
    }
    json version = {{"version", key.second},
                    {"live", live_keys.count(key) != 0},
                    {"active_runs", c.active},
                    {"runs_by_state", runs},
                    {"runs_by_step", runs_by_step},
                    {"entered", c.entered},
                    {"exited", c.exited()},
                    {"exits", c.exits},
                    {"sends", c.sends},
                    {"suppressions", c.suppressions},
                    {"goals", c.goals},
                    {"errors", c.errors},
                    {"steps", steps},
                    {"moves", pairs_json(c.moves, "from", "to")},
                    {"exits_at", pairs_json(c.exits_at, "step", "reason")},
                    {"variants", c.variants},
                    {"goals_by_variant", converted},
                    {"goals_by_send", by_send},
                    {"refused", c.refused},
                    {"migrated_in", c.migrated_in},
                    {"migrated_out", c.migrated_out}};
    if (c.audience > 0) version["audience"] = c.audience;  // reached by a broadcast (`entry at`)
    if (c.holdout_entered > 0) {  // the global holdout: runs and conversions of held-out customers
      json lift = json::object();
      for (const auto& [goal, n] : c.goals) {
        const engine::HoldoutRow row = engine::holdout_row(c, goal);
        lift[goal] = {{"treated_runs", row.treated_runs},
                      {"treated_converted", row.treated_converted},
                      {"holdout_runs", row.holdout_runs},
                      {"holdout_converted", row.holdout_converted},
                      {"lift", row.lift ? json(*row.lift) : json(nullptr)}};
      }
      version["holdout"] = {{"entered", c.holdout_entered}, {"goals", lift}};
    }
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
