// Program-level rules over every journey (EngineConfig::program, docs/language.md 7.7): the
// global holdout, shares and topic defaults as written in journey.toml and flags, and consent
// with its proof. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"

namespace journey::engine {

/// Whether the customer is in the global holdout: a stable hash of the salt and the id, so the
/// same customers are held out in every journey, on every machine and replay.
bool in_holdout(const ProgramRules& rules, std::string_view customer_id);

/// A share written "5%" or "12.5%" (0 to 100, at most two decimals) in basis points, or nothing.
std::optional<std::int64_t> parse_share(std::string_view text);

/// Basis points as a share: 500 -> "5%", 1250 -> "12.5%".
std::string share_text(std::int64_t basis_points);

/// "opt-in" or "opt-out", or nothing.
std::optional<TopicDefault> parse_topic_default(std::string_view text);

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
