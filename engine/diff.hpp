// Two versions of a journey compared step by step: what `journey diff` prints, what
// `POST /v1/journeys/reload?dry_run=1` answers and where a migrating run goes (`on update
// migrate`). One comparison serves all three, so the preview is what the reload does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/program.hpp"

namespace journey::engine {

/// How one step of the old version corresponds to one of the new.
struct StepMatch {
  enum class Change : std::uint8_t {
    Unchanged,  // the same step: label and own behaviour (Step::signature) alike
    Changed,    // the same place, another behaviour or label
    Added,      // only in the new version
    Removed,    // only in the old version
  };
  Change change = Change::Unchanged;
  std::size_t old_step = kNoStep;  // index into the old journey's steps (kNoStep when Added)
  std::size_t new_step = kNoStep;  // index into the new journey's steps (kNoStep when Removed)
};

/// The steps of two versions matched block by block, as a diff of lines would: within each block
/// (the blocks of matched steps matched by what they say: `on EVENT`, `variant NAME`, `else`),
/// the longest run of steps alike in order (labelled steps by label, others by behaviour) is kept,
/// and in the gaps between, steps of the same kind pair up as changed. Every step of either
/// version appears once, in the old version's order with added steps where they come.
std::vector<StepMatch> match_steps(const Journey& from, const Journey& to);

/// Where a run waiting at each step of `from` goes when it migrates to `to`: the index of the
/// step it matches unchanged, else kNoStep (the run keeps its version).
std::vector<std::size_t> migration_targets(const Journey& from, const Journey& to);

/// The header of a journey as lines (`entry on signup`, `cap 2 per 7d`, `segment buyer = ...`,
/// `on update migrate`), sorted: what `journey diff` compares besides the steps.
std::vector<std::string> header_lines(const Journey& journey);

/// In-flight runs of one version of a journey: how many wait at each step id.
struct RunsAt {
  const Journey* version = nullptr;
  std::map<std::string, std::size_t> by_step;
};

/// One journey's changes from `from` to `to` (either may be null: added or removed) as JSON:
/// {"journey", "change": "added"|"removed"|"changed"|"unchanged", "old_version", "new_version",
/// "on_update", "header": [{"change", "text"}], "steps": [{"change", "old", "new"}] (changes only;
/// "old"/"new" are {"id", "name", "line", "does": Step::signature}), "unchanged_steps", and when
/// `runs` are given "runs": [{"version", "step", "name", "runs", "change", "outcome":
/// "migrate"|"keep"|"current", "to"}] with the totals "in_flight", "migrate", "keep", "current"}.
nlohmann::json journey_diff(const Journey* from, const Journey* to,
                            const std::vector<RunsAt>& runs = {});

/// The diffs of two programs, journey by journey in name order (either may be null: nothing on
/// that side): {"journeys": [...], "changed": N} (N journeys added, removed or changed). `runs`:
/// by journey name.
nlohmann::json program_diff(const Program* from, const Program* to,
                            const std::map<std::string, std::vector<RunsAt>>& runs = {});

/// A diff document as text, for people: one paragraph per journey added, removed or changed.
std::string diff_text(const nlohmann::json& diff);

}  // namespace journey::engine
