// The funnel report of `journey simulate --report`: counts gathered customer by customer (so a
// simulation of any size keeps only counters), then rendered per journey.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.hpp"

namespace journey::runtime {

/// Counters for one journey.
struct JourneyFunnel {
  std::size_t entered = 0;
  std::size_t errors = 0;
  std::map<std::string, std::size_t> exits;                              // reason -> runs
  std::map<std::string, std::size_t> visits;                             // step -> visits
  std::map<std::string, std::size_t> sent;                               // step -> sends
  std::map<std::string, std::map<std::string, std::size_t>> suppressed;  // step -> reason -> n
  std::map<std::string, std::size_t> runs_per_variant;  // variant ("" none) -> runs
  std::map<std::pair<std::string, std::string>, std::size_t> converted;  // (goal, variant) -> runs
};

/// The funnel of every journey, by name. Adding is commutative: customers may come in any order.
class FunnelReport {
 public:
  /// Counts one customer's records, in the order the engine produced them.
  void add_customer(const std::vector<engine::Record>& records);
  /// Adds another report's counters (from another thread's customers).
  void merge(const FunnelReport& other);
  /// Entered, exits by reason, per step visits/sends/suppressions, goal conversions per variant
  /// with rate and lift over `control`, for each journey of the program.
  std::string render(const engine::Program& program) const;

 private:
  std::map<std::string, JourneyFunnel> journeys_;
};

}  // namespace journey::runtime
