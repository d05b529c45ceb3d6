// Stable identities: action ids and split variants (pure functions of their inputs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/program.hpp"

namespace journey::engine {

/// 32 hex chars (128 bits) from (customer, journey, version, entry number, step id, visit).
std::string action_id(const std::string& customer, const std::string& journey,
                      const std::string& version, std::int64_t entry_no, const std::string& step,
                      std::int64_t visit);

/// The index of the variant a customer lands in at a split: a pure function of (customer,
/// journey, split step id) hashed to [0, 100) and walked through the cumulative percentages.
std::size_t split_variant(const std::string& customer, const std::string& journey,
                          const std::string& step, const std::vector<Variant>& variants);

}  // namespace journey::engine
