// One customer across ids: anonymous visitors, `alias`, identity keys. Which ids are one person
// is decided by an IdentityGraph fed with links in input order; the two customers' states are
// then joined by Engine::merge (engine.hpp) under the rules written out in docs/language.md
// ("One customer across ids"). `simulate` and `serve` both use these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/state.hpp"

namespace journey::engine {

/// Identity settings: journey.toml `[identity]`, `simulate --identity-keys` / `--max-ids`.
struct IdentityConfig {
  std::vector<std::string> keys;  // traits whose equal values mean one person (opt-in)
  std::size_t max_ids = 20;       // ids one person may have: a link beyond it is refused
};

/// Whether `a` survives a merge with `b`: a customer with a userId over an anonymous one, then
/// the one whose first input came first (a customer with no input yet comes last, one stored
/// before first inputs were kept first), then `a`.
bool survives(const CustomerState& a, const CustomerState& b);

/// Joins an absorbed customer's profile into the survivor's: traits the survivor lacks are
/// taken, objects merge key by key and the survivor wins conflicts, except `consent` and
/// `subscriptions`, where a withdrawal (`false`, or `{granted: false}`) on either side wins, and
/// `tags`, which become the union.
void merge_profile(nlohmann::json& survivor, const nlohmann::json& absorbed);

/// Joins purchase counts for the purchase model: first and last days span both, days and values
/// add up (a day on which both ids bought counts twice).
void merge_purchases(std::optional<Purchases>& survivor, const std::optional<Purchases>& absorbed);

/// The identity keys an identify sets: "KEY=VALUE" (the value as JSON text), one per key the
/// traits give a non-null value, in the order of `keys`.
std::vector<std::string> key_claims(const IdentityConfig& config, const nlohmann::json& traits);

/// Which ids are one person: a union-find over ids numbered 0..n-1, fed with links in input
/// order, that refuses a link when the person would have more than `max_ids` ids. The same links
/// in the same order give the same persons. 8 bytes an id.
class IdentityGraph {
 public:
  IdentityGraph(std::size_t ids, std::size_t max_ids);

  enum class Linked { Already, Merged, Refused };
  struct Result {
    Linked linked = Linked::Already;
    std::size_t ids = 0;  // ids of the person the link makes (or would have made)
  };

  /// Links two ids.
  Result link(std::uint32_t a, std::uint32_t b);

  /// The representative of `id`'s person (`id` itself when it was never linked).
  std::uint32_t find(std::uint32_t id);

 private:
  std::size_t max_ids_;
  std::vector<std::uint32_t> parent_;
  std::vector<std::uint32_t> size_;  // of a representative's person
};

}  // namespace journey::engine
