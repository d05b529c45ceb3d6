// The counters a journey's records add up to, and what they say when read back: one definition
// shared by the daemon (runtime/serve/group_step.cpp stores them per journey version; a cluster
// copies them per partition) and by `journey simulate --report`, so that the console, GET
// /v1/journeys and the reports count alike.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine.hpp"

namespace journey::engine {

/// Calls `add(metric, key)` once for each counter of the record's journey version that the record
/// adds 1 to. Metrics and keys:
///   entered ""; exited REASON; exits_at [STEP,REASON] (the step left from); visits STEP;
///   moves [FROM,TO] (FROM "" as the run enters); sends ""; sent_at STEP; suppressed REASON;
///   suppressed_at [STEP,REASON]; goals GOAL; goals_by_variant [GOAL,VARIANT]; goals_by_send
///   [GOAL,STEP] (the entry's last delivered send before the conversion); variants VARIANT (runs a
///   split put there); errors ""; audience ""; refused REASON (entries arbitration turned away);
///   holdout_entered "" and holdout_goals GOAL (the same, for customers in the global holdout).
///   A Migrated record adds to none: its callers
///   count migrated_out "" for the version the run left and migrated_in "" for the one it joined.
/// A pair key is a JSON array of two strings.
void count_record(const Record& record,
                  const std::function<void(const char* metric, std::string key)>& add);

/// The key of a pair counter, as count_record makes it.
std::string pair_key(std::string_view first, std::string_view second);

/// One step's counts.
struct StepCounts {
  std::int64_t waiting = 0;  // runs at the step now (a wait, or a send held by quiet hours)
  std::int64_t visits = 0;
  std::int64_t sent = 0;
  std::map<std::string, std::int64_t> suppressed;  // reason -> sends suppressed
  std::map<std::string, std::int64_t> goals;  // goal -> conversions whose last send was this one
  std::int64_t suppressed_total() const;
};

/// One journey version's counts, read back from its counters and its active runs.
struct JourneyCounts {
  std::int64_t entered = 0;
  std::int64_t audience = 0;  // customers a broadcast (`entry at`) reached, entered or not
  std::int64_t errors = 0;
  std::int64_t sends = 0;
  std::int64_t active = 0;                                               // runs in the journey now
  std::map<std::string, std::int64_t> exits;                             // reason -> runs
  std::map<std::string, std::int64_t> suppressions;                      // reason -> sends
  std::map<std::string, std::int64_t> goals;                             // goal -> conversions
  std::map<std::string, StepCounts> steps;                               // step id -> counts
  std::map<std::pair<std::string, std::string>, std::int64_t> moves;     // (from, to) -> runs
  std::map<std::pair<std::string, std::string>, std::int64_t> exits_at;  // (step, reason) -> runs
  std::map<std::string, std::int64_t> variants;  // variant -> runs a split put there
  std::map<std::pair<std::string, std::string>, std::int64_t> converted;  // (goal, variant)
  std::int64_t migrated_in = 0;   // runs moved here from an older version (`on update migrate`)
  std::int64_t migrated_out = 0;  // runs moved from here to a newer version
  std::map<std::string, std::int64_t> refused;        // reason -> entries turned away
  std::int64_t holdout_entered = 0;                   // entries of customers in the holdout
  std::map<std::string, std::int64_t> holdout_goals;  // goal -> their conversions

  /// Adds a counter as stored (an unknown metric or a malformed key is ignored).
  void add(const std::string& metric, const std::string& key, std::int64_t value);
  /// Adds runs waiting at a step now.
  void add_waiting(const std::string& step, std::int64_t runs);
  std::int64_t exited() const;
  /// Runs per variant: those a split put in each, and "" for the runs no split has put anywhere.
  std::map<std::string, std::int64_t> runs_per_variant() const;
};

/// One variant's line of a goal: runs, conversions, and the lift of its conversion rate over the
/// `control` variant's.
struct GoalRow {
  std::string variant;  // "" for runs no split put anywhere
  std::int64_t runs = 0;
  std::int64_t converted = 0;
  std::optional<double> lift;   // (rate - control rate) / control rate, when both are known
  bool lift_undefined = false;  // a control exists but converted no one: no lift can be said
};

/// A goal's program-level line: the runs of customers outside the global holdout (treated: they
/// get the program's marketing sends) against those inside it, and the lift of the treated
/// conversion rate over the holdout's.
struct HoldoutRow {
  std::int64_t treated_runs = 0;
  std::int64_t treated_converted = 0;
  std::int64_t holdout_runs = 0;
  std::int64_t holdout_converted = 0;
  std::optional<double> lift;   // (treated rate - holdout rate) / holdout rate, when both known
  bool lift_undefined = false;  // the holdout converted no one: no lift can be said
};

HoldoutRow holdout_row(const JourneyCounts& counts, const std::string& goal);

/// The goal's line for each variant with runs (by variant name).
std::vector<GoalRow> goal_rows(const JourneyCounts& counts, const std::string& goal);

}  // namespace journey::engine
