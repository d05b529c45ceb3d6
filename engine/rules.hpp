// Program-level rules over every journey: consent and its proof, subscription topics and the
// global holdout (docs/language.md, Program controls). Pure functions over a customer's state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"

namespace journey::engine {

/// What a consent or subscription trait says: a boolean, or {granted: BOOL, at, source}.
/// Nothing for an absent value or any other shape (which counts as absent).
std::optional<bool> granted(const nlohmann::json* value);

/// Whether `key` (a top-level trait) holds consents or subscriptions: "consent", "subscriptions".
bool is_consent_group(std::string_view key);

/// Notes the consent changes that writing `value` at `path` of the profile makes, before it is
/// written: `path` is {"consent"} or {"subscriptions"} (the whole group; keys it drops are
/// cleared) or {GROUP, NAME}; other paths change no consent. A change is kept when the state
/// (granted, withdrawn, cleared) or the given `at`/`source` differs from the latest record of
/// its key; `how` is the source when the trait gives none; `recorded` is when it arrived (0 for
/// a starting profile). At most 16 records are kept per key, the oldest dropped first. Returns
/// the records added.
std::vector<ConsentRecord> note_consents(CustomerState& state, const std::vector<std::string>& path,
                                         const nlohmann::json& value, Millis recorded,
                                         const std::string& how);

/// The latest record of a key ("consent.email"), or null.
const ConsentRecord* latest_consent(const CustomerState& state, std::string_view key);

/// A record as JSON for the API and traces: {key, state, at, source, recorded}.
nlohmann::json consent_json(const ConsentRecord& record);

/// A record in words: "consent.email granted at 2026-03-01T10:00:00Z (source: signup-form)".
std::string consent_text(const ConsentRecord& record);

}  // namespace journey::engine
