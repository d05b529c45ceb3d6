#include "engine/counts.hpp"

#include <nlohmann/json.hpp>

namespace journey::engine {

std::string pair_key(std::string_view first, std::string_view second) {
  return nlohmann::json::array({first, second})
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void count_record(const Record& r,
                  const std::function<void(const char* metric, std::string key)>& add) {
  switch (r.kind) {
    case Record::Kind::Entered:
      add("entered", "");
      if (r.holdout) add("holdout_entered", "");
      break;
    case Record::Kind::Exited:
      add("exited", r.detail);
      add("exits_at", pair_key(r.step, r.detail));
      break;
    case Record::Kind::Step:
      add("visits", r.step);
      add("moves", pair_key(r.detail, r.step));
      break;
    case Record::Kind::Send:
      add("sends", "");
      add("sent_at", r.step);
      break;
    case Record::Kind::Suppressed:
      add("suppressed", r.detail);
      add("suppressed_at", pair_key(r.step, r.detail));
      break;
    case Record::Kind::Goal:
      add("goals", r.detail);
      add("goals_by_variant", pair_key(r.detail, r.variant));
      if (r.holdout) add("holdout_goals", r.detail);
      if (!r.attributed.empty()) add("goals_by_send", pair_key(r.detail, r.attributed));
      break;
    case Record::Kind::Refused: add("refused", r.detail); break;
    case Record::Kind::Variant: add("variants", r.variant); break;
    case Record::Kind::Error: add("errors", ""); break;
    case Record::Kind::Audience: add("audience", ""); break;
    case Record::Kind::Migrated: break;  // two versions: counted by the callers, on both sides
  }
}

std::int64_t StepCounts::suppressed_total() const {
  std::int64_t n = 0;
  for (const auto& [reason, count] : suppressed) n += count;
  return n;
}

namespace {

/// The two strings of a pair key; false when the key is not one.
bool read_pair(const std::string& key, std::pair<std::string, std::string>& out) {
  const auto j = nlohmann::json::parse(key, nullptr, false);
  if (!j.is_array() || j.size() != 2 || !j[0].is_string() || !j[1].is_string()) return false;
  out = {j[0].get<std::string>(), j[1].get<std::string>()};
  return true;
}

}  // namespace

void JourneyCounts::add(const std::string& metric, const std::string& key, std::int64_t value) {
  std::pair<std::string, std::string> pair;
  if (metric == "entered") {
    entered += value;
  } else if (metric == "audience") {
    audience += value;
  } else if (metric == "errors") {
    errors += value;
  } else if (metric == "sends") {
    sends += value;
  } else if (metric == "exited") {
    exits[key.empty() ? "end" : key] += value;
  } else if (metric == "suppressed") {
    suppressions[key.empty() ? "unknown" : key] += value;
  } else if (metric == "goals") {
    goals[key] += value;
  } else if (metric == "visits") {
    steps[key].visits += value;
  } else if (metric == "sent_at") {
    steps[key].sent += value;
  } else if (metric == "variants") {
    variants[key] += value;
  } else if (metric == "migrated_in") {
    migrated_in += value;
  } else if (metric == "migrated_out") {
    migrated_out += value;
  } else if (metric == "refused") {
    refused[key] += value;
  } else if (metric == "holdout_entered") {
    holdout_entered += value;
  } else if (metric == "holdout_goals") {
    holdout_goals[key] += value;
  } else if (!read_pair(key, pair)) {
    return;
  } else if (metric == "moves") {
    moves[pair] += value;
  } else if (metric == "exits_at") {
    exits_at[pair] += value;
  } else if (metric == "suppressed_at") {
    steps[pair.first].suppressed[pair.second] += value;
  } else if (metric == "goals_by_variant") {
    converted[pair] += value;
  } else if (metric == "goals_by_send") {
    steps[pair.second].goals[pair.first] += value;
  }
}

void JourneyCounts::add_waiting(const std::string& step, std::int64_t runs) {
  steps[step].waiting += runs;
  active += runs;
}

std::int64_t JourneyCounts::exited() const {
  std::int64_t n = 0;
  for (const auto& [reason, count] : exits) n += count;
  return n;
}

std::map<std::string, std::int64_t> JourneyCounts::runs_per_variant() const {
  std::map<std::string, std::int64_t> out;
  std::int64_t placed = 0;
  for (const auto& [variant, runs] : variants) {
    out[variant] += runs;
    placed += runs;
  }
  if (entered > placed) out[""] += entered - placed;
  return out;
}

namespace {

// The lift of a rate over a base rate: (rate - base) / base, or undefined without a base.
void set_lift(std::int64_t base_converted, std::int64_t base_runs, std::int64_t converted,
              std::int64_t runs, std::optional<double>& lift, bool& undefined) {
  if (base_runs <= 0 || runs <= 0) return;
  const double base = static_cast<double>(base_converted) / static_cast<double>(base_runs);
  const double rate = static_cast<double>(converted) / static_cast<double>(runs);
  if (base > 0) {
    lift = (rate - base) / base;
  } else {
    undefined = true;
  }
}

}  // namespace

HoldoutRow holdout_row(const JourneyCounts& counts, const std::string& goal) {
  HoldoutRow row;
  const auto all = counts.goals.find(goal);
  const auto held = counts.holdout_goals.find(goal);
  row.holdout_runs = counts.holdout_entered;
  row.holdout_converted = held == counts.holdout_goals.end() ? 0 : held->second;
  row.treated_runs = counts.entered - counts.holdout_entered;
  row.treated_converted = (all == counts.goals.end() ? 0 : all->second) - row.holdout_converted;
  set_lift(row.holdout_converted, row.holdout_runs, row.treated_converted, row.treated_runs,
           row.lift, row.lift_undefined);
  return row;
}

std::vector<GoalRow> goal_rows(const JourneyCounts& counts, const std::string& goal) {
  const auto runs = counts.runs_per_variant();
  const auto converted = [&](const std::string& variant) {
    const auto it = counts.converted.find({goal, variant});
    return it == counts.converted.end() ? std::int64_t{0} : it->second;
  };
  const auto control = runs.find("control");
  std::vector<GoalRow> out;
  for (const auto& [variant, n] : runs) {
    GoalRow row{variant, n, converted(variant), std::nullopt, false};
    if (control != runs.end() && variant != "control")
      set_lift(converted("control"), control->second, row.converted, n, row.lift,
               row.lift_undefined);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace journey::engine
