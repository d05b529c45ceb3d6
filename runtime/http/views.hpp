// The daemon's read answers as pure views: stored data in, the JSON body out (no store, lock or
// clock), so that each is unit-tested like route().
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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

/// GET /v1/journeys: every journey version counted or live, with its counts and runs by state.
nlohmann::json journeys_view(const std::vector<CounterRow>& counters,
                             const std::vector<std::pair<StoredRun, std::size_t>>& run_counts,
                             const std::vector<engine::JourneyInfo>& live,
                             const std::string& deployment);

}  // namespace journey::runtime
