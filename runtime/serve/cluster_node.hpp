// The daemon as one node of a cluster on NATS JetStream (`[cluster]` in journey.toml). Every node
// takes events over HTTP and publishes them to the event stream, one subject per partition; each
// partition is owned by one live node (a lease, runtime/cluster/leases.hpp) that consumes its
// events through a shard of its own, appends every group commit to the partition's log (fenced by
// its ownership) before applying it to its local SQLite copy, publishes the actions to the outbox
// stream and delivers them, and copies each customer's state to the customers bucket so that the
// log can be cut. A node that takes a partition over rebuilds its local copy from the bucket and
// the log, and continues from the last event the log records. See docs/operations.md, Cluster.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "runtime/cluster/layout.hpp"
#include "runtime/cluster/leases.hpp"
#include "runtime/cluster/records.hpp"
#include "runtime/common/clock.hpp"
#include "runtime/common/config.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/deliver/sinks.hpp"
#include "runtime/http/api.hpp"
#include "runtime/serve/committer.hpp"
#include "runtime/serve/deployments.hpp"
#include "runtime/serve/replica.hpp"
#include "runtime/serve/shard.hpp"
#include "runtime/serve/timers.hpp"
#include "runtime/serve/tombstones.hpp"

namespace journey::runtime {

/// What an ingest request came to.
struct IngestAnswer {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::size_t erased = 0;
  std::string error;  // not empty: some events were not stored (503)
};

/// An answer made elsewhere (another node, a blocking call): an HTTP status and a JSON body.
using Answer = std::pair<int, nlohmann::json>;

class ClusterNode final : public Replica {
 public:
  /// The daemon's parts the node works with; they outlive it.
  struct Parts {
    Storage& storage;
    Committer& committer;
    TimerQueue& timers;
    Tombstones& tombstones;
    Deployments& deployments;
    /// The shard of a partition (the daemon has one per partition).
    std::function<Shard&(int partition)> shard;
    /// Answers a read ("customer" or "explain") of a customer of a partition this node owns.
    std::function<Answer(const std::string& kind, const std::string& customer_id)> read;
    /// The address the node's HTTP server listens on, for `journey cluster status`.
    std::string listen;
  };

  /// Connects to the cluster and makes sure its streams and buckets exist. Throws NatsError.
  ClusterNode(const Config& config, Metrics& metrics, Clock clock);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  /// The cluster's names and keyed hashes (its secret is the local store's key too).
  const Layout& layout() const { return *handles_.layout; }

  /// Before the deployments start: copies the cluster's deployments into the local store. True
  /// when the cluster has a live one (the node serves it rather than its journeys directory).
  bool fetch_deployments(Store& store);
  /// Starts: erasure tombstones, shared deployments, leases (partitions are taken and rebuilt
  /// from then on), the materializer and the dispatcher.
  void start(Parts parts);
  /// Stops consuming events (shutdown: what the shards hold is still committed).
  void quiesce();
  /// Stops: copies every partition it owns to the buckets and gives it back (others take them
  /// over at once). Then the threads end.
  void stop();

  /// POST /v1/track|identify|batch: publishes the events to their partitions; `done` (on a client
  /// thread) once JetStream acknowledged every one of them, or gave up.
  void ingest(std::vector<IngestItem> items, std::function<void(IngestAnswer)> done);
  /// DELETE /v1/customers/{id}: the erasure goes to the customer's partition, in order with its
  /// events; `done` with the owner's answer, or 202 when it did not answer in time.
  void erase(const std::string& customer_id, std::function<void(Answer)> done);
  /// GET /v1/customers/{id}[/explain]: answered here for a partition this node owns, else by its
  /// owner; `done` on a thread of the node's own.
  void read(const std::string& kind, const std::string& customer_id,
            std::function<void(Answer)> done);
  /// Fired wake-ups: to the shards of the partitions owned; the others are dropped (their owner
  /// fires them).
  void hand_off(std::vector<ShardInput> inputs);
  /// Whether this node owns the partition now (and its lease is current).
  bool owns(int partition) const;

  /// GET /v1/journeys: the counters and the runs per step of every partition, as the partitions
  /// bucket holds them (each owner copies its partitions there every materialize_every).
  std::pair<std::vector<CounterRow>, std::vector<std::pair<StoredRun, std::size_t>>> totals();
  /// GET /v1/cluster and `journey cluster status`: nodes, partitions, owners, lag.
  nlohmann::json status();
  /// This node's cluster gauges for /metrics (per partition: owned, lag, pending wake-ups).
  std::map<std::string, double> gauges();

  // Replica (the committer and the shards).
  std::vector<bool> append(std::vector<PendingCommit>& commits) override;
  void applied(bool ok) override;
  bool erasing(int partition, const std::string& customer_id, std::uint64_t sequence,
               engine::Millis at, const std::vector<std::string>& message_ids) override;
  void erased(int partition, const std::string& customer_id) override;
  void refused(int partition) override;

  /// The cluster's status as `journey cluster status` reads it, without a node of its own.
  static nlohmann::json read_status(const ClusterConfig& config, const Retention& retention);

 private:
  struct Partition;
  struct Appended;

  Partition& partition(int p) const { return *partitions_[static_cast<std::size_t>(p)]; }
  /// Leases: a partition was taken (its takeover record is in the log) / is lost.
  void acquired(const Ownership& ownership);
  /// The takeover of a partition acquired: its local copy rebuilt, its consumers started.
  void take_over(const Ownership& ownership);
  void lost(int p, bool given_back);
  /// What a takeover found: where the partition's log and consumption stand.
  struct Rebuilt {
    std::size_t customers = 0;
    std::uint64_t cursor = 0;
    std::uint64_t materialized = 0;
    std::uint64_t meta_revision = 0;
    CounterValues counters;
    RunCounts runs;
    std::set<std::string> dirty;  // customers whose newest state only the log held
  };
  /// Rebuilds the local copy of a partition just taken: the log, then the buckets.
  Rebuilt rebuild(int p);
  /// Removes a customer (by key) from the partition's streams and the customers bucket.
  void erase_copies(int p, const std::string& key);
  /// Starts consuming the partition's events, actions and reads.
  void subscribe(int p, Partition& part);
  /// Keeps a subscription just made in its slot, unless the partition was lost meanwhile.
  void install(Partition& part, std::shared_ptr<Subscription>& slot,
               std::unique_ptr<Subscription> made);
  /// (Re)makes the consumer of the partition's events (one copy, or `replicated`) / outbox.
  void open_events(int p, Partition& part, bool replicated);
  void open_outbox(Partition& part, int p);
  /// The event consumer stopped answering (its server went away): another one.
  void reopen_events(int p);
  /// One event stream message of an owned partition, to its shard.
  void consume(int p, Message message);
  /// Publishes actions (with their partitions) to the outbox stream and waits for them, again
  /// while the stream does not answer and this node holds their partitions; the partitions whose
  /// actions could not be stored.
  std::set<int> publish_actions(const std::vector<std::pair<int, const OutboxEntry*>>& actions);
  /// Appends one record (after `part.fence`) to the partition's log; the new fence, or nothing
  /// when fenced out or unreachable. `part.mutex` held.
  std::optional<std::uint64_t> append_record(int p, Partition& part, const std::string& record);
  /// Copies the partition's customers written since the last time to the customers bucket, then
  /// its counters and cursor to the partitions bucket, then (`cut_log`) cuts the log before
  /// them. `part.copy_mutex` held.
  void materialize(int p, Partition& part, bool cut_log = true);
  void materialize_loop();
  void dispatch_loop();
  /// Delivers one fetched batch of a partition's outbox; whether there was any.
  bool dispatch(int p, Partition& part);
  std::string heartbeat();
  /// Answers a read request from another node, for a partition this node owns.
  std::string answer_read(int p, std::string_view request);
  /// A loss of the partition found while acting on it under the ownership whose takeover record
  /// is `takeover` (fenced, or the log unreachable); a later ownership stays.
  void give_up(int p, std::uint64_t takeover, const char* why);

  const Config& config_;
  const ClusterConfig& cluster_;
  Metrics& metrics_;
  Clock clock_;
  ClusterHandles handles_;
  std::unique_ptr<PartitionLog> log_;
  std::unique_ptr<AsyncPublisher> ingest_publisher_;  // events (the HTTP path)
  std::unique_ptr<AsyncPublisher> publisher_;         // records, actions, bucket values
  std::optional<Parts> parts_;
  std::unique_ptr<Store> store_;  // reads of the local copy (materializer, dispatcher, status)
  std::unique_ptr<PartitionLeases> leases_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::vector<Appended> appended_;  // the committer's: between append() and applied()
  std::shared_ptr<void> erased_watch_;
  std::shared_ptr<void> deployments_watch_;
  std::map<std::string, std::unique_ptr<Sink>> sinks_;  // by sink_key(), for the dispatcher
  boost::asio::thread_pool calls_{4};      // blocking calls to other nodes (reads, erasures)
  boost::asio::thread_pool takeovers_{8};  // partitions being taken over
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::thread materializer_;
  std::thread dispatcher_;
  std::atomic<std::int64_t> last_takeover_ms_{0};
  std::atomic<std::uint64_t> fenced_{0};
};

}  // namespace journey::runtime
