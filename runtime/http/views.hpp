// The daemon's read answers as pure views: stored data in, the JSON body out (no store, lock or
// clock), so that each is unit-tested like route().
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/counts.hpp"
#include "engine/engine.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// `recent_actions` of GET /v1/customers/{id}: each action's JSON line with its delivery state.
nlohmann::json actions_view(const std::vector<OutboxEntry>& recent);

/// DELETE /v1/customers/{id}: what the erasure removed.
nlohmann::json erasure_view(const std::string& customer_id, const Erasure& erasure,
                            bool wal_truncated);

/// GET /v1/customers/{id}/explain: the kept trace lines, oldest first.
nlohmann::json explain_view(const std::string& customer_id, std::size_t kept_lines,
                            const std::vector<StoredTrace>& lines);

/// Each journey version's counts, by (journey, version): its counters and its active runs by the
/// step they are at.
using VersionCounts = std::map<std::pair<std::string, std::string>, engine::JourneyCounts>;
VersionCounts version_counts(const std::vector<CounterRow>& counters,
                             const std::vector<std::pair<StoredRun, std::size_t>>& run_counts);

/// GET /v1/journeys: every journey version counted or live, with its counts, runs by state, and
/// per step visits, sends and suppressions, moves between steps, exits by step and split variants.
nlohmann::json journeys_view(VersionCounts counts, const std::vector<engine::JourneyInfo>& live,
                             const std::string& deployment);

}  // namespace journey::runtime
