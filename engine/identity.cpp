#include "engine/identity.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "engine/rules.hpp"

namespace journey::engine {
namespace {

// When a customer was first seen, for survives(): no input yet sorts last, a state stored before
// first inputs were kept sorts first.
Millis first_seen(const CustomerState& s) {
  if (!s.known) return std::numeric_limits<Millis>::max();
  return s.first_at.value_or(std::numeric_limits<Millis>::min());
}

}  // namespace

bool survives(const CustomerState& a, const CustomerState& b) {
  if (a.anonymous != b.anonymous) return !a.anonymous;
  return first_seen(a) <= first_seen(b);
}

void merge_profile(nlohmann::json& survivor, const nlohmann::json& absorbed) {
  if (!survivor.is_object() || !absorbed.is_object()) return;
  for (const auto& [key, value] : absorbed.items()) {
    const auto mine = survivor.find(key);
    if (mine == survivor.end()) {
      survivor[key] = value;
    } else if (is_consent_group(key) && mine->is_object() && value.is_object()) {
      for (const auto& [name, given] : value.items()) {
        const auto kept = mine->find(name);
        if (kept == mine->end() || granted(&given) == false) (*mine)[name] = given;
      }
    } else if (key == "tags" && mine->is_array() && value.is_array()) {
      for (const auto& tag : value) {
        if (std::find(mine->begin(), mine->end(), tag) == mine->end()) mine->push_back(tag);
      }
    } else if (mine->is_object() && value.is_object()) {
      merge_profile(*mine, value);
    }
  }
}

void merge_purchases(std::optional<Purchases>& survivor, const std::optional<Purchases>& absorbed) {
  if (!absorbed) return;
  if (!survivor || survivor->model != absorbed->model) {
    if (!survivor) survivor = absorbed;
    return;
  }
  Purchases& p = *survivor;
  const bool theirs_last = absorbed->last_day > p.last_day;
  p.first_day = std::min(p.first_day, absorbed->first_day);
  p.last_day = std::max(p.last_day, absorbed->last_day);
  p.days += absorbed->days;
  p.repeat_value += absorbed->repeat_value;
  p.valued_days += absorbed->valued_days;
  if (theirs_last) p.last_day_valued = absorbed->last_day_valued;
}

std::vector<std::string> key_claims(const IdentityConfig& config, const nlohmann::json& traits) {
  std::vector<std::string> out;
  if (!traits.is_object()) return out;
  for (const auto& key : config.keys) {
    const auto it = traits.find(key);
    if (it == traits.end() || it->is_null()) continue;
    out.push_back(key + "=" + it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

IdentityGraph::IdentityGraph(std::size_t ids, std::size_t max_ids)
    : max_ids_(max_ids), parent_(ids), size_(ids, 1) {
  for (std::size_t i = 0; i < ids; ++i) parent_[i] = static_cast<std::uint32_t>(i);
}

std::uint32_t IdentityGraph::find(std::uint32_t id) {
  std::uint32_t root = id;
  while (parent_[root] != root) root = parent_[root];
  while (parent_[id] != root) id = std::exchange(parent_[id], root);  // path compression
  return root;
}

IdentityGraph::Result IdentityGraph::link(std::uint32_t a, std::uint32_t b) {
  std::uint32_t ra = find(a);
  std::uint32_t rb = find(b);
  if (ra == rb) return {Linked::Already, size_[ra]};
  const std::size_t total = std::size_t{size_[ra]} + size_[rb];
  if (total > max_ids_) return {Linked::Refused, total};
  // Union by size; on a tie the smaller number is the root, so the order of a and b does not
  // matter.
  if (size_[ra] < size_[rb] || (size_[ra] == size_[rb] && rb < ra)) std::swap(ra, rb);
  parent_[rb] = ra;
  size_[ra] = static_cast<std::uint32_t>(total);
  return {Linked::Merged, total};
}

}  // namespace journey::engine
