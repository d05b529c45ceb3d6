// Partition ownership for the cluster: each partition is owned by one live node at a time,
// through a lease in a JetStream key-value bucket whose entries expire (TTL) unless renewed.
// Every node heartbeats in a second bucket, so each knows how many nodes are live and takes a
// fair share: it renews what it owns, creates leases for free partitions while it holds fewer
// than its share, and gives back what it holds beyond it. The lease alone cannot stop an owner
// that stalled past its TTL (a SIGSTOP, a long pause) from acting once more, so ownership is
// also fenced in the partition's log: a new owner appends a takeover record, and every append of
// an owner expects the sequence of its own last record (PartitionLog), which the takeover moved.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/cluster/nats.hpp"

namespace journey::runtime {

/// How the leases are kept.
struct LeaseSettings {
  std::string node;  // this node's name, unique in the cluster
  int partitions = 64;
  std::int64_t ttl_ms = 5000;    // a lease or heartbeat not renewed for this long expires
  std::int64_t round_ms = 1000;  // renew, take and give back this often
};

/// A thrown append: another node took the partition over since this owner's last record.
class Fenced : public std::runtime_error {
 public:
  explicit Fenced(int partition)
      : std::runtime_error("partition " + std::to_string(partition) + " was taken over"),
        partition_(partition) {}
  int partition() const { return partition_; }

 private:
  int partition_;
};

/// The ordered log of one partition's changes in a stream (subject `<prefix>.<partition>`).
class PartitionLog {
 public:
  PartitionLog(Nats& nats, std::string stream, std::string subject_prefix)
      : nats_(nats), stream_(std::move(stream)), prefix_(std::move(subject_prefix)) {}

  /// Appends a takeover record whatever the log holds; returns its sequence: the new owner's
  /// fence. Any append of an earlier owner after this one fails.
  std::uint64_t take_over(int partition, const std::string& record);
  /// Appends a record if the partition's last record is still `fence` (this owner's last);
  /// returns the record's sequence, the next fence. Throws Fenced when another owner appended.
  /// Retries for up to `retry_ms` while JetStream does not answer (a stream electing a leader):
  /// the record's Nats-Msg-Id (the subject and the fence) makes a retry of a record that was
  /// stored, but whose acknowledgement was lost, return the stored one instead of a fence error.
  std::uint64_t append(int partition, std::uint64_t fence, const std::string& record,
                       std::int64_t retry_ms = 10'000);

  std::string subject(int partition) const { return prefix_ + "." + std::to_string(partition); }
  /// The Nats-Msg-Id of the record that follows `fence`: a retry of a stored record is answered
  /// as a duplicate with its sequence, not refused by the fence it moved.
  std::string message_id(int partition, std::uint64_t fence) const {
    return subject(partition) + ":" + std::to_string(fence);
  }
  const std::string& stream() const { return stream_; }
  Nats& nats() const { return nats_; }

 private:
  Nats& nats_;
  std::string stream_;
  std::string prefix_;
};

/// A partition this node owns: its lease's revision and its fence in the partition log.
struct Ownership {
  int partition = 0;
  std::uint64_t lease_revision = 0;
  std::uint64_t fence = 0;
  // When the last renewal JetStream acknowledged was asked for (the lease runs from no earlier)
  std::chrono::steady_clock::time_point renewed_at;
};

class PartitionLeases {
 public:
  /// Called on the leases' threads: `acquired` once the partition's takeover record is in its
  /// log, `lost` when a lease could not be renewed or (`given_back`) is about to be given back:
  /// stop acting on it at once (when given back, the lease goes once `lost` returned, so what
  /// is in hand may be finished first).
  struct Events {
    std::function<void(const Ownership&)> acquired;
    std::function<void(int partition, bool given_back)> lost;
    /// The node's heartbeat value (its address, what it owns); the node's name when unset.
    std::function<std::string()> heartbeat{};
  };

  PartitionLeases(KeyValue& leases, KeyValue& nodes, PartitionLog& log, LeaseSettings settings,
                  Events events);
  ~PartitionLeases();
  PartitionLeases(const PartitionLeases&) = delete;
  PartitionLeases& operator=(const PartitionLeases&) = delete;

  /// Renews every round_ms on one thread, and balances (heartbeat, fair share, give back, take)
  /// every round_ms on another, so that a slow answer to the balancing never delays a renewal.
  void start();
  /// Ends the thread; with `give_back`, deletes this node's leases and heartbeat so that the
  /// others take the partitions over at once instead of after the TTL.
  void stop(bool give_back);

  /// One round: renew, heartbeat, give back beyond the fair share, take free partitions up to it.
  /// A lease another node holds now is lost at once; one that could not be renewed (JetStream
  /// unreachable, electing a leader) is kept until its TTL has passed since the last renewal, then
  /// lost too. Other failures skip the rest of the round (logged).
  void round();

  /// The partitions owned now.
  std::map<int, Ownership> owned() const;
  /// Whether the partition is owned and its lease was renewed within the TTL: an owner that was
  /// paused past it must not act on the partition, whether or not it has noticed the loss yet.
  bool holds(int partition) const;
  /// Stops acting on the partition (`lost`), then frees its lease for the others.
  void give_back(int partition);
  /// Stops acting on the partition (`lost`) and renewing its lease, which expires after the TTL
  /// (another node may hold it already: it is not deleted); only when it is still the ownership
  /// whose takeover record is `fence` (not a later one).
  void forget(int partition, std::uint64_t fence, const char* why);

 private:
  void lose(int partition, const char* why);
  void renew();
  void balance();
  std::size_t fair_share();
  void take_free(std::size_t share);
  /// Calls `step` every round_ms until stop().
  void every_round(const std::function<void()>& step);

  KeyValue& leases_;
  KeyValue& nodes_;
  PartitionLog& log_;
  AsyncPublisher renewals_;  // every lease renewed at once, on a JetStream context of its own
  LeaseSettings settings_;
  Events events_;
  mutable std::mutex mutex_;  // owned_, heartbeats_
  std::map<int, Ownership> owned_;
  // node -> when its heartbeat was last seen here (the watch of the nodes bucket)
  std::map<std::string, std::chrono::steady_clock::time_point> heartbeats_;
  std::shared_ptr<void> watch_;
  std::mutex stop_mutex_;
  std::condition_variable stop_wake_;
  bool stopping_ = false;
  std::thread renewer_;
  std::thread balancer_;
};

/// The lease key of a partition: "p<N>".
std::string lease_key(int partition);

}  // namespace journey::runtime
