#include "runtime/cluster/leases.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include "engine/hash.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

std::string lease_key(int partition) { return "p" + std::to_string(partition); }

std::uint64_t PartitionLog::take_over(int partition, const std::string& record) {
  return nats_.publish(subject(partition), record).sequence;
}

std::uint64_t PartitionLog::append(int partition, std::uint64_t fence, const std::string& record) {
  try {
    return nats_.publish(subject(partition), record, "", fence).sequence;
  } catch (const NatsError& e) {
    if (e.js_code() == kJsWrongLastSequence) throw Fenced(partition);
    throw;
  }
}

PartitionLeases::PartitionLeases(KeyValue& leases, KeyValue& nodes, PartitionLog& log,
                                 LeaseSettings settings, Events events)
    : leases_(leases),
      nodes_(nodes),
      log_(log),
      settings_(std::move(settings)),
      events_(std::move(events)) {}

PartitionLeases::~PartitionLeases() { stop(false); }

void PartitionLeases::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(stop_mutex_);
    while (!stopping_) {
      lock.unlock();
      round();
      lock.lock();
      stop_wake_.wait_for(lock, std::chrono::milliseconds(settings_.round_ms),
                          [this] { return stopping_; });
    }
  });
}

void PartitionLeases::stop(bool give_back_all) {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!give_back_all) return;
  for (const auto& [partition, ownership] : owned()) give_back(partition);
  try {
    nodes_.erase(settings_.node);
  } catch (const NatsError& e) {
    log(LogLevel::Warn, "cluster: the heartbeat could not be removed", {{"error", e.what()}});
  }
}

std::map<int, Ownership> PartitionLeases::owned() const {
  std::lock_guard lock(mutex_);
  return owned_;
}

void PartitionLeases::give_back(int partition) {
  {
    std::lock_guard lock(mutex_);
    if (owned_.erase(partition) == 0) return;
  }
  // First stop acting on it, then free the lease for the others.
  if (events_.lost) events_.lost(partition);
  try {
    leases_.erase(lease_key(partition));
  } catch (const NatsError& e) {  // it expires after the TTL instead
    log(LogLevel::Warn, "cluster: a lease could not be given back",
        {{"partition", partition}, {"error", e.what()}});
  }
}

void PartitionLeases::round() {
  try {
    nodes_.put(settings_.node, settings_.node);
    const auto live_nodes = std::max<std::size_t>(1, nodes_.keys().size());
    const auto share = static_cast<std::size_t>(
        (static_cast<std::size_t>(settings_.partitions) + live_nodes - 1) / live_nodes);

    // Renew what is owned; a lease that moved on (expired and taken) is lost.
    for (const auto& [partition, ownership] : owned()) {
      auto revision = leases_.update(lease_key(partition), settings_.node, ownership.lease_revision);
      if (revision) {
        std::lock_guard lock(mutex_);
        owned_[partition].lease_revision = *revision;
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        owned_.erase(partition);
      }
      log(LogLevel::Warn, "cluster: lease lost", {{"partition", partition}});
      if (events_.lost) events_.lost(partition);
    }

    // Beyond the fair share (another node joined): give back the highest partitions.
    for (;;) {
      auto mine = owned();
      if (mine.size() <= share) break;
      give_back(mine.rbegin()->first);
    }

    // Free partitions, taken up to the share. Each node starts its scan at a different place, so
    // that nodes starting together do not race for the same leases.
    const auto held = leases_.keys();
    const std::set<std::string> taken(held.begin(), held.end());
    const int start = static_cast<int>(engine::stable_hash(settings_.node, 0) %
                                       static_cast<std::uint64_t>(settings_.partitions));
    for (int k = 0; k < settings_.partitions && owned().size() < share; ++k) {
      const int partition = (start + k) % settings_.partitions;
      if (taken.count(lease_key(partition)) > 0) continue;
      auto revision = leases_.create(lease_key(partition), settings_.node);
      if (!revision) continue;  // another node was quicker
      Ownership ownership{partition, *revision, 0};
      const nlohmann::json record = {
          {"type", "takeover"}, {"node", settings_.node}, {"lease_revision", *revision}};
      ownership.fence = log_.take_over(partition, record.dump());
      {
        std::lock_guard lock(mutex_);
        owned_[partition] = ownership;
      }
      log(LogLevel::Info, "cluster: partition taken",
          {{"partition", partition}, {"fence", ownership.fence}});
      if (events_.acquired) events_.acquired(ownership);
    }
  } catch (const NatsError& e) {
    log(LogLevel::Warn, "cluster: lease round failed", {{"error", e.what()}});
  }
}

}  // namespace journey::runtime
