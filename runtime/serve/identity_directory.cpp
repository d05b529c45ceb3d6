#include "runtime/serve/identity_directory.hpp"

#include <algorithm>
#include <set>

namespace journey::runtime {

void IdentityDirectory::load(const IdentityRows& rows) {
  for (const auto& [id, customer] : rows.links) {
    customer_[id] = customer;
    ids_[customer].push_back(id);
  }
  for (const auto& [claim, id] : rows.claims) claims_[claim] = id;
}

std::string IdentityDirectory::customer_of(const std::string& id) const {
  const auto it = customer_.find(id);
  return it == customer_.end() ? id : it->second;
}

std::vector<std::string> IdentityDirectory::ids_of(const std::string& customer) const {
  const auto it = ids_.find(customer);
  if (it == ids_.end()) return {customer};
  std::vector<std::string> ids = it->second;
  std::sort(ids.begin(), ids.end());
  return ids;
}

IdentityDirectory::Resolution IdentityDirectory::resolve(const engine::Event& event) {
  Resolution out;
  const std::string& linked = event.linked_id();
  if (!linked.empty())
    link(event.customer_id, linked,
         event.type == engine::Event::Type::Alias ? "alias" : "anonymousId", out);
  if (event.type == engine::Event::Type::Identify && !config_.keys.empty()) {
    for (const auto& claim : engine::key_claims(config_, event.properties)) {
      const auto [it, fresh] = claims_.emplace(claim, event.customer_id);
      if (fresh) {
        out.claims.emplace_back(claim, event.customer_id);
        continue;
      }
      link(event.customer_id, it->second, "key " + claim.substr(0, claim.find('=')), out);
    }
  }
  out.customer = customer_of(event.customer_id);
  return out;
}

void IdentityDirectory::link(const std::string& id, const std::string& other,
                             const std::string& cause, Resolution& out) {
  const std::string customer = customer_of(id);
  const std::string absorbed = customer_of(other);
  if (customer == absorbed) return;
  std::vector<std::string> theirs = ids_of(absorbed);
  const auto mine = ids_.find(customer);
  const std::size_t total = (mine == ids_.end() ? 1 : mine->second.size()) + theirs.size();
  if (total > config_.max_ids) {
    out.refused.push_back(
        "merge of " + other + " and " + id + " (" + cause + ") refused: " + std::to_string(total) +
        " ids would exceed the bound of " + std::to_string(config_.max_ids) + " per customer");
    return;
  }
  auto& ids = ids_[customer];
  if (ids.empty()) ids.push_back(customer);
  for (const auto& t : theirs) {
    customer_[t] = customer;
    ids.push_back(t);
  }
  customer_[customer] = customer;
  ids_.erase(absorbed);
  out.merges.push_back({absorbed, std::move(theirs), cause});
}

void IdentityDirectory::forget(const std::string& customer) {
  const auto ids = ids_of(customer);
  const std::set<std::string> gone(ids.begin(), ids.end());
  for (const auto& id : ids) customer_.erase(id);
  ids_.erase(customer);
  for (auto it = claims_.begin(); it != claims_.end();) {
    it = gone.count(it->second) != 0 ? claims_.erase(it) : std::next(it);
  }
}

}  // namespace journey::runtime
