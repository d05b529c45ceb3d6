// The daemon's read answers as pure views: stored data in, the JSON body out (no store, lock or
// clock), so that each is unit-tested like route().
#pragma once

#include <cstddef>
#include <functional>
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

/// The name of the step a stored run waits at (engine::Step::name), as people read it.
using StepNamer = std::function<std::string(const StoredRun&)>;

/// GET /v1/journeys: every journey version counted or live, with its counts and its runs by the
/// step they wait at: "runs_by_state" by the step's name, "runs_by_step" by its id.
nlohmann::json journeys_view(const std::vector<CounterRow>& counters,
                             const std::vector<std::pair<StoredRun, std::size_t>>& run_counts,
                             const std::vector<engine::JourneyInfo>& live,
                             const std::string& deployment, const StepNamer& name_of);

/// GET /v1/journeys/{name}/versions/{version}/source: the files of the deployment that holds the
/// version, and the naming it is compiled with.
nlohmann::json source_view(const std::string& journey, const std::string& version,
                           const Deployment& deployment);

}  // namespace journey::runtime
