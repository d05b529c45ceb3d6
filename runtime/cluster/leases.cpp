#include "runtime/cluster/leases.hpp"

#include <algorithm>
#include <vector>

#include "engine/hash.hpp"
#include "runtime/cluster/records.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

std::string lease_key(int partition) {
  return "p" + std::to_string(partition);
}

std::uint64_t PartitionLog::take_over(int partition, const std::string& record) {
  return nats_.publish(subject(partition), record).sequence;
}

std::uint64_t PartitionLog::append(int partition, std::uint64_t fence, const std::string& record,
                                   std::int64_t retry_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  const auto msg_id = message_id(partition, fence);
  for (;;) {
    try {
      return nats_.publish(subject(partition), record, msg_id, fence).sequence;
    } catch (const NatsError& e) {
      if (e.js_code() == kJsWrongLastSequence) throw Fenced(partition);
      if (!e.transient() || std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

PartitionLeases::PartitionLeases(KeyValue& leases, KeyValue& nodes, PartitionLog& log,
                                 LeaseSettings settings, Events events)
    : leases_(leases),
      nodes_(nodes),
      log_(log),
      renewals_(log.nats(), 4096),
      settings_(std::move(settings)),
      events_(std::move(events)) {}

PartitionLeases::~PartitionLeases() {
  stop(false);
}

void PartitionLeases::every_round(const std::function<void()>& step) {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_) {
    lock.unlock();
    step();
    lock.lock();
    stop_wake_.wait_for(lock, std::chrono::milliseconds(settings_.round_ms),
                        [this] { return stopping_; });
  }
}

void PartitionLeases::start() {
  watch_ = nodes_.watch(">", [this](const KeyedEntry& entry, bool deleted) {
    std::lock_guard lock(mutex_);
    if (deleted) {
      heartbeats_.erase(entry.key);
    } else {
      heartbeats_[entry.key] = std::chrono::steady_clock::now();
    }
  });
  renewer_ = std::thread([this] { every_round([this] { renew(); }); });
  balancer_ = std::thread([this] { every_round([this] { balance(); }); });
}

void PartitionLeases::stop(bool give_back_all) {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (balancer_.joinable()) balancer_.join();
  watch_.reset();
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

bool PartitionLeases::holds(int partition) const {
  std::lock_guard lock(mutex_);
  auto it = owned_.find(partition);
  return it != owned_.end() && std::chrono::steady_clock::now() - it->second.renewed_at <
                                   std::chrono::milliseconds(settings_.ttl_ms);
}

void PartitionLeases::give_back(int partition) {
  {
    std::lock_guard lock(mutex_);
    if (owned_.erase(partition) == 0) return;
  }
  // First stop acting on it, then free the lease for the others.
  if (events_.lost) events_.lost(partition, true);
  try {
    leases_.erase(lease_key(partition));
  } catch (const NatsError& e) {  // it expires after the TTL instead
    log(LogLevel::Warn, "cluster: a lease could not be given back",
        {{"partition", partition}, {"error", e.what()}});
  }
}

void PartitionLeases::lose(int partition, const char* why) {
  {
    std::lock_guard lock(mutex_);
    if (owned_.erase(partition) == 0) return;
  }
  log(LogLevel::Warn, "cluster: lease lost", {{"partition", partition}, {"why", why}});
  if (events_.lost) events_.lost(partition, false);
}

void PartitionLeases::forget(int partition, std::uint64_t fence, const char* why) {
  {
    std::lock_guard lock(mutex_);
    auto it = owned_.find(partition);
    if (it == owned_.end() || it->second.fence != fence) return;
  }
  lose(partition, why);
}

void PartitionLeases::renew() {
  const auto ttl = std::chrono::milliseconds(settings_.ttl_ms);
  const auto mine = owned();
  if (mine.empty()) return;
  // All at once: one by one, a loaded cluster's round trips add up past the TTL.
  std::vector<Outgoing> out;
  out.reserve(mine.size());
  for (const auto& [partition, ownership] : mine) {
    out.push_back(
        {leases_.subject(lease_key(partition)), "", settings_.node, ownership.lease_revision, {}});
  }
  const auto asked = std::chrono::steady_clock::now();
  const auto results = renewals_.publish(out, settings_.ttl_ms);
  auto result = results.begin();
  for (const auto& [partition, ownership] : mine) {
    const auto& answer = *result++;
    if (answer.error.empty()) {
      std::lock_guard lock(mutex_);
      if (auto it = owned_.find(partition);
          it != owned_.end() && it->second.fence == ownership.fence) {
        it->second.lease_revision = answer.sequence;
        it->second.renewed_at = asked;
      }
      continue;
    }
    if (answer.js_code != kJsWrongLastSequence) {  // no answer (JetStream unreachable, electing)
      if (std::chrono::steady_clock::now() - ownership.renewed_at >= ttl) {
        lose(partition, "not renewed within the TTL");
      }
      continue;
    }
    // Not the revision this node knew. A renewal whose answer was lost (a stream electing its
    // leader) moved it: the lease is still this node's, at its current revision (the next renewal
    // uses it; the time of renewal stays that of the last one answered). Otherwise another node
    // holds it, or nobody (it expired).
    try {
      const auto held = leases_.get(lease_key(partition));
      if (held && held->value == settings_.node) {
        std::lock_guard lock(mutex_);
        if (auto it = owned_.find(partition); it != owned_.end()) {
          it->second.lease_revision = held->revision;
        }
        continue;
      }
      lose(partition, held ? "taken by another node" : "expired");
    } catch (const NatsError&) {
      if (std::chrono::steady_clock::now() - ownership.renewed_at >= ttl) {
        lose(partition, "not renewed within the TTL");
      }
    }
  }
}

std::size_t PartitionLeases::fair_share() {
  try {
    nodes_.put(settings_.node, events_.heartbeat ? events_.heartbeat() : settings_.node);
  } catch (const NatsError& e) {
    log(LogLevel::Warn, "cluster: heartbeat failed", {{"error", e.what()}});
  }
  // Live nodes: those whose heartbeat this node saw within the TTL (an expired heartbeat leaves
  // no trace in the bucket's changes, so the time it was seen here decides), this one included.
  std::size_t live = 1;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [node, seen] : heartbeats_) {
      if (node != settings_.node && now - seen < std::chrono::milliseconds(settings_.ttl_ms)) {
        ++live;
      }
    }
  }
  const auto partitions = static_cast<std::size_t>(settings_.partitions);
  return (partitions + live - 1) / live;
}

void PartitionLeases::take_free(std::size_t share) {
  // Each node starts its scan at a different place, so that nodes starting together do not race
  // for the same leases. A create fails at once for a lease another node holds.
  const int start = static_cast<int>(engine::stable_hash(settings_.node, 0) %
                                     static_cast<std::uint64_t>(settings_.partitions));
  // The renewals run meanwhile and may drop a lease: the counts are read afresh, not copied.
  const auto count = [this] {
    std::lock_guard lock(mutex_);
    return owned_.size();
  };
  for (int k = 0; k < settings_.partitions && count() < share; ++k) {
    const int partition = (start + k) % settings_.partitions;
    {
      std::lock_guard lock(mutex_);
      if (owned_.count(partition) > 0) continue;
    }
    const auto asked = std::chrono::steady_clock::now();
    auto revision = leases_.create(lease_key(partition), settings_.node);
    if (!revision) continue;  // another node was quicker
    Ownership ownership{partition, *revision, 0, asked};
    LogRecord record;
    record.kind = LogRecord::Kind::Takeover;
    record.node = settings_.node;
    record.lease_revision = *revision;
    ownership.fence = log_.take_over(partition, encode(record));
    {
      std::lock_guard lock(mutex_);
      owned_[partition] = ownership;
    }
    log(LogLevel::Info, "cluster: partition taken",
        {{"partition", partition}, {"fence", ownership.fence}});
    if (events_.acquired) events_.acquired(ownership);
  }
}

void PartitionLeases::balance() {
  const auto share = fair_share();
  // Beyond the share (another node joined): give back the highest partitions.
  for (auto mine = owned(); mine.size() > share; mine = owned()) give_back(mine.rbegin()->first);
  try {
    take_free(share);
  } catch (const NatsError& e) {
    log(LogLevel::Warn, "cluster: taking partitions failed", {{"error", e.what()}});
  }
}

void PartitionLeases::round() {
  renew();
  balance();
}

}  // namespace journey::runtime
