// The erased customers in memory: keyed hashes of their ids and when each was erased (the store
// keeps the same rows, see Store::erased_customers()). Read on every cache miss of a shard, so
// that checking costs nothing while there are none.
#pragma once

#include <atomic>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/time.hpp"

namespace journey::runtime {

class Tombstones {
 public:
  void add(std::string id_hash, engine::Millis at) {
    std::unique_lock lock(mutex_);
    erased_[std::move(id_hash)] = at;
    size_ = erased_.size();
  }
  /// Replaces every tombstone (at start, and after the retention removed some).
  void assign(const std::vector<std::pair<std::string, engine::Millis>>& rows) {
    std::unique_lock lock(mutex_);
    erased_.clear();
    for (const auto& [hash, at] : rows) erased_[hash] = at;
    size_ = erased_.size();
  }
  bool empty() const { return size_.load() == 0; }
  /// When the customer with this id hash was erased, if it was.
  std::optional<engine::Millis> find(const std::string& id_hash) const {
    std::shared_lock lock(mutex_);
    auto it = erased_.find(id_hash);
    if (it == erased_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, engine::Millis> erased_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace journey::runtime
