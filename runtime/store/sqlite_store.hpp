// The SQLite implementation of the Store: one file in WAL mode, prepared statements, one
// transaction per batch, numbered migrations (migrations.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/store/migrations.hpp"
#include "runtime/store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace journey::runtime {

/// The SQLite implementation. One object is one connection; calls are serialised by a mutex.
class SqliteStore final : public Store {
 public:
  /// The newest schema version this build knows.
  static constexpr int kSchemaVersion = kSqliteSchemaVersion;

  /// Opens (creating if needed) and migrates up to `target_version`. Throws StoreError.
  explicit SqliteStore(const std::string& path, int target_version = kSchemaVersion);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  /// The schema version the database is at.
  int schema_version();

  BatchResult apply(const Batch& batch) override;
  std::optional<std::string> load_customer(const std::string& customer_id) override;
  std::vector<std::pair<std::string, engine::Millis>> due_wakeups(
      engine::Millis until, std::size_t limit,
      const std::optional<std::pair<engine::Millis, std::string>>& after = std::nullopt) override;
  std::size_t pending_wakeups() override;
  std::vector<OutboxEntry> due_actions(engine::Millis now, std::size_t limit,
                                       const ChannelFilter& filter = {}) override;
  std::optional<engine::Millis> next_action_attempt(const ChannelFilter& filter = {}) override;
  void mark_delivered(const std::vector<std::int64_t>& seqs) override;
  void mark_failed(const FailedDelivery& failure) override;
  std::vector<OutboxEntry> recent_actions(const std::string& customer_id,
                                          std::size_t limit) override;
  std::map<std::string, std::size_t> outbox_counts() override;
  std::vector<StoredTrace> traces(const std::string& customer_id,
                                  std::size_t limit = SIZE_MAX) override;
  void trim_traces(const std::string& customer_id, std::size_t keep) override;
  std::vector<std::pair<StoredRun, std::size_t>> run_counts() override;
  std::vector<CounterRow> counters() override;
  Erasure erase_customer(const std::string& customer_id, engine::Millis now,
                         const std::vector<std::string>& message_ids) override;
  IdentityRows identities() override;
  std::vector<std::pair<std::string, engine::Millis>> erased_customers() override;
  bool erased_message(const std::string& customer_id, const std::string& message_id) override;
  std::size_t expire_erased(engine::Millis cutoff) override;
  std::string keyed_hash(std::string_view text) const override;
  std::size_t expire_events(engine::Millis cutoff) override;
  void save_deployment(const Deployment& deployment) override;
  std::vector<Deployment> deployments() override;
  void delete_deployment(const std::string& id) override;
  std::set<std::pair<std::string, std::string>> versions_in_use() override;
  std::vector<std::string> customer_ids() override;
  std::vector<std::string> customers_in(const std::string& journey,
                                        const std::string& version) override;
  std::optional<StoredCustomer> stored_customer(const std::string& customer_id) override;
  std::map<int, std::size_t> wakeups_by_partition() override;
  void set_key(const std::string& key) override;
  void add_tombstones(const std::vector<std::pair<std::string, engine::Millis>>& customers,
                      const std::vector<std::pair<std::string, engine::Millis>>& messages) override;
  std::string message_hash(std::string_view customer_id,
                           std::string_view message_id) const override;
  bool scrub() override { return truncate_wal(); }
  void scrub_soon() override;

  /// SQLite tuning of one connection.
  struct Tuning {
    /// This connection is the single writer: no checkpoint inside its commits. A thread of its
    /// own (with a second connection) checkpoints passively every 32 commits or 250 ms of them;
    /// past kWalRestartFrames in the WAL, this connection copies the rest between two commits so
    /// that the next one starts the WAL over.
    bool writer = false;
    std::size_t cache_mb = 0;  // page cache size; 0 keeps SQLite's default
    /// false: commits are not synced (a cluster node's copy, whose durable state is elsewhere).
    bool durable = true;
  };
  /// Applies `tuning` to this connection (once). Throws StoreError.
  void tune(const Tuning& tuning);

  /// Runs raw SQL (tests and migrations).
  void exec(const std::string& sql);
  /// A passive checkpoint: copies what it can of the WAL into the database without waiting for
  /// anyone. Returns the frames in the WAL (-1 outside WAL mode). Throws StoreError.
  int checkpoint();
  /// WAL frames past which the writer restarts the WAL (64 MB of 4 KB pages).
  static constexpr int kWalRestartFrames = 16384;
  /// A checkpoint that copies the whole WAL into the database and truncates the WAL file to zero
  /// bytes, so no old frame survives on the disk; waits (busy timeout) for readers and the
  /// writer. False when SQLite stayed busy. Throws StoreError.
  bool truncate_wal();

 private:
  class Statement;
  class Transaction;
  class Checkpointer;
  Statement& prepare(const std::string& sql);
  void exec_locked(const std::string& sql);
  void migrate(int target_version);
  void append_traces(const std::vector<TraceRow>& rows, std::size_t keep);
  /// Deletes every row of the partition's customers (in the open transaction).
  void drop_partition(int partition);
  std::int64_t last_trace_total(const std::string& customer_id);
  void trim_traces_locked(const std::string& customer_id, std::size_t keep, std::int64_t total);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::string key_;  // the erasure key (secrets.erasure_key)
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Statement>> statements_;
  std::unique_ptr<Checkpointer> checkpointer_;  // the writer's (Tuning::writer)
};

/// The embedded default: one SQLite file (WAL), a connection per part of the daemon.
class SqliteStorage final : public Storage {
 public:
  /// Opens (creating and migrating) the database at `path` once, so that errors show at start;
  /// `cache_mb` of page cache for the writer; `durable` false: commits are not synced (a copy of
  /// state kept durably elsewhere). Throws StoreError.
  SqliteStorage(std::string path, std::size_t cache_mb, bool durable = true);
  std::unique_ptr<Store> open_writer() override;
  std::unique_ptr<Store> open() override;

 private:
  std::string path_;
  std::size_t cache_mb_;
  bool durable_;
};

}  // namespace journey::runtime
