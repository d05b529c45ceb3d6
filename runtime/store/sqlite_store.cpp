#include "runtime/store/sqlite_store.hpp"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <limits>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "runtime/common/log.hpp"

namespace journey::runtime {

namespace {

DeliveryStatus status_from(const std::string& text) {
  if (text == "delivered") return DeliveryStatus::Delivered;
  if (text == "dead") return DeliveryStatus::Dead;
  return DeliveryStatus::Pending;
}

}  // namespace

/// A prepared statement, reset after each use.
class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("prepare: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text) {
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& bind(int index, const std::optional<std::int64_t>& value) {
    check(value ? sqlite3_bind_int64(stmt_, index, *value) : sqlite3_bind_null(stmt_, index));
    return *this;
  }
  Statement& bind_blob(int index, const std::string& bytes) {
    check(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                            SQLITE_STATIC));
    return *this;
  }
  /// Binds text without copying it: `text` must live until the statement is reset.
  Statement& bind_static(int index, const std::string& text) {
    check(
        sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC));
    return *this;
  }

  /// Steps once; true when a row is available.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string message = sqlite3_errmsg(db_);
    sqlite3_reset(stmt_);
    throw StoreError("sqlite: " + message);
  }
  /// Runs to completion; returns the number of changed rows.
  std::size_t run() {
    while (step()) {
    }
    auto changes = static_cast<std::size_t>(sqlite3_changes(db_));
    reset();
    return changes;
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int column) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(size));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw StoreError(std::string("bind: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

namespace {

/// Resets a statement when a scope that read rows from it ends.
class ResetOnExit {
 public:
  explicit ResetOnExit(auto& statement) : reset_([&statement] { statement.reset(); }) {}
  ~ResetOnExit() { reset_(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  std::function<void()> reset_;
};

}  // namespace

/// One transaction (BEGIN IMMEDIATE) of a connection whose mutex is held. commit() ends it;
/// leaving the scope without a commit resets the statements and rolls back. A failing rollback is
/// not reported (SQLite rolls back by itself on some errors), so the caller sees the first error.
class SqliteStore::Transaction {
 public:
  explicit Transaction(SqliteStore& store) : store_(store) {
    store_.exec_locked("BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (committed_) return;
    for (auto& entry : store_.statements_) entry.second->reset();
    sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    store_.exec_locked("COMMIT");
    committed_ = true;
  }

 private:
  SqliteStore& store_;
  bool committed_ = false;
};

/// The writer's checkpoints (Tuning::writer): passive ones on a connection of their own every 32
/// commits or 250 ms of them, never blocking the writer; a truncating one when an erasure asks.
class SqliteStore::Checkpointer {
 public:
  explicit Checkpointer(const std::string& path) : store_(path), thread_([this] { run(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  /// After each commit of the writer.
  void committed() {
    bool due;
    {
      std::lock_guard lock(mutex_);
      due = ++commits_ >= 32;
    }
    if (due) wake_.notify_one();
  }
  void truncate_soon() {
    truncate_ = true;
    wake_.notify_one();
  }
  /// Whether the WAL grew past kWalRestartFrames: the writer then copies the rest itself.
  bool restart_due() { return restart_.exchange(false); }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(250),
                     [this] { return stopping_ || commits_ >= 32 || truncate_; });
      if (stopping_) break;
      const bool truncate = truncate_.load();
      if (!truncate && commits_ == 0) continue;
      if (!truncate) commits_ = 0;
      lock.unlock();
      try {
        if (truncate) {
          if (store_.truncate_wal()) {
            truncate_ = false;
            log(LogLevel::Info, "WAL truncated after an erasure");
          }
        } else if (store_.checkpoint() >= kWalRestartFrames) {
          // While the writer keeps writing, a passive checkpoint never copies the very last
          // frames, so SQLite never starts the WAL over and the file grows for as long as the
          // load lasts (each append costing the file system a new block).
          restart_ = true;
        }
      } catch (const StoreError& e) {
        log(LogLevel::Warn, "checkpoint failed", {{"error", e.what()}});
      }
      lock.lock();
    }
  }

  SqliteStore store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::size_t commits_ = 0;
  std::atomic<bool> truncate_{false};
  std::atomic<bool> restart_{false};
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

SqliteStore::SqliteStore(const std::string& path, int target_version) : path_(path) {
  // Before SQLite's first use in the process: every connection is used under its store's mutex,
  // so SQLite's own per-connection mutexes go ("multi-thread" mode), and so does its global
  // allocation statistics mutex, which the daemon's threads otherwise contend for on every
  // allocation. Both calls fail harmlessly when SQLite is already in use.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(path + ": cannot open database: " + message);
  }
  sqlite3_busy_timeout(db_, 10'000);
  try {
    exec_locked("PRAGMA journal_mode=WAL");
    exec_locked("PRAGMA synchronous=FULL");
    exec_locked("PRAGMA foreign_keys=ON");
    // Deleted content is overwritten with zeros, in b-tree and freelist pages alike, so that an
    // erased customer's data does not survive in free space (see erase_customer()).
    exec_locked("PRAGMA secure_delete=ON");
    migrate(target_version);
    if (target_version >= 5) {
      auto& st = prepare("SELECT value FROM secrets WHERE name = 'erasure_key'");
      ResetOnExit reset(st);
      if (st.step()) key_ = st.text(0);
    }
  } catch (...) {
    statements_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStore::~SqliteStore() {
  checkpointer_.reset();
  statements_.clear();
  if (db_ != nullptr) sqlite3_close(db_);
}

void SqliteStore::tune(const Tuning& tuning) {
  std::lock_guard lock(mutex_);
  if (tuning.cache_mb > 0)
    exec_locked("PRAGMA cache_size=-" + std::to_string(tuning.cache_mb * 1024));
  if (!tuning.durable) exec_locked("PRAGMA synchronous=OFF");
  if (tuning.writer && !checkpointer_) {
    exec_locked("PRAGMA wal_autocheckpoint=0");
    checkpointer_ = std::make_unique<Checkpointer>(path_);
  }
}

void SqliteStore::scrub_soon() {
  if (checkpointer_) checkpointer_->truncate_soon();
}

void SqliteStore::exec(const std::string& sql) {
  std::lock_guard lock(mutex_);
  exec_locked(sql);
}

int SqliteStore::checkpoint() {
  std::lock_guard lock(mutex_);
  int log_frames = -1;
  int copied = -1;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    throw StoreError(std::string("sqlite: checkpoint: ") + sqlite3_errmsg(db_));
  }
  return log_frames;
}

bool SqliteStore::truncate_wal() {
  std::lock_guard lock(mutex_);
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc == SQLITE_BUSY) return false;
  if (rc != SQLITE_OK) throw StoreError(std::string("sqlite: checkpoint: ") + sqlite3_errmsg(db_));
  return true;
}

std::string SqliteStore::keyed_hash(std::string_view text) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(), out,
           &size) == nullptr) {
    throw StoreError("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

void SqliteStore::exec_locked(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("sqlite: " + message);
  }
}

SqliteStore::Statement& SqliteStore::prepare(const std::string& sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<Statement>(db_, sql);
  return *slot;
}

int SqliteStore::schema_version() {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT MAX(version) FROM schema_version");
  ResetOnExit reset(st);
  return st.step() && !st.is_null(0) ? static_cast<int>(st.integer(0)) : 0;
}

void SqliteStore::migrate(int target_version) {
  exec_locked(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at "
      "INTEGER)");
  int current = 0;
  {
    auto& st = prepare("SELECT MAX(version) FROM schema_version");
    ResetOnExit reset(st);
    if (st.step() && !st.is_null(0)) current = static_cast<int>(st.integer(0));
  }
  if (current > kSchemaVersion) {
    throw StoreError("database schema version " + std::to_string(current) +
                     " is newer than this build knows (" + std::to_string(kSchemaVersion) + ")");
  }
  for (int version = current; version < target_version; ++version) {
    try {
      Transaction transaction(*this);
      exec_locked(sqlite_migration(version));
      exec_locked("INSERT INTO schema_version(version, applied_at) VALUES (" +
                  std::to_string(version + 1) + ", strftime('%s','now'))");
      transaction.commit();
    } catch (const StoreError& e) {
      throw StoreError("migration " + std::to_string(version + 1) + ": " + e.what());
    }
  }
}

BatchResult SqliteStore::apply(const Batch& batch) {
  std::lock_guard lock(mutex_);
  BatchResult result;
  {
    Transaction transaction(*this);
    // Each statement is looked up once per batch; values are bound without copies (the batch
    // outlives every step).
    for (int partition : batch.dropped_partitions) drop_partition(partition);
    auto& upsert_customer = prepare(
        "INSERT INTO customers(id, state, next_wakeup, part, log_seq, kv_rev) "
        "VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, 0)) "
        "ON CONFLICT(id) DO UPDATE SET state = excluded.state, next_wakeup = excluded.next_wakeup, "
        "part = excluded.part, log_seq = excluded.log_seq, kv_rev = COALESCE(?6, kv_rev)");
    auto& delete_runs = prepare("DELETE FROM runs WHERE customer_id = ?1");
    auto& insert_run =
        prepare("INSERT INTO runs(customer_id, journey, version, state) VALUES (?1, ?2, ?3, ?4)");
    for (const auto& write : batch.customers) {
      upsert_customer.bind_static(1, write.customer_id)
          .bind_blob(2, write.state)
          .bind(3, write.next_wakeup)
          .bind(4,
                write.partition < 0 ? std::nullopt : std::optional<std::int64_t>(write.partition))
          .bind(5, static_cast<std::int64_t>(write.log_seq))
          .bind(6, write.kv_revision
                       ? std::optional<std::int64_t>(static_cast<std::int64_t>(*write.kv_revision))
                       : std::nullopt)
          .run();
      if (!write.write_runs) continue;
      delete_runs.bind_static(1, write.customer_id).run();
      for (const auto& run : write.runs) {
        insert_run.bind_static(1, write.customer_id)
            .bind_static(2, run.journey)
            .bind_static(3, run.version)
            .bind_static(4, run.state)
            .run();
      }
    }
    if (!batch.absorbed.empty()) {
      auto& delete_customer = prepare("DELETE FROM customers WHERE id = ?1");
      for (const auto& id : batch.absorbed) {
        delete_customer.bind_static(1, id).run();
        delete_runs.bind_static(1, id).run();
      }
    }
    if (!batch.identities.empty()) {
      auto& link = prepare(
          "INSERT INTO identities(id, customer) VALUES (?1, ?2) "
          "ON CONFLICT(id) DO UPDATE SET customer = excluded.customer");
      for (const auto& [id, customer] : batch.identities)
        link.bind_static(1, id).bind_static(2, customer).run();
    }
    if (!batch.claims.empty()) {
      auto& claim = prepare("INSERT OR IGNORE INTO identity_claims(claim, id) VALUES (?1, ?2)");
      for (const auto& [text, id] : batch.claims)
        claim.bind_static(1, text).bind_static(2, id).run();
    }
    if (!batch.events.empty()) {
      auto& insert_event =
          prepare("INSERT INTO events(customer_id, message_id, at, json) VALUES (?1, ?2, ?3, ?4)");
      for (const auto& event : batch.events) {
        insert_event.bind_static(1, event.customer_id)
            .bind_static(2, event.message_id)
            .bind(3, event.at)
            .bind_static(4, event.json)
            .run();
      }
    }
    if (!batch.actions.empty()) {
      auto& insert_action = prepare(
          "INSERT OR IGNORE INTO outbox(action_id, customer_id, channel, payload, status, "
          "attempts, next_attempt_at) SELECT ?1, ?2, ?3, ?4, ?5, 0, ?6 "
          "WHERE NOT EXISTS (SELECT 1 FROM erased_actions WHERE action_id = ?1)");
      for (const auto& action : batch.actions) {
        auto changed = insert_action.bind_static(1, action.action_id)
                           .bind_static(2, action.customer_id)
                           .bind_static(3, action.channel)
                           .bind_static(4, action.payload)
                           .bind(5, std::string(status_name(action.status)))
                           .bind(6, action.next_attempt_at)
                           .run();
        (changed ? result.actions_inserted : result.actions_existing) += 1;
      }
    }
    if (!batch.traces.empty()) append_traces(batch.traces, batch.trace_keep);
    if (!batch.delivered.empty()) {
      auto& update = prepare(
          "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_error = '' "
          "WHERE seq = ?1");
      for (const auto seq : batch.delivered) update.bind(1, seq).run();
    }
    if (!batch.failed.empty()) {
      auto& update = prepare(
          "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5 "
          "WHERE seq = ?1");
      for (const auto& failure : batch.failed) {
        update.bind(1, failure.seq)
            .bind(2, std::string(failure.dead ? "dead" : "pending"))
            .bind(3, static_cast<std::int64_t>(failure.attempts))
            .bind(4, failure.next_attempt_at)
            .bind_static(5, failure.error)
            .run();
      }
    }
    if (!batch.kv_revisions.empty()) {
      auto& update = prepare("UPDATE customers SET kv_rev = ?2 WHERE id = ?1");
      for (const auto& [customer, revision] : batch.kv_revisions) {
        update.bind_static(1, customer).bind(2, static_cast<std::int64_t>(revision)).run();
      }
    }
    if (!batch.action_marks.empty()) {
      auto& update = prepare(
          "UPDATE outbox SET status = ?3, attempts = ?4, last_error = ?5 "
          "WHERE customer_id = ?1 AND action_id = ?2");
      for (const auto& mark : batch.action_marks) {
        update.bind_static(1, mark.customer_id)
            .bind_static(2, mark.action_id)
            .bind(3, std::string(status_name(mark.status)))
            .bind(4, static_cast<std::int64_t>(mark.attempts))
            .bind_static(5, mark.error)
            .run();
      }
    }
    if (batch.heartbeat) {
      // As large as a busy group commit, so that room left in the WAL by a failed commit does
      // not pass for a disk that takes writes again.
      prepare("UPDATE heartbeat SET at = ?1, pad = zeroblob(?2) WHERE id = 1")
          .bind(1, *batch.heartbeat)
          .bind(2, std::int64_t{kHeartbeatBytes})
          .run();
    }
    if (!batch.counters.empty()) {
      auto& add_counter = prepare(
          "INSERT INTO counters(journey, version, metric, key, value) VALUES (?1,?2,?3,?4,?5) "
          "ON CONFLICT(journey, version, metric, key) DO UPDATE SET value = value + "
          "excluded.value");
      for (const auto& counter : batch.counters) {
        add_counter.bind_static(1, counter.journey)
            .bind_static(2, counter.version)
            .bind_static(3, counter.metric)
            .bind_static(4, counter.key)
            .bind(5, counter.delta)
            .run();
      }
    }
    transaction.commit();
  }
  if (checkpointer_) {
    checkpointer_->committed();
    if (checkpointer_->restart_due()) {
      // Between two commits: the next one starts the WAL over. The commit stands whatever this
      // does; a failure leaves the restart to a later round.
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }
  return result;
}

std::optional<std::string> SqliteStore::load_customer(const std::string& customer_id) {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT state FROM customers WHERE id = ?1");
  ResetOnExit reset(st);
  st.bind(1, customer_id);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

std::vector<std::pair<std::string, engine::Millis>> SqliteStore::due_wakeups(
    engine::Millis until, std::size_t limit,
    const std::optional<std::pair<engine::Millis, std::string>>& after) {
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      "SELECT id, next_wakeup FROM customers INDEXED BY customers_wakeup "
      "WHERE next_wakeup IS NOT NULL AND next_wakeup <= ?1 AND (next_wakeup, id) > (?3, ?4) "
      "ORDER BY next_wakeup, id LIMIT ?2");
  ResetOnExit reset(st);
  st.bind(1, until).bind(2, static_cast<std::int64_t>(limit));
  st.bind(3, after ? after->first : std::numeric_limits<std::int64_t>::min());
  st.bind(4, after ? after->second : std::string());
  std::vector<std::pair<std::string, engine::Millis>> out;
  while (st.step()) out.emplace_back(st.text(0), st.integer(1));
  return out;
}

std::size_t SqliteStore::pending_wakeups() {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT COUNT(*) FROM customers WHERE next_wakeup IS NOT NULL");
  ResetOnExit reset(st);
  return st.step() ? static_cast<std::size_t>(st.integer(0)) : 0;
}

namespace {
constexpr const char* kOutboxColumns =
    "action_id, customer_id, channel, payload, status, attempts, next_attempt_at, last_error, "
    "rowid";

template <typename St>
OutboxEntry read_outbox(const St& st) {
  OutboxEntry entry;
  entry.action_id = st.text(0);
  entry.customer_id = st.text(1);
  entry.channel = st.text(2);
  entry.payload = st.text(3);
  entry.status = status_from(st.text(4));
  entry.attempts = static_cast<int>(st.integer(5));
  entry.next_attempt_at = st.integer(6);
  entry.last_error = st.text(7);
  entry.seq = st.integer(8);
  return entry;
}
}  // namespace

namespace {
/// " AND channel [NOT] IN (?3, ?4, ...)" for a filter, parameters from `first`.
std::string channel_clause(const ChannelFilter& filter, int first) {
  if (filter.channels.empty()) return filter.exclude ? "" : " AND 0";
  std::string sql = filter.exclude ? " AND channel NOT IN (" : " AND channel IN (";
  for (std::size_t i = 0; i < filter.channels.size(); ++i) {
    sql += (i ? ", ?" : "?") + std::to_string(first + static_cast<int>(i));
  }
  return sql + ")";
}
}  // namespace

std::vector<OutboxEntry> SqliteStore::due_actions(engine::Millis now, std::size_t limit,
                                                  const ChannelFilter& filter) {
  if (filter.channels.empty() && !filter.exclude) return {};  // no channel at all
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      std::string("SELECT ") + kOutboxColumns +
      " FROM outbox INDEXED BY outbox_queue WHERE status = 'pending' AND next_attempt_at <= ?1" +
      channel_clause(filter, 3) + " ORDER BY rowid LIMIT ?2");
  ResetOnExit reset(st);
  st.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
  for (std::size_t i = 0; i < filter.channels.size(); ++i)
    st.bind(3 + static_cast<int>(i), filter.channels[i]);
  std::vector<OutboxEntry> out;
  while (st.step()) out.push_back(read_outbox(st));
  return out;
}

std::optional<engine::Millis> SqliteStore::next_action_attempt(const ChannelFilter& filter) {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'" +
                     channel_clause(filter, 1));
  ResetOnExit reset(st);
  for (std::size_t i = 0; i < filter.channels.size(); ++i)
    st.bind(1 + static_cast<int>(i), filter.channels[i]);
  if (st.step() && !st.is_null(0)) return st.integer(0);
  return std::nullopt;
}

void SqliteStore::mark_delivered(const std::vector<std::int64_t>& seqs) {
  if (seqs.empty()) return;
  Batch batch;
  batch.delivered = seqs;
  apply(batch);
}

void SqliteStore::mark_failed(const FailedDelivery& failure) {
  Batch batch;
  batch.failed.push_back(failure);
  apply(batch);
}

std::vector<OutboxEntry> SqliteStore::recent_actions(const std::string& customer_id,
                                                     std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto& st = prepare(std::string("SELECT ") + kOutboxColumns +
                     " FROM outbox WHERE customer_id = ?1 ORDER BY rowid DESC LIMIT ?2");
  ResetOnExit reset(st);
  st.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<OutboxEntry> out;
  while (st.step()) out.push_back(read_outbox(st));
  return out;
}

std::map<std::string, std::size_t> SqliteStore::outbox_counts() {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::size_t> out{{"pending", 0}, {"delivered", 0}, {"dead", 0}};
  auto& st = prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status");
  ResetOnExit reset(st);
  while (st.step()) out[st.text(0)] = static_cast<std::size_t>(st.integer(1));
  return out;
}

std::vector<StoredTrace> SqliteStore::traces(const std::string& customer_id, std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT lines FROM traces WHERE customer_id = ?1 ORDER BY total");
  ResetOnExit reset(st);
  st.bind(1, customer_id);
  std::vector<StoredTrace> out;
  while (st.step()) {
    auto lines = nlohmann::json::parse(st.text(0), nullptr, false);
    if (!lines.is_array()) continue;  // written by this class: never, unless edited by hand
    for (const auto& line : lines) {
      if (!line.is_array() || line.size() != 4 || !line[0].is_number_integer() ||
          !line[1].is_string() || !line[2].is_string()) {
        continue;
      }
      out.push_back({customer_id, line[0].get<engine::Millis>(), line[1].get<std::string>(),
                     line[2].get<std::string>(), line[3].dump()});
    }
  }
  if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  return out;
}

void SqliteStore::trim_traces(const std::string& customer_id, std::size_t keep) {
  std::lock_guard lock(mutex_);
  trim_traces_locked(customer_id, keep, last_trace_total(customer_id));
}

std::int64_t SqliteStore::last_trace_total(const std::string& customer_id) {
  auto& st = prepare("SELECT MAX(total) FROM traces WHERE customer_id = ?1");
  ResetOnExit reset(st);
  st.bind_static(1, customer_id);
  return st.step() && !st.is_null(0) ? st.integer(0) : 0;
}

void SqliteStore::trim_traces_locked(const std::string& customer_id, std::size_t keep,
                                     std::int64_t total) {
  // Rows whose lines are all older than the newest `keep` go; the oldest row kept may hold a few
  // more, which traces() leaves out when asked for `keep`.
  if (keep >= static_cast<std::size_t>(total)) return;
  prepare("DELETE FROM traces WHERE customer_id = ?1 AND total <= ?2")
      .bind_static(1, customer_id)
      .bind(2, total - static_cast<std::int64_t>(keep))
      .run();
}

void SqliteStore::append_traces(const std::vector<TraceRow>& rows, std::size_t keep) {
  // The customer's running count is read in the same statement that appends (one index seek).
  auto& insert = prepare(
      "INSERT INTO traces(customer_id, total, lines) VALUES (?1, "
      "COALESCE((SELECT MAX(total) FROM traces WHERE customer_id = ?1), 0) + ?2, ?3) "
      "RETURNING total");
  for (const auto& row : rows) {
    if (row.lines == 0) continue;
    std::int64_t total = 0;
    {
      ResetOnExit reset(insert);
      insert.bind_static(1, row.customer_id)
          .bind(2, static_cast<std::int64_t>(row.lines))
          .bind_static(3, row.json);
      if (insert.step()) total = insert.integer(0);
    }
    if (keep != SIZE_MAX) trim_traces_locked(row.customer_id, keep, total);
  }
}

std::vector<std::pair<StoredRun, std::size_t>> SqliteStore::run_counts() {
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      "SELECT journey, version, state, COUNT(*) FROM runs GROUP BY journey, version, state "
      "ORDER BY journey, version, state");
  ResetOnExit reset(st);
  std::vector<std::pair<StoredRun, std::size_t>> out;
  while (st.step()) {
    out.emplace_back(StoredRun{st.text(0), st.text(1), st.text(2)},
                     static_cast<std::size_t>(st.integer(3)));
  }
  return out;
}

std::vector<CounterRow> SqliteStore::counters() {
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      "SELECT journey, version, metric, key, value FROM counters ORDER BY journey, version, "
      "metric, key");
  ResetOnExit reset(st);
  std::vector<CounterRow> out;
  while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.text(3), st.integer(4)});
  return out;
}

Erasure SqliteStore::erase_customer(const std::string& customer_id, engine::Millis now,
                                    const std::vector<std::string>& message_ids) {
  const std::string id_hash = keyed_hash(customer_id);
  std::vector<std::string> message_hashes;
  message_hashes.reserve(message_ids.size());
  for (const auto& id : message_ids) message_hashes.push_back(message_hash(customer_id, id));
  std::lock_guard lock(mutex_);
  Erasure erasure;
  erasure.message_ids = message_ids.size();
  {
    Transaction transaction(*this);
    prepare(
        "INSERT INTO erased_customers(id_hash, erased_at) VALUES (?1, ?2) "
        "ON CONFLICT(id_hash) DO UPDATE SET erased_at = excluded.erased_at")
        .bind_blob(1, id_hash)
        .bind(2, now)
        .run();
    auto& insert_message = prepare(
        "INSERT INTO erased_messages(hash, erased_at) VALUES (?1, ?2) "
        "ON CONFLICT(hash) DO UPDATE SET erased_at = excluded.erased_at");
    for (const auto& hash : message_hashes) insert_message.bind_blob(1, hash).bind(2, now).run();
    {
      auto& st = prepare("SELECT next_wakeup IS NOT NULL FROM customers WHERE id = ?1");
      ResetOnExit reset(st);
      st.bind(1, customer_id);
      if (st.step()) erasure.timers = st.integer(0) != 0 ? 1 : 0;
    }
    erasure.profile = prepare("DELETE FROM customers WHERE id = ?1").bind(1, customer_id).run() > 0;
    erasure.events =
        prepare("DELETE FROM events WHERE customer_id = ?1").bind(1, customer_id).run();
    erasure.runs = prepare("DELETE FROM runs WHERE customer_id = ?1").bind(1, customer_id).run();
    {
      auto& st = prepare(
          "SELECT COALESCE(SUM(json_array_length(lines)), 0) FROM traces WHERE customer_id = ?1");
      ResetOnExit reset(st);
      st.bind(1, customer_id);
      if (st.step()) erasure.trace_lines = static_cast<std::size_t>(st.integer(0));
    }
    prepare("DELETE FROM traces WHERE customer_id = ?1").bind(1, customer_id).run();
    prepare("DELETE FROM identities WHERE id = ?1 OR customer = ?1").bind(1, customer_id).run();
    prepare("DELETE FROM identity_claims WHERE id = ?1").bind(1, customer_id).run();
    // Every action id of the customer, sent or not, is remembered (ids are hashes, not content),
    // so that no replay creates one of them again.
    prepare(
        "INSERT OR IGNORE INTO erased_actions SELECT action_id FROM outbox "
        "WHERE customer_id = ?1")
        .bind(1, customer_id)
        .run();
    erasure.unsent_actions =
        prepare("DELETE FROM outbox WHERE customer_id = ?1 AND status != 'delivered'")
            .bind(1, customer_id)
            .run();
    // Delivered actions keep their row (for the outbox counts) but lose their content.
    prepare("UPDATE OR REPLACE outbox SET customer_id = '', payload = '' WHERE customer_id = ?1")
        .bind(1, customer_id)
        .run();
    transaction.commit();
  }
  return erasure;
}

IdentityRows SqliteStore::identities() {
  std::lock_guard lock(mutex_);
  IdentityRows rows;
  for (const auto& [sql, out] :
       {std::pair{"SELECT id, customer FROM identities ORDER BY id", &rows.links},
        std::pair{"SELECT claim, id FROM identity_claims ORDER BY claim", &rows.claims}}) {
    auto& st = prepare(sql);
    ResetOnExit reset(st);
    while (st.step()) out->emplace_back(st.text(0), st.text(1));
  }
  return rows;
}

void SqliteStore::drop_partition(int partition) {
  for (const char* table : {"runs", "traces", "outbox", "events"}) {
    prepare(std::string("DELETE FROM ") + table +
            " WHERE customer_id IN (SELECT id FROM customers WHERE part = ?1)")
        .bind(1, static_cast<std::int64_t>(partition))
        .run();
  }
  prepare("DELETE FROM customers WHERE part = ?1")
      .bind(1, static_cast<std::int64_t>(partition))
      .run();
}

std::optional<StoredCustomer> SqliteStore::stored_customer(const std::string& customer_id) {
  std::lock_guard lock(mutex_);
  StoredCustomer out;
  {
    auto& st = prepare(
        "SELECT state, next_wakeup, COALESCE(part, -1), log_seq, kv_rev FROM customers "
        "WHERE id = ?1");
    ResetOnExit reset(st);
    st.bind(1, customer_id);
    if (!st.step()) return std::nullopt;
    out.write.customer_id = customer_id;
    out.write.state = st.text(0);
    if (!st.is_null(1)) out.write.next_wakeup = st.integer(1);
    out.write.partition = static_cast<int>(st.integer(2));
    out.write.log_seq = static_cast<std::uint64_t>(st.integer(3));
    out.kv_revision = static_cast<std::uint64_t>(st.integer(4));
  }
  auto& st =
      prepare("SELECT journey, version, state FROM runs WHERE customer_id = ?1 ORDER BY rowid");
  ResetOnExit reset(st);
  st.bind(1, customer_id);
  while (st.step()) out.write.runs.push_back({st.text(0), st.text(1), st.text(2)});
  return out;
}

std::map<int, std::size_t> SqliteStore::wakeups_by_partition() {
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      "SELECT part, COUNT(*) FROM customers WHERE next_wakeup IS NOT NULL AND part IS NOT NULL "
      "GROUP BY part");
  ResetOnExit reset(st);
  std::map<int, std::size_t> out;
  while (st.step()) out[static_cast<int>(st.integer(0))] = static_cast<std::size_t>(st.integer(1));
  return out;
}

void SqliteStore::set_key(const std::string& key) {
  std::lock_guard lock(mutex_);
  prepare("UPDATE secrets SET value = ?1 WHERE name = 'erasure_key'").bind_blob(1, key).run();
  key_ = key;
}

void SqliteStore::add_tombstones(
    const std::vector<std::pair<std::string, engine::Millis>>& customers,
    const std::vector<std::pair<std::string, engine::Millis>>& messages) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*this);
  auto& customer = prepare(
      "INSERT INTO erased_customers(id_hash, erased_at) VALUES (?1, ?2) "
      "ON CONFLICT(id_hash) DO UPDATE SET erased_at = MAX(erased_at, excluded.erased_at)");
  for (const auto& [hash, at] : customers) customer.bind_blob(1, hash).bind(2, at).run();
  auto& message = prepare(
      "INSERT INTO erased_messages(hash, erased_at) VALUES (?1, ?2) "
      "ON CONFLICT(hash) DO UPDATE SET erased_at = MAX(erased_at, excluded.erased_at)");
  for (const auto& [hash, at] : messages) message.bind_blob(1, hash).bind(2, at).run();
  transaction.commit();
}

std::string SqliteStore::message_hash(std::string_view customer_id,
                                      std::string_view message_id) const {
  std::string text;
  text.reserve(customer_id.size() + 1 + message_id.size());
  text.append(customer_id).push_back('\0');
  text.append(message_id);
  return keyed_hash(text);
}

std::vector<std::pair<std::string, engine::Millis>> SqliteStore::erased_customers() {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT id_hash, erased_at FROM erased_customers");
  ResetOnExit reset(st);
  std::vector<std::pair<std::string, engine::Millis>> out;
  while (st.step()) out.emplace_back(st.text(0), st.integer(1));
  return out;
}

bool SqliteStore::erased_message(const std::string& customer_id, const std::string& message_id) {
  const auto hash = message_hash(customer_id, message_id);
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT 1 FROM erased_messages WHERE hash = ?1");
  ResetOnExit reset(st);
  st.bind_blob(1, hash);
  return st.step();
}

std::size_t SqliteStore::expire_erased(engine::Millis cutoff) {
  std::lock_guard lock(mutex_);
  auto removed = prepare("DELETE FROM erased_customers WHERE erased_at < ?1").bind(1, cutoff).run();
  return removed +
         prepare("DELETE FROM erased_messages WHERE erased_at < ?1").bind(1, cutoff).run();
}

std::size_t SqliteStore::expire_events(engine::Millis cutoff) {
  std::lock_guard lock(mutex_);
  return prepare("DELETE FROM events WHERE at < ?1").bind(1, cutoff).run();
}

void SqliteStore::save_deployment(const Deployment& deployment) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*this);
  std::int64_t next_seq = 1;
  {
    auto& st = prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployments");
    ResetOnExit reset(st);
    if (st.step()) next_seq = st.integer(0);
  }
  auto inserted =
      prepare(
          "INSERT OR IGNORE INTO deployments(id, deployed_at, seq, naming) VALUES (?1, ?2, ?3, ?4)")
          .bind(1, deployment.id)
          .bind(2, deployment.deployed_at)
          .bind(3, next_seq)
          .bind(4, static_cast<std::int64_t>(deployment.naming))
          .run();
  if (inserted > 0) {
    for (const auto& [path, text] : deployment.files) {
      prepare("INSERT INTO deployment_files(deployment_id, path, text) VALUES (?1, ?2, ?3)")
          .bind(1, deployment.id)
          .bind(2, path)
          .bind(3, text)
          .run();
    }
  } else {
    // Deployed again (e.g. a rollback): it becomes the newest, so the live one.
    prepare("UPDATE deployments SET seq = ?2, deployed_at = ?3 WHERE id = ?1")
        .bind(1, deployment.id)
        .bind(2, next_seq)
        .bind(3, deployment.deployed_at)
        .run();
  }
  transaction.commit();
}

std::vector<Deployment> SqliteStore::deployments() {
  std::lock_guard lock(mutex_);
  std::vector<Deployment> out;
  {
    auto& st = prepare("SELECT id, deployed_at, naming FROM deployments ORDER BY seq");
    ResetOnExit reset(st);
    while (st.step()) {
      Deployment deployment;
      deployment.id = st.text(0);
      deployment.deployed_at = st.integer(1);
      deployment.naming = st.integer(2) == static_cast<std::int64_t>(engine::StepNaming::Positions)
                              ? engine::StepNaming::Positions
                              : engine::StepNaming::Tree;
      out.push_back(std::move(deployment));
    }
  }
  for (auto& deployment : out) {
    auto& st =
        prepare("SELECT path, text FROM deployment_files WHERE deployment_id = ?1 ORDER BY path");
    ResetOnExit reset(st);
    st.bind(1, deployment.id);
    while (st.step()) deployment.files.emplace_back(st.text(0), st.text(1));
  }
  return out;
}

void SqliteStore::delete_deployment(const std::string& id) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*this);
  prepare("DELETE FROM deployment_files WHERE deployment_id = ?1").bind(1, id).run();
  prepare("DELETE FROM deployments WHERE id = ?1").bind(1, id).run();
  transaction.commit();
}

std::set<std::pair<std::string, std::string>> SqliteStore::versions_in_use() {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT DISTINCT journey, version FROM runs");
  ResetOnExit reset(st);
  std::set<std::pair<std::string, std::string>> out;
  while (st.step()) out.emplace(st.text(0), st.text(1));
  return out;
}

std::vector<std::string> SqliteStore::customers_in(const std::string& journey,
                                                   const std::string& version) {
  std::lock_guard lock(mutex_);
  auto& st = prepare(
      "SELECT DISTINCT customer_id FROM runs WHERE journey = ?1 AND version = ?2 ORDER BY 1");
  ResetOnExit reset(st);
  st.bind(1, journey);
  st.bind(2, version);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

std::vector<std::string> SqliteStore::customer_ids() {
  std::lock_guard lock(mutex_);
  auto& st = prepare("SELECT id FROM customers ORDER BY 1");
  ResetOnExit reset(st);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

SqliteStorage::SqliteStorage(std::string path, std::size_t cache_mb, bool durable)
    : path_(std::move(path)), cache_mb_(cache_mb), durable_(durable) {
  SqliteStore migrated(path_);
}

std::unique_ptr<Store> SqliteStorage::open_writer() {
  auto store = std::make_unique<SqliteStore>(path_);
  // The WAL is copied back into the database by the checkpoint thread, not inside a commit, and
  // the pages the commits touch stay in memory (with a small cache, a burst over a million
  // customers reads most pages back from the file first).
  store->tune({.writer = true, .cache_mb = cache_mb_, .durable = durable_});
  return store;
}

std::unique_ptr<Store> SqliteStorage::open() {
  return std::make_unique<SqliteStore>(path_);
}

}  // namespace journey::runtime
