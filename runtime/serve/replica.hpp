// The seam between the daemon's parts and a cluster (runtime/serve/cluster_node.hpp): what a
// node does beyond its own store for the committer and the shards. A single node has none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/time.hpp"
#include "runtime/serve/committer.hpp"

namespace journey::runtime {

class Replica {
 public:
  virtual ~Replica() = default;
  /// Before the local transaction: appends each commit to its partition's log (fenced by this
  /// node's ownership) and publishes its actions. One entry per commit: false when it must not be
  /// applied (the partition was taken over, or its log could not be reached).
  virtual std::vector<bool> append(std::vector<PendingCommit>& commits) = 0;
  /// After the local transaction of the commits last appended: `ok` false when it failed (the
  /// local copy then lacks what the logs hold).
  virtual void applied(bool ok) = 0;
  /// Before a customer's erasure at `at` (the event at `sequence` of its partition): its
  /// tombstones (the id and `message_ids`, as keyed hashes) and the erasure's record go to the
  /// cluster. False when the partition is no longer this node's.
  virtual bool erasing(int partition, const std::string& customer_id, std::uint64_t sequence,
                       engine::Millis at, const std::vector<std::string>& message_ids) = 0;
  /// After the local erasure: the customer leaves the cluster's streams and buckets too.
  virtual void erased(int partition, const std::string& customer_id) = 0;
  /// A group of the partition's inputs was not committed (a local read or erasure failed). Its
  /// events are acknowledged in the cluster's stream: the node lets the partition go, and its
  /// next owner (this node again, perhaps) processes them from the log's cursor.
  virtual void refused(int partition) = 0;
};

}  // namespace journey::runtime
