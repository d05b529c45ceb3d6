// Where a cluster keeps what: the names of its streams, subjects and key-value buckets, which
// partition a customer belongs to, and the pseudonymous key that names a customer in subjects and
// keys. Every node computes the same names from the same [cluster] settings.
//
//   JOURNEY_EVENTS   journey.events.<partition>.<customer key>   accepted events (and erasures),
//                    Nats-Msg-Id per event, kept for retention.timeline
//   JOURNEY_LOG      journey.log.<partition>                      each partition's changes, fenced
//   JOURNEY_OUTBOX   journey.outbox.<partition>.<customer key>    actions to deliver (work queue),
//                    Nats-Msg-Id = action id
//   KV journey_customers   <partition>.<customer key>   each customer's state (materialized)
//   KV journey_partitions  p<partition>                 each partition's cursor, counters, runs
//   KV journey_leases, journey_nodes                    ownership (leases.hpp)
//   KV journey_erased      c.<hash>, m.<hash>           erasure tombstones
//   KV journey_meta        secret, live, d.<id>         the cluster's key, its deployments
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/cluster/nats.hpp"
#include "runtime/common/config.hpp"

namespace journey::runtime {

inline constexpr const char* kEventsStream = "JOURNEY_EVENTS";
inline constexpr const char* kLogStream = "JOURNEY_LOG";
inline constexpr const char* kOutboxStream = "JOURNEY_OUTBOX";

/// The partition of a customer: the stable hash the single node's shards use, modulo the
/// partition count.
int partition_of(std::string_view customer_id, int partitions);

/// The names of one cluster, and the cluster's secret key (HMAC-SHA256) that turns customer ids
/// into the keys its subjects and buckets use, so that no id appears in a subject.
class Layout {
 public:
  Layout(int partitions, std::string secret)
      : partitions_(partitions), secret_(std::move(secret)) {}

  int partitions() const { return partitions_; }
  /// The secret (raw bytes): the key of every keyed hash of the cluster.
  const std::string& secret() const { return secret_; }
  /// HMAC-SHA256 of `text` with the cluster's secret (32 raw bytes).
  std::string keyed_hash(std::string_view text) const;
  /// The customer's key in subjects and buckets: 32 hex digits of its keyed hash.
  std::string customer_key(std::string_view customer_id) const;

  std::string event_subject(int partition, const std::string& key) const;
  std::string outbox_subject(int partition, const std::string& key) const;
  static std::string events_of(int partition);  // journey.events.<p>.>
  static std::string outbox_of(int partition);  // journey.outbox.<p>.>
  static std::string log_subject(int partition);
  static std::string customer_entry(int partition, const std::string& key);  // <p>.<key>
  static std::string customers_of(int partition);                            // <p>.>
  static std::string partition_entry(int partition);                         // p<p>
  static std::string outbox_consumer(int partition);  // the durable consumer: outbox-<p>
  /// The subject a node answers customer reads on, for a partition it owns.
  static std::string read_subject(int partition);

 private:
  int partitions_;
  std::string secret_;
};

/// Lower-case hex of bytes.
std::string hex(std::string_view bytes);
/// Bytes of lower-case hex; empty when malformed.
std::string unhex(std::string_view text);

/// The cluster's connection and buckets, the streams created (with the configured replicas) when
/// missing, and its secret (made by the first node, read by the others).
struct ClusterHandles {
  std::unique_ptr<Nats> nats;
  std::unique_ptr<KeyValue> customers;
  std::unique_ptr<KeyValue> partition_meta;
  std::unique_ptr<KeyValue> leases;
  std::unique_ptr<KeyValue> nodes;
  std::unique_ptr<KeyValue> erased;
  std::unique_ptr<KeyValue> meta;
  std::unique_ptr<Layout> layout;
};

/// A node's configuration contradicts the cluster's (its partition count): no retry can help.
struct ClusterMismatch : NatsError {
  explicit ClusterMismatch(const std::string& what) : NatsError(what, 0, false) {}
};

/// Connects as `config.node` and makes sure every stream and bucket exists, retrying for up to
/// 60 s what JetStream does not answer yet (leaders being elected). With `wait_for_servers` (a
/// node starting), every other failure but a ClusterMismatch is retried too: servers not up yet
/// (a node may start before them) or a JetStream that does not know its peers yet. Throws
/// NatsError (the last one) after that.
ClusterHandles open_cluster(const ClusterConfig& config, const Retention& retention,
                            bool wait_for_servers);

}  // namespace journey::runtime
