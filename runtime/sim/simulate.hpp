// `journey simulate` / `journey explain`: reading Segment NDJSON, running the engine in virtual
// time per customer, and rendering actions and a customer trace.
//
// The driver streams: pass 1 reads the input (on several threads, in blocks) and writes each
// event as a compact record to one of several partitions by a hash of its customer id, keeping
// only what the journeys read; partitions beyond a memory budget go to unnamed temporary files.
// Pass 2 runs the partitions on the threads, customer by customer, and the actions of all
// partitions are merged in engine-time order. Memory depends on the partition size, not on the
// input size; the output does not depend on the number of threads or partitions.
//
// Identity: pass 1 also gathers the links between ids (an event with a userId and an
// anonymousId, an alias, an identity key); they are resolved in input order (time, then line)
// into persons, the records of a person's ids are copied to the partition of its representative,
// and pass 2 runs a person's ids together, merging their states at each link's time.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"
#include "engine/identity.hpp"
#include "runtime/sim/report.hpp"

namespace journey::runtime {

/// What to simulate and what to gather.
struct SimulateOptions {
  std::string events;    // Segment NDJSON events (track, identify)
  std::string profiles;  // NDJSON starting profiles {"userId":..,"traits":{..}}; optional
  engine::IdentityConfig identity;  // identity keys and the bound on ids per customer
  /// Fire timers up to here (default: until no one-off timer is left; recurring `entry every`
  /// ticks stop at the last event's time). Events after it are not processed.
  std::optional<engine::Millis> until;
  bool until_last_event = false;  // without `until`: fire timers only up to the last event's time
  std::optional<std::string> trace_customer;  // gather this customer's trace
  std::optional<std::string> only_customer;   // run only this customer (explain)
  bool strict = false;                        // the first malformed line stops the read
  unsigned threads = 1;                       // the result is the same byte for byte
  bool report = false;                        // gather the funnel report
  bool actions = true;                        // pass the actions to the action callback
  /// Bytes of records each pass keeps in memory before it writes them to temporary files, and
  /// input bytes per partition (a partition is what one thread runs at a time).
  std::size_t memory_budget = std::size_t{64} << 20;
  std::size_t partition_bytes = std::size_t{32} << 20;
};

/// What a simulation produced besides the actions.
struct SimulationResult {
  bool ok = false;                 // false: input unreadable, or (strict) malformed; said on `err`
  std::size_t events = 0;          // input lines read as events
  std::size_t skipped = 0;         // malformed lines skipped
  std::size_t customers = 0;       // customers run (one per person: linked ids count once)
  std::size_t merges = 0;          // customers merged into another (identity resolution)
  std::size_t merges_refused = 0;  // links refused by the bound on ids per customer
  FunnelReport report;             // when asked for
  std::vector<engine::Record> errors;    // engine errors: by customer id, then engine order
  std::vector<engine::TraceLine> trace;  // the traced customer's lines
  /// Runs still in their journey at the end, by (journey, version), then by the step they wait at.
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::size_t>> in_flight;
};

/// Called with each action as one NDJSON line (no newline), in output order: engine time, ties
/// by customer id, then the engine's order.
using ActionSink = std::function<void(std::string_view line)>;

/// Runs every customer through the engine in virtual time: their profile, their events in time
/// order (ties in input order), then timers up to the horizon. Customers are independent.
/// Malformed lines are reported on `err` as `FILE:LINE: message` and skipped.
SimulationResult simulate(const engine::Engine& engine, const SimulateOptions& options,
                          const ActionSink& on_action, std::ostream& err);

/// The trace, one line per fact: `TIME  JOURNEY: message` (customer-level lines have no journey).
/// With `journey`, only that journey's lines and the customer-level lines.
std::string render_trace(const std::vector<engine::TraceLine>& trace,
                         const std::optional<std::string>& journey);

}  // namespace journey::runtime
