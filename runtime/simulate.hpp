// `journey simulate` / `journey explain`: reading Segment NDJSON, running the engine in virtual
// time per customer, and rendering actions, the funnel report and a customer trace.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"

namespace journey::runtime {

/// Everything read from the input files, grouped by customer.
struct SimulationInput {
  std::map<std::string, std::vector<engine::Event>> events;  // per customer, stably time-sorted
  std::map<std::string, nlohmann::json> profiles;             // starting traits per customer
  std::optional<engine::Millis> last_event_at;                // latest timestamp in the events
  std::size_t skipped = 0;                                     // malformed lines skipped
};

/// Reads Segment-shaped NDJSON events into `input`. Each malformed line is reported on `err` as
/// `FILE:LINE: message` and skipped; with `strict` the first one stops the read. Returns false
/// when the file cannot be read or (strict) a line is malformed.
bool read_events(const std::string& path, bool strict, SimulationInput& input, std::ostream& err);

/// Reads `{"userId":..,"traits":{..}}` NDJSON lines into input.profiles, as read_events.
bool read_profiles(const std::string& path, bool strict, SimulationInput& input, std::ostream& err);

/// What a simulation produced.
struct SimulationResult {
  std::vector<engine::Action> actions;   // engine-time order; ties by customer id, then engine order
  std::vector<engine::Record> records;   // per customer in engine order, customers in id order
  std::vector<engine::TraceLine> trace;  // the traced customer's lines
};

/// Runs every customer through the engine in virtual time: their events in order, then timers
/// up to `until` (default: until no one-off timer is left; `entry every` ticks stop at the last
/// event's time). Events after `until` are not processed. Customers are independent.
/// `threads` > 1 runs customers on that many threads; the result is the same byte for byte.
SimulationResult simulate(const engine::Engine& engine, const SimulationInput& input,
                          std::optional<engine::Millis> until, const std::optional<std::string>& trace_customer,
                          unsigned threads = 1);

/// Actions as NDJSON, one line each.
std::string render_actions(const std::vector<engine::Action>& actions);

/// The funnel report per journey: entered, exits by reason, per step counts, sends and
/// suppressions by reason, goal conversions per variant with rate and lift over `control`.
std::string render_report(const engine::Program& program, const std::vector<engine::Record>& records);

/// The trace, one line per fact: `TIME  JOURNEY: message` (customer-level lines have no journey).
/// With `journey`, only that journey's lines and the customer-level lines.
std::string render_trace(const std::vector<engine::TraceLine>& trace, const std::optional<std::string>& journey);

}  // namespace journey::runtime
