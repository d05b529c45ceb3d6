// Durable storage behind one narrow interface: what the daemon stores, and the Store and Storage
// interfaces it is written against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "engine/naming.hpp"
#include "engine/time.hpp"

namespace journey::runtime {

/// A storage failure (I/O, corruption, a full disk). The caller does not acknowledge the work.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Delivery state of one action in the outbox.
enum class DeliveryStatus : std::uint8_t { Pending, Delivered, Dead };

/// Text of a status as stored and shown in the API: pending, delivered, dead.
const char* status_name(DeliveryStatus status);

/// One action waiting for (or done with) delivery.
struct OutboxEntry {
  std::string action_id;
  std::string customer_id;
  std::string channel;
  std::string payload;  // the action's JSON line (engine::to_json_line)
  DeliveryStatus status = DeliveryStatus::Pending;
  int attempts = 0;
  engine::Millis next_attempt_at = 0;
  std::string last_error;
  std::int64_t seq = 0;  // insertion order
};

/// One accepted input event, kept for the timeline retention period.
struct StoredEvent {
  std::string customer_id;
  std::string message_id;
  engine::Millis at = 0;
  std::string json;  // the event as received
};

/// One trace line kept for `GET /v1/customers/{id}/explain`.
struct StoredTrace {
  std::string customer_id;
  engine::Millis at = 0;
  std::string journey;
  std::string message;
  std::string detail_json;
};

/// One customer's trace lines of one commit, stored as one row: `json` is an array of
/// [at, journey, message, detail] arrays.
struct TraceRow {
  std::string customer_id;
  std::size_t lines = 0;
  std::string json;
};

/// The lines as rows: one per customer (in order of its first line), its lines in order. Built by
/// the daemon's shards, so that the committer only writes them.
std::vector<TraceRow> trace_rows(const std::vector<StoredTrace>& lines);

/// One active run of a journey, for the runs-per-state counts.
struct StoredRun {
  std::string journey;
  std::string version;
  std::string state;  // the step the run waits at
};

/// A customer's new state after a step call.
struct CustomerWrite {
  std::string customer_id;
  std::string state;  // engine::serialize
  std::optional<engine::Millis> next_wakeup;
  std::vector<StoredRun> runs;             // replaces the customer's stored runs (when write_runs)
  bool write_runs = true;                  // false: the stored runs are already these
  std::vector<StoredRun> previous_runs{};  // the runs replaced (when write_runs)
  // A cluster node's copy (else the defaults): the customer's partition, the partition log
  // record the state comes from, and the revision of the customer's value in the cluster's
  // bucket when known (else the stored one stays).
  int partition = -1;
  std::uint64_t log_seq = 0;
  std::optional<std::uint64_t> kv_revision{};
};

/// A customer as stored, with what a cluster node keeps about its copy (see CustomerWrite).
struct StoredCustomer {
  CustomerWrite write;  // runs included
  std::uint64_t kv_revision = 0;
};

/// A delivery result of an action named by its id (a cluster node's outbox is a stream: its
/// local rows only show the status).
struct ActionMark {
  std::string customer_id;
  std::string action_id;
  DeliveryStatus status = DeliveryStatus::Delivered;
  int attempts = 0;
  std::string error;
};

/// A counter increment for GET /v1/journeys: (journey, version, metric, key) += delta.
struct CounterDelta {
  std::string journey;
  std::string version;
  std::string metric;  // engine::count_record's: entered, exited, visits, moves, sends, ...
  std::string key;     // its key: reason, goal name, step, a pair, or empty
  std::int64_t delta = 1;
  friend bool operator<(const CounterDelta& a, const CounterDelta& b) {
    return std::tie(a.journey, a.version, a.metric, a.key) <
           std::tie(b.journey, b.version, b.metric, b.key);
  }
};

/// What the readiness probe writes (Batch::heartbeat): 256 KiB.
inline constexpr std::int64_t kHeartbeatBytes = std::int64_t{256} * 1024;

/// A failed delivery attempt of the outbox row `seq`: pending with a later retry, or dead.
struct FailedDelivery {
  std::int64_t seq = 0;
  int attempts = 0;
  engine::Millis next_attempt_at = 0;
  std::string error;
  bool dead = false;
};

/// Everything one group commit writes, applied in a single transaction.
struct Batch {
  std::vector<CustomerWrite> customers;
  std::vector<StoredEvent> events;
  std::vector<OutboxEntry> actions;   // inserted unless the action_id exists
  std::vector<TraceRow> traces;       // see trace_rows()
  std::size_t trace_keep = SIZE_MAX;  // then each customer in `traces` keeps its newest this many
  std::vector<CounterDelta> counters;
  std::vector<std::int64_t> delivered;      // outbox rows (seq) marked delivered
  std::vector<FailedDelivery> failed;       // outbox rows with a failed attempt
  std::optional<engine::Millis> heartbeat;  // the readiness probe: kHeartbeatBytes to the disk
  // A cluster node's bookkeeping.
  std::vector<std::pair<std::string, std::uint64_t>> kv_revisions;  // (customer, revision)
  std::vector<ActionMark> action_marks;
  std::vector<int> dropped_partitions;  // every row of these partitions' customers goes (first)
  // Identity (engine/identity.hpp; a single node's): linked ids and the customer each one's state
  // is stored under, customers merged into another (their state and runs rows go), and identity
  // key values with the id that gave each first.
  std::vector<std::pair<std::string, std::string>> identities;  // (id, customer)
  std::vector<std::string> absorbed;
  std::vector<std::pair<std::string, std::string>> claims;  // ("KEY=VALUE", id)
};

/// What a batch changed.
struct BatchResult {
  std::size_t actions_inserted = 0;
  std::size_t actions_existing = 0;  // action ids already in the outbox: not created twice
};

/// What an erasure removed.
struct Erasure {
  bool profile = false;
  std::size_t events = 0;
  std::size_t runs = 0;
  std::size_t timers = 0;
  std::size_t unsent_actions = 0;
  std::size_t trace_lines = 0;
  std::size_t message_ids = 0;   // message ids remembered (as keyed hashes) against replays
  std::vector<std::string> ids;  // every id of the customer (linked ids erased with it), sorted
};

/// The identity directory as stored (see Batch): linked ids, and identity key values.
struct IdentityRows {
  std::vector<std::pair<std::string, std::string>> links;   // (id, customer)
  std::vector<std::pair<std::string, std::string>> claims;  // ("KEY=VALUE", id)
};

/// A deployed set of journey files.
struct Deployment {
  std::string id;  // hash of the files (and of the naming, but for StepNaming::Positions)
  engine::Millis deployed_at = 0;
  std::vector<std::pair<std::string, std::string>> files;  // (path, text), sorted by path
  /// How its steps are named when compiled: Positions for every deployment an older build stored
  /// (so that their versions, step ids and action ids stay what they were), else Tree.
  engine::StepNaming naming = engine::StepNaming::Tree;
};

/// A counter row as read back.
struct CounterRow {
  std::string journey;
  std::string version;
  std::string metric;
  std::string key;
  std::int64_t value = 0;
};

/// Which channels an outbox query covers: the listed ones, or (exclude) all but the listed ones.
/// The default covers every channel.
struct ChannelFilter {
  std::vector<std::string> channels;
  bool exclude = true;
};

/// One connection to the daemon's durable state: the narrow interface every part of the daemon is
/// written against (SQLite is the embedded implementation, sqlite_store.hpp).
class Store {
 public:
  virtual ~Store() = default;

  /// Applies one group commit atomically.
  virtual BatchResult apply(const Batch& batch) = 0;
  /// The serialized engine state of a customer, if any.
  virtual std::optional<std::string> load_customer(const std::string& customer_id) = 0;
  /// Customers whose next wake-up is at or before `until`, earliest first (by wake-up, then id),
  /// starting after `after` (a (wake-up, id) position from an earlier page) when given.
  virtual std::vector<std::pair<std::string, engine::Millis>> due_wakeups(
      engine::Millis until, std::size_t limit,
      const std::optional<std::pair<engine::Millis, std::string>>& after = std::nullopt) = 0;
  /// Number of customers with a pending wake-up.
  virtual std::size_t pending_wakeups() = 0;

  /// Pending actions whose next attempt is due, in creation order.
  virtual std::vector<OutboxEntry> due_actions(engine::Millis now, std::size_t limit,
                                               const ChannelFilter& filter = {}) = 0;
  /// The earliest next_attempt_at of a pending action.
  virtual std::optional<engine::Millis> next_action_attempt(const ChannelFilter& filter = {}) = 0;
  /// Marks outbox rows (OutboxEntry::seq) delivered, in one transaction.
  virtual void mark_delivered(const std::vector<std::int64_t>& seqs) = 0;
  /// Records a failed delivery attempt, in one transaction.
  virtual void mark_failed(const FailedDelivery& failure) = 0;
  /// The customer's latest actions, newest first.
  virtual std::vector<OutboxEntry> recent_actions(const std::string& customer_id,
                                                  std::size_t limit) = 0;
  /// Count of outbox rows per status.
  virtual std::map<std::string, std::size_t> outbox_counts() = 0;

  /// The customer's kept trace lines, oldest first; at most the newest `limit`.
  virtual std::vector<StoredTrace> traces(const std::string& customer_id,
                                          std::size_t limit = SIZE_MAX) = 0;
  /// Keeps the newest `keep` trace lines of a customer (and at most the rest of the oldest
  /// commit's lines among them; traces() with `keep` leaves those out).
  virtual void trim_traces(const std::string& customer_id, std::size_t keep) = 0;
  /// Active runs per (journey, version, state).
  virtual std::vector<std::pair<StoredRun, std::size_t>> run_counts() = 0;
  virtual std::vector<CounterRow> counters() = 0;

  /// Removes everything about a customer at `now`: every action id is kept in erased_actions
  /// (delivered rows stay with their payload blanked), and keyed hashes of the customer id and of
  /// `message_ids` (the ids its state remembered) are kept as tombstones against replays.
  virtual Erasure erase_customer(const std::string& customer_id, engine::Millis now,
                                 const std::vector<std::string>& message_ids) = 0;
  /// The identity directory: every linked id and identity key value.
  virtual IdentityRows identities() = 0;
  /// Every tombstone: (keyed hash of the customer id, when it was erased).
  virtual std::vector<std::pair<std::string, engine::Millis>> erased_customers() = 0;
  /// Whether the message id was remembered when its customer was erased.
  virtual bool erased_message(const std::string& customer_id, const std::string& message_id) = 0;
  /// Deletes tombstones of erasures before `cutoff`; returns how many.
  virtual std::size_t expire_erased(engine::Millis cutoff) = 0;
  /// The keyed hash (HMAC-SHA256 with this database's key) of a customer id, as tombstones hold.
  virtual std::string keyed_hash(std::string_view text) const = 0;
  /// Deletes stored events stamped before `cutoff`; returns how many.
  virtual std::size_t expire_events(engine::Millis cutoff) = 0;

  /// Stores a deployment (once per id) and marks it live.
  virtual void save_deployment(const Deployment& deployment) = 0;
  /// Every stored deployment, oldest first; the last is the live one.
  virtual std::vector<Deployment> deployments() = 0;
  /// Deletes a stored deployment (its versions are collected). Never the live one.
  virtual void delete_deployment(const std::string& id) = 0;
  /// The (journey, version) pairs some active run uses.
  virtual std::set<std::pair<std::string, std::string>> versions_in_use() = 0;
  /// The customers with an active run of this journey version, by id.
  virtual std::vector<std::string> customers_in(const std::string& journey,
                                                const std::string& version) = 0;
  /// Every stored customer, by id.
  virtual std::vector<std::string> customer_ids() = 0;

  /// A cluster node's reads and writes of its copy.
  /// The customer as stored, with its runs and the cluster bookkeeping; nothing when absent.
  virtual std::optional<StoredCustomer> stored_customer(const std::string& customer_id) = 0;
  /// Customers with a pending wake-up, per partition (rows written without one are left out).
  virtual std::map<int, std::size_t> wakeups_by_partition() = 0;
  /// Replaces the key of keyed_hash() (a cluster's secret, the same on every node).
  virtual void set_key(const std::string& key) = 0;
  /// Adds tombstones made elsewhere, as keyed hashes: customers and message ids, with when.
  virtual void add_tombstones(
      const std::vector<std::pair<std::string, engine::Millis>>& customers,
      const std::vector<std::pair<std::string, engine::Millis>>& messages) = 0;
  /// The keyed hash of a (customer, message id) pair, as message tombstones hold.
  virtual std::string message_hash(std::string_view customer_id,
                                   std::string_view message_id) const = 0;

  /// Makes erased data unrecoverable from the disk now (SQLite: truncates the WAL, whose old
  /// frames can still hold it). False when the store is busy; see scrub_soon().
  virtual bool scrub() = 0;
  /// Asks for scrub() again in the background, until it succeeds (the writer's connection does).
  virtual void scrub_soon() = 0;
};

/// Where the daemon keeps its state: it opens one Store connection for each part that needs one.
class Storage {
 public:
  virtual ~Storage() = default;
  /// The connection of the single writer (the committer): every Batch goes through it.
  virtual std::unique_ptr<Store> open_writer() = 0;
  /// A connection for one part's reads and small writes (a shard, the API, the timers, the
  /// dispatcher).
  virtual std::unique_ptr<Store> open() = 0;
};

}  // namespace journey::runtime
