// The funnel report of `journey simulate --report`: counts gathered customer by customer (so a
// simulation of any size keeps only counters), then rendered per journey.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/counts.hpp"
#include "engine/engine.hpp"
#include "engine/state.hpp"

namespace journey::runtime {

/// The funnel of every journey, by name: the counters of engine/counts.hpp, the same ones the
/// daemon keeps. Adding is commutative: customers may come in any order.
class FunnelReport {
 public:
  /// Counts one customer's records, in the order the engine produced them, and the runs still
  /// waiting in the customer's state at the end.
  void add_customer(const std::vector<engine::Record>& records,
                    const engine::CustomerState& end_state);
  /// Adds another report's counters (from another thread's customers).
  void merge(const FunnelReport& other);
  /// The counts of one journey (all zero when nothing was counted).
  engine::JourneyCounts counts(const std::string& journey) const;
  /// Entered, exits by reason, per step visits/sends/suppressions, goal conversions per variant
  /// with rate and lift over `control`, for each journey of the program.
  std::string render(const engine::Program& program) const;
  /// The same report as one self-contained HTML page (no script, no link outside it): for each
  /// journey its numbers, its canvas with the counts (runs still waiting at the end of the run
  /// shown as waiting) and the chart of each goal per variant. `title` heads the page.
  std::string render_html(const engine::Program& program, const std::string& title) const;

 private:
  // journey -> (metric, key) -> count; runs waiting at the end by (journey, step)
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::int64_t>> counters_;
  std::map<std::pair<std::string, std::string>, std::int64_t> waiting_;
};

}  // namespace journey::runtime
