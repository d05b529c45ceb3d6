// What a cluster node keeps about each partition (cluster_node.cpp, cluster_commit.cpp,
// cluster_api.cpp): whether it owns it, where its log and its consumption stand, and what has to
// be copied to the buckets next.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/cluster/nats.hpp"
#include "runtime/cluster/records.hpp"
#include "runtime/serve/cluster_node.hpp"

namespace journey::runtime {

struct ClusterNode::Partition {
  /// The state below, held briefly (the committer's appends hold it for their round trip). Never
  /// held while waiting for the committer, which may be waiting for it.
  std::mutex mutex;
  /// Takeover, materializing and erasures, one at a time (long: they wait on JetStream and on the
  /// committer). Taken before `mutex`, never while holding it.
  std::mutex copy_mutex;
  /// The subscriptions (events, outbox, reads), for whoever uses one.
  std::mutex subs_mutex;
  /// Held by the dispatcher while it delivers a batch of the partition's outbox.
  std::mutex dispatch_mutex;
  std::atomic<bool> owned{false};
  std::uint64_t takeover = 0;               // this ownership's takeover record (its first fence)
  std::uint64_t fence = 0;                  // this node's last record in the partition's log
  std::uint64_t applied = 0;                // the last record the local copy reflects
  std::uint64_t materialized = 0;           // the last record the buckets reflect
  std::uint64_t cursor = 0;                 // the last event consumed (by the records appended)
  std::atomic<std::uint64_t> submitted{0};  // the last event handed to the shard
  CounterValues counters;                   // as of `applied`
  RunCounts runs;                           // as of `applied`
  std::set<std::string> dirty;              // customers applied since the last materialization
  std::uint64_t meta_revision = 0;          // of the partition's value in the partitions bucket
  std::shared_ptr<Subscription> events;     // the event stream's consumer
  std::shared_ptr<Subscription> outbox;     // the outbox's durable consumer
  std::shared_ptr<Subscription> reads;      // reads of its customers by other nodes
  std::atomic<bool> has_actions{false};     // the dispatcher should look
  std::atomic<std::uint64_t> lag{0};        // events not consumed yet, as last asked
  std::atomic<std::uint64_t> wakeups{0};    // pending wake-ups of its customers, as last counted
};

/// What append() did for one partition, for applied().
struct ClusterNode::Appended {
  int partition = 0;
  std::uint64_t takeover = 0;  // the ownership it was appended under
  std::uint64_t fence = 0;
  std::vector<CounterDelta> counters;
  std::vector<std::pair<std::vector<StoredRun>, std::vector<StoredRun>>> run_changes;  // old, new
  std::vector<std::string> customers;
  bool actions = false;
};

/// One name per distinct sink (the dispatcher keeps one Sink each).
inline std::string sink_key(const SinkSpec& spec) {
  return (spec.kind == SinkSpec::Kind::File ? "file:" : "webhook:") + spec.target;
}

}  // namespace journey::runtime
