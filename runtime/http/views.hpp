// The daemon's read answers as pure views: stored data in, the JSON body out (no store, lock or
// clock), so that each is unit-tested like route().
#pragma once

#include <cstddef>
#include <functional>
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

/// The name of the step a stored run waits at (engine::Step::name), as people read it.
using StepNamer = std::function<std::string(const StoredRun&)>;

/// GET /v1/journeys: every journey version counted or live, with its counts, its runs by the step
/// they wait at ("runs_by_state" by the step's name, "runs_by_step" by its id), and per step
/// visits, sends and suppressions, moves between steps, exits by step, split variants and runs
/// migrated in and out.
nlohmann::json journeys_view(VersionCounts counts, const std::vector<engine::JourneyInfo>& live,
                             const std::string& deployment, const StepNamer& name_of);

/// GET /v1/journeys/{name}/versions/{version}/source: the files of the deployment that holds the
/// version, and the naming it is compiled with.
nlohmann::json source_view(const std::string& journey, const std::string& version,
                           const Deployment& deployment);

}  // namespace journey::runtime
