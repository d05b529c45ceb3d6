#include "runtime/daemon.hpp"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "engine/hash.hpp"
#include "runtime/api.hpp"
#include "runtime/dispatcher.hpp"
#include "runtime/journey_set.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/server.hpp"
#include "runtime/store.hpp"
#include "runtime/timers.hpp"

namespace journey::runtime {

namespace net = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

engine::Millis wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The shard that owns a customer: a stable hash of the id, so any process agrees.
std::size_t shard_of(const std::string& customer_id, std::size_t shards) {
  return static_cast<std::size_t>(engine::stable_hash(customer_id, 0) % shards);
}

/// What one input came to, reported to whoever submitted it.
struct InputResult {
  bool ok = true;
  bool duplicate = false;
  bool erased = false;  // an event of an erased customer from before the erasure: ignored
  std::string error;
  Erasure erasure;
  bool wal_truncated = false;  // Erase: the WAL was truncated before the answer
};

/// One unit of work for a shard, handled strictly in submission order.
struct ShardInput {
  enum class Kind : std::uint8_t { Event, Wake, Erase };
  Kind kind = Kind::Event;
  engine::Event event;      // Event
  std::string raw;          // Event: the JSON as received
  std::string customer_id;  // Wake, Erase
  engine::Millis due = 0;   // Wake: when it was due
  std::function<void(const InputResult&)> done;

  const std::string& customer() const {
    return kind == Kind::Event ? event.customer_id : customer_id;
  }
};

/// Active runs of a customer (journey, version, the step it is at), for runs-per-state counts.
/// Read straight from the state: the same fields describe() shows, without building its JSON.
std::vector<StoredRun> runs_of(const engine::CustomerState& state) {
  std::vector<StoredRun> out;
  out.reserve(state.runs.size());
  for (const auto& [journey, run] : state.runs) out.push_back({journey, run.version, run.step});
  return out;
}

bool same_runs(const std::vector<StoredRun>& a, const std::vector<StoredRun>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const StoredRun& x, const StoredRun& y) {
    return x.journey == y.journey && x.version == y.version && x.state == y.state;
  });
}

const char* metric_of(engine::Record::Kind kind) {
  switch (kind) {
    case engine::Record::Kind::Entered: return "entered";
    case engine::Record::Kind::Exited: return "exited";
    case engine::Record::Kind::Goal: return "goals";
    case engine::Record::Kind::Send: return "sends";
    case engine::Record::Kind::Suppressed: return "suppressed";
    case engine::Record::Kind::Error: return "errors";
    case engine::Record::Kind::Step: return nullptr;
  }
  return nullptr;
}

/// The erased customers (keyed hashes of their ids, and when), read on every cache miss of a
/// shard: in memory, as erasures are rare and the check must cost nothing while there are none.
class Tombstones {
 public:
  void add(std::string id_hash, engine::Millis at) {
    std::unique_lock lock(mutex_);
    erased_[std::move(id_hash)] = at;
    size_ = erased_.size();
  }
  void assign(const std::vector<std::pair<std::string, engine::Millis>>& rows) {
    std::unique_lock lock(mutex_);
    erased_.clear();
    for (const auto& [hash, at] : rows) erased_[hash] = at;
    size_ = erased_.size();
  }
  bool empty() const { return size_.load() == 0; }
  std::optional<engine::Millis> find(const std::string& id_hash) const {
    std::shared_lock lock(mutex_);
    auto it = erased_.find(id_hash);
    if (it == erased_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, engine::Millis> erased_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace

struct Daemon::Impl {
  class Shard;
  class Committer;

  explicit Impl(Config config_in)
      : config(std::move(config_in)),
        io(config.threads),
        signals(io, SIGINT, SIGTERM, SIGHUP),
        housekeeping(io),
        drain_timer(io) {}

  net::ip::tcp::endpoint open();
  int run();

  void handle(HttpRequest request, std::function<void(HttpResponse)> reply);
  void execute(Intent intent, const HttpRequest& request, std::function<void(HttpResponse)> reply);
  void ingest(Ingest ingest, const HttpRequest& request, std::function<void(HttpResponse)> reply);
  HttpResponse get_customer(const GetCustomer& get, const HttpRequest& request);
  HttpResponse explain_customer(const ExplainCustomer& get, const HttpRequest& request);
  HttpResponse list_journeys(const HttpRequest& request);
  HttpResponse read_metrics(const HttpRequest& request);
  HttpResponse check_ready(const HttpRequest& request);
  /// Hands inputs to the shards of their customers, one hand-off per shard, order kept per shard.
  void hand_to_shards(std::vector<ShardInput> inputs);
  /// Reloads the journeys directory: {"reloaded":bool, ...}; the running set stays on errors.
  std::pair<bool, json> reload(const std::string& reason);
  void deploy(const JourneySet& set);
  void wait_signal();
  void shutdown();
  void drain_step();
  void expire_events();

  Config config;
  net::io_context io;
  net::signal_set signals;
  net::steady_timer housekeeping;
  net::steady_timer drain_timer;
  Metrics metrics;
  std::mutex stored_gauges_mutex;  // read_metrics: gauges counted in the store, and when
  std::map<std::string, double> stored_gauges;
  std::chrono::steady_clock::time_point stored_gauges_at;
  std::unique_ptr<SqliteStore> api_store;    // reads, deployments, retention
  std::unique_ptr<SqliteStore> timer_store;  // wake-up windows
  std::unique_ptr<engine::Engine> engine;
  std::shared_mutex engine_mutex;  // shared while stepping, exclusive while deploying
  std::mutex deploy_mutex;         // one reload at a time
  std::vector<std::unique_ptr<Shard>> shards;
  std::unique_ptr<Committer> committer;  // the single writer of the shards' groups
  std::unique_ptr<TimerQueue> timers;
  std::unique_ptr<Dispatcher> dispatcher;
  std::shared_ptr<HttpServer> server;
  std::mutex live_mutex;
  std::string live_id;
  std::vector<engine::JourneyInfo> live_journeys;
  std::atomic<bool> draining{false};
  int drain_ticks = 0;
  Tombstones tombstones;
  /// Readiness: whether the committer's latest commit failed.
  std::atomic<bool> commit_failing{false};
};

/// One shard's group of inputs, stepped and waiting for its commit.
struct PendingCommit {
  static constexpr std::size_t kNoShard = SIZE_MAX;  // delivery marks: no cached states
  Batch batch;
  std::size_t shard = 0;
  std::uint64_t generation = 0;  // the shard's cache generation the batch was computed on
  /// Runs on the shard's strand once the batch is committed (or refused).
  std::function<void(bool ok, const std::string& error)> finish;
};

/// The single writer. Shards step the engine on the I/O threads and hand their batches here; this
/// thread commits everything queued in one transaction (group commit across shards), so writers
/// never wait on each other in SQLite's busy handler and the I/O threads never block on an fsync.
class Daemon::Impl::Committer {
 public:
  explicit Committer(Impl& daemon)
      : daemon_(daemon),
        store_(std::make_unique<SqliteStore>(daemon.config.db_path)),
        checkpoint_store_(std::make_unique<SqliteStore>(daemon.config.db_path)) {
    // The WAL is copied back into the database by the checkpoint thread, not inside a commit.
    store_->exec("PRAGMA wal_autocheckpoint=0");
    // The pages the commits touch stay in memory (db_cache_mb): with a small cache, a burst over
    // a million customers reads most pages back from the file first.
    store_->exec("PRAGMA cache_size=-" + std::to_string(daemon.config.db_cache_mb * 1024));
  }
  ~Committer() { stop(); }
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
    checkpointer_ = std::thread([this] { checkpoints(); });
  }
  /// Commits what is queued, then ends the threads.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    checkpoint_wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
  }
  /// Asks the checkpoint thread to truncate the WAL (an erasure could not, SQLite being busy).
  void truncate_soon() {
    truncate_wal_ = true;
    checkpoint_wake_.notify_one();
  }
  void submit(PendingCommit commit) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(commit));
    }
    wake_.notify_one();
  }
  /// Writes outside the shards' groups (the dispatcher's delivery marks, the readiness probe's
  /// heartbeat) with the next commit: a second writer would queue in SQLite's busy handler behind
  /// a busy committer, and could starve. Returns once durable; throws StoreError. After stop(),
  /// writes directly.
  void write(Batch batch) {
    std::promise<std::string> done;
    auto result = done.get_future();
    {
      std::lock_guard lock(mutex_);
      if (finished_) {
        store_->apply(batch);  // the committer's thread has ended
        return;
      }
      PendingCommit commit;
      commit.shard = PendingCommit::kNoShard;
      commit.batch = std::move(batch);
      commit.finish = [&done](bool ok, const std::string& error) {
        done.set_value(ok ? std::string() : error.empty() ? "commit failed" : error);
      };
      queue_.push_back(std::move(commit));
    }
    wake_.notify_one();
    if (auto error = result.get(); !error.empty()) throw StoreError(error);
  }

 private:
  void run();

  static constexpr std::size_t kMaxMergedWrites = 4096;

  /// Passive checkpoints (they never block the committer) every 32 commits or 250 ms of them.
  void checkpoints() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      checkpoint_wake_.wait_for(lock, std::chrono::milliseconds(250), [this] {
        return stopping_ || commits_since_checkpoint_ >= 32 || truncate_wal_;
      });
      if (truncate_wal_.load() && !stopping_) {
        lock.unlock();
        try {
          if (checkpoint_store_->truncate_wal()) {
            truncate_wal_ = false;
            log(LogLevel::Info, "WAL truncated after an erasure");
          }
        } catch (const StoreError& e) {
          log(LogLevel::Warn, "checkpoint failed", {{"error", e.what()}});
        }
        lock.lock();
        continue;
      }
      if (stopping_ || commits_since_checkpoint_ == 0) continue;
      commits_since_checkpoint_ = 0;
      lock.unlock();
      try {
        // While the committer keeps writing, this thread never copies the very last frames, so
        // SQLite never starts the WAL over and the file grows for as long as the load lasts
        // (and each append costs the file system a new block). Past a size, the committer
        // checkpoints the rest itself between two transactions; its next one restarts the WAL.
        if (checkpoint_store_->checkpoint() >= kWalRestartFrames) restart_wal_ = true;
      } catch (const StoreError& e) {
        log(LogLevel::Warn, "checkpoint failed", {{"error", e.what()}});
      }
      lock.lock();
    }
  }

  Impl& daemon_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SqliteStore> checkpoint_store_;
  std::thread thread_;
  std::thread checkpointer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable checkpoint_wake_;
  std::vector<PendingCommit> queue_;
  std::size_t commits_since_checkpoint_ = 0;
  static constexpr int kWalRestartFrames = 16384;  // 64 MB of 4 KB pages
  std::atomic<bool> restart_wal_{false};
  std::atomic<bool> truncate_wal_{false};  // after an erasure that could not truncate it
  bool stopping_ = false;
  bool finished_ = false;  // run() has returned: marks are written directly
};

/// A partition of the customers. Each shard handles its customers' inputs strictly in order on
/// its own strand and steps the engine over them in groups: everything queued while a group is
/// being committed goes into the next one. The committer writes the groups; until a customer's
/// writes are durable, the shard keeps the customer's state (and the message ids seen) in memory,
/// so later inputs build on it. Nothing is shared between shards but the engine (read-only while
/// stepping) and the committer.
class Daemon::Impl::Shard {
 public:
  Shard(Impl& daemon, std::size_t index)
      : daemon_(daemon),
        index_(index),
        strand_(net::make_strand(daemon.io)),
        store_(std::make_unique<SqliteStore>(daemon.config.db_path)) {}

  /// Inputs of this shard's customers, handled in this order (one hand-off for all of them).
  void submit(std::vector<ShardInput> inputs) {
    outstanding_ += inputs.size();
    daemon_.metrics.queue_depth += static_cast<std::int64_t>(inputs.size());
    net::post(strand_, [this, inputs = std::move(inputs)]() mutable {
      for (auto& input : inputs) pending_.push_back(std::move(input));
      schedule();
    });
  }

  /// Nothing queued or in hand.
  bool idle() const { return outstanding_.load() == 0; }

  /// Bumped by the committer when a commit of this shard failed: the cached states built on it
  /// are dropped, and batches computed on them are refused.
  std::atomic<std::uint64_t> generation{0};

 private:
  /// A customer whose latest state is not durable yet.
  struct Cached {
    std::unique_ptr<engine::CustomerState> state;
    std::string snapshot;  // serialized state as stored or last written; empty for a new customer
    std::vector<StoredRun> runs;  // as stored (when runs_known)
    bool runs_known = false;
    int commits = 0;       // commits in flight that write this customer
    std::optional<engine::Millis> erased_at;  // the customer was erased then (a tombstone)
  };

  void schedule() {
    if (!scheduled_) {
      scheduled_ = true;
      net::post(strand_, [this] { flush(); });
    }
  }

  void flush() {
    scheduled_ = false;
    if (generation.load() != cache_generation_) {
      cache_.clear();
      cache_generation_ = generation.load();
    }
    auto limit = static_cast<std::size_t>(daemon_.config.group_commit_max);
    while (!pending_.empty()) {
      if (pending_.front().kind == ShardInput::Kind::Erase) {
        // An erasure runs alone, after every earlier write of this shard is durable.
        if (commits_in_flight_ > 0) return;  // finish() schedules the next flush
        ShardInput input = std::move(pending_.front());
        pending_.pop_front();
        InputResult result;
        erase(input, result);
        --daemon_.metrics.queue_depth;
        if (input.done) input.done(result);
        --outstanding_;
        continue;
      }
      std::vector<ShardInput> inputs;
      while (!pending_.empty() && inputs.size() < limit &&
             pending_.front().kind != ShardInput::Kind::Erase) {
        inputs.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      process(std::move(inputs));
      // One group per turn of the strand: the I/O threads also read requests and answer them.
      if (!pending_.empty()) schedule();
      return;
    }
  }

  void erase(const ShardInput& input, InputResult& result) {
    try {
      std::vector<std::string> message_ids;  // remembered in the state only
      if (auto stored = store_->load_customer(input.customer_id)) {
        try {
          const auto& ids = engine::deserialize(*stored)->message_ids;
          message_ids.assign(ids.begin(), ids.end());
        } catch (const std::exception&) {
          // Unreadable: it is erased all the same.
        }
      }
      const auto now = wall_now();
      result.erasure = store_->erase_customer(input.customer_id, now, message_ids);
      daemon_.tombstones.add(store_->keyed_hash(input.customer_id), now);
      cache_.erase(input.customer_id);
      daemon_.timers->update(input.customer_id, std::nullopt);
      // The deleted rows are zeros in the pages now (secure_delete); the WAL still holds the
      // pages as they were before. Copy it into the database and cut it to zero bytes.
      result.wal_truncated = store_->truncate_wal();
      if (!result.wal_truncated) {
        log(LogLevel::Warn, "erasure: the WAL could not be truncated now (busy); it is at the next checkpoint",
            {{"shard", index_}});
        daemon_.committer->truncate_soon();
      }
      log(LogLevel::Info, "customer erased", {{"customer_id", input.customer_id}, {"shard", index_}});
    } catch (const StoreError& e) {
      result.ok = false;
      result.error = e.what();
      log(LogLevel::Error, "erasure failed", {{"customer_id", input.customer_id}, {"error", e.what()}});
    }
  }

  /// Everything a group needs once its commit is done.
  struct Group {
    std::vector<ShardInput> inputs;
    std::vector<InputResult> results;
    std::vector<std::string> touched;
    std::map<std::string, std::optional<engine::Millis>> wakeups;
    std::set<std::string> woken;
    std::size_t accepted = 0;
    std::size_t duplicates = 0;
    std::size_t actions = 0;
    engine::Millis now = 0;
    std::chrono::steady_clock::time_point started;
  };

  /// After an engine failure: the customer's state as it was before the group, then the group's
  /// earlier inputs again (the engine is deterministic, so they give what they gave before).
  void restore(const engine::Engine& engine, Cached& entry, const std::string& customer,
               const std::vector<ShardInput>& inputs, const std::vector<std::size_t>& applied,
               engine::Millis now) {
    entry.state = entry.snapshot.empty() ? engine::new_customer(customer) : engine::deserialize(entry.snapshot);
    for (auto index : applied) {
      const auto& input = inputs[index];
      if (input.kind == ShardInput::Kind::Event) {
        engine.on_event(*entry.state, input.event, true);
      } else {
        engine.on_time(*entry.state, now, true);
      }
    }
  }

  /// Steps the engine over a group of inputs and hands their effects to the committer.
  void process(std::vector<ShardInput> inputs) {
    auto group = std::make_shared<Group>();
    group->now = wall_now();
    group->inputs = std::move(inputs);
    group->results.resize(group->inputs.size());
    auto& results = group->results;
    const auto now = group->now;
    PendingCommit commit;
    Batch& batch = commit.batch;
    std::map<CounterDelta, std::int64_t> counters;
    std::vector<StoredTrace> trace;  // the group's trace lines, stored as rows per customer
    std::set<std::string> touched;
    std::unordered_map<std::string, std::vector<std::size_t>> applied;  // inputs stepped, by customer
    bool failed = false;
    try {
      std::shared_lock engine_lock(daemon_.engine_mutex);
      const auto& engine = *daemon_.engine;
      for (std::size_t k = 0; k < group->inputs.size(); ++k) {
        auto& input = group->inputs[k];
        bool is_event = input.kind == ShardInput::Kind::Event;
        const std::string& customer = input.customer();
        const std::string& message_id = input.event.message_id;
        if (!is_event) group->woken.insert(customer);
        auto cached = cache_.find(customer);
        if (cached == cache_.end()) {
          auto stored = store_->load_customer(customer);
          if (!stored && !is_event) continue;  // a wake-up for a customer erased since
          try {
            Cached entry;
            entry.state = stored ? engine::deserialize(*stored) : engine::new_customer(customer);
            if (stored) entry.snapshot = std::move(*stored);
            entry.runs = runs_of(*entry.state);  // the stored runs rows mirror the stored state
            entry.runs_known = true;
            if (!daemon_.tombstones.empty()) {
              entry.erased_at = daemon_.tombstones.find(store_->keyed_hash(customer));
            }
            cached = cache_.emplace(customer, std::move(entry)).first;
          } catch (const std::exception& e) {
            results[k].ok = false;
            results[k].error = std::string("stored state unreadable: ") + e.what();
            log(LogLevel::Error, "stored state unreadable", {{"customer_id", customer}, {"error", e.what()}});
            continue;
          }
        }
        auto& entry = cached->second;
        // The state holds every messageId the customer was ever sent: a repeat is answered
        // without stepping.
        if (is_event && !message_id.empty() && entry.state->message_ids.count(message_id) != 0) {
          results[k].duplicate = true;
          ++group->duplicates;
          continue;
        }
        // A replay of an erased customer's data: an event from before the erasure, or one whose
        // messageId the customer had. Ignored, so erased data does not come back.
        if (is_event && entry.erased_at &&
            (input.event.at <= *entry.erased_at ||
             (!message_id.empty() && store_->erased_message(customer, message_id)))) {
          results[k].erased = true;
          ++daemon_.metrics.events_erased;
          continue;
        }
        engine::Outcome outcome;
        try {
          outcome = is_event ? engine.on_event(*entry.state, input.event, true)
                             : engine.on_time(*entry.state, now, true);
        } catch (const std::exception& e) {
          restore(engine, entry, customer, group->inputs, applied[customer], now);
          results[k].ok = false;
          results[k].error = std::string("engine failure: ") + e.what();
          ++daemon_.metrics.engine_errors;
          log(LogLevel::Error, "engine failure", {{"customer_id", customer}, {"error", e.what()}});
          continue;
        }
        if (outcome.duplicate) {
          results[k].duplicate = true;
          ++group->duplicates;
          continue;
        }
        applied[customer].push_back(k);
        if (is_event) {
          ++group->accepted;
          batch.events.push_back({customer, message_id, input.event.at, input.raw});
        } else {
          auto lateness = std::max<engine::Millis>(0, now - input.due);
          ++daemon_.metrics.timers_fired;
          daemon_.metrics.record_timer_lag(lateness);
          if (lateness > 1000) {
            // At most one line a second: a backlog of a million late wake-ups is one fact.
            ++late_unlogged_;
            if (now - late_logged_at_ >= 1000) {
              log(LogLevel::Warn, "wake-up fired late",
                  {{"customer_id", customer},
                   {"due", engine::format_timestamp(input.due)},
                   {"late_ms", lateness},
                   {"late_wakeups_since_last_line", late_unlogged_}});
              late_logged_at_ = now;
              late_unlogged_ = 0;
            }
          }
        }
        touched.insert(customer);
        collect(outcome, customer, batch, trace, counters);
      }
      for (const auto& customer : touched) {
        auto& entry = cache_.at(customer);
        CustomerWrite write;
        write.customer_id = customer;
        write.state = engine::serialize(*entry.state);
        entry.snapshot = write.state;
        write.next_wakeup = engine.next_wakeup(*entry.state);
        write.runs = runs_of(*entry.state);
        // The runs table changes only when a run starts, moves or ends.
        write.write_runs = !entry.runs_known || !same_runs(write.runs, entry.runs);
        entry.runs = write.runs;
        entry.runs_known = true;
        group->wakeups[customer] = write.next_wakeup;
        batch.customers.push_back(std::move(write));
        ++entry.commits;
        group->touched.push_back(customer);
      }
    } catch (const std::exception& e) {
      // A read failed (or worse): refuse the group. The cached states may hold half of it.
      failed = true;
      for (auto& result : results) {
        result.ok = false;
        result.error = std::string("storage failure: ") + e.what();
      }
      log(LogLevel::Error, "commit failed", {{"shard", index_}, {"error", e.what()}});
    }
    // Customers not written (duplicates, failures) need no cache entry.
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.commits == 0 ? cache_.erase(it) : std::next(it);
    }
    if (failed) {
      // The cached states may hold part of this group: start again from the store, and refuse
      // the commits in flight that were computed on them.
      ++generation;
      cache_.clear();
      cache_generation_ = generation.load();
      finish(group, false, "");
      return;
    }
    for (const auto& [key, delta] : counters) {
      CounterDelta counter = key;
      counter.delta = delta;
      batch.counters.push_back(std::move(counter));
    }
    batch.traces = trace_rows(trace);
    batch.trace_keep = daemon_.config.retention.trace_lines;  // trimmed in the same transaction
    group->actions = batch.actions.size();
    group->started = std::chrono::steady_clock::now();
    commit.shard = index_;
    commit.generation = cache_generation_;
    commit.finish = [this, group](bool ok, const std::string& error) {
      net::post(strand_, [this, group, ok, error] {
        --commits_in_flight_;
        for (const auto& customer : group->touched) drop(customer);
        if (!ok) {
          for (auto& result : group->results) {
            result.ok = false;
            result.error = "storage failure: " + error;
          }
          log(LogLevel::Error, "commit failed", {{"shard", index_}, {"error", error}});
        }
        finish(group, ok, error);
        if (!pending_.empty()) schedule();
      });
    };
    ++commits_in_flight_;
    daemon_.committer->submit(std::move(commit));
  }

  /// One commit that wrote this customer is done: the stored state is the latest once none is
  /// left in flight.
  void drop(const std::string& customer) {
    auto it = cache_.find(customer);
    if (it == cache_.end()) return;
    if (--it->second.commits <= 0) cache_.erase(it);
  }

  /// Answers a group's inputs and tells the timer queue about its wake-ups.
  void finish(const std::shared_ptr<Group>& group, bool ok, const std::string&) {
    auto now = group->now;
    std::vector<TimerQueue::Update> updates;
    if (ok) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - group->started;
      daemon_.metrics.record_commit(took.count(), group->inputs.size());
      daemon_.metrics.events_accepted += group->accepted;
      daemon_.metrics.events_duplicate += group->duplicates;
      for (const auto& [customer, next] : group->wakeups) {
        // Defensive: a wake-up the engine left in the past is retried in a second, not spun on.
        bool stuck = next && *next <= now && group->woken.count(customer) != 0;
        updates.emplace_back(customer, stuck ? std::optional<engine::Millis>(now + 1000) : next);
      }
      if (group->actions > 0) daemon_.dispatcher->notify();
    }
    // Every fired wake-up is answered to the timer queue: with the new wake-up after a commit,
    // none when the customer is gone, a retry when the commit failed.
    for (const auto& customer : group->woken) {
      if (ok && group->wakeups.count(customer) != 0) continue;
      updates.emplace_back(customer, ok ? std::nullopt : std::optional<engine::Millis>(now + 5000));
    }
    if (!updates.empty()) daemon_.timers->update(std::move(updates));
    daemon_.metrics.queue_depth -= static_cast<std::int64_t>(group->inputs.size());
    for (std::size_t k = 0; k < group->inputs.size(); ++k) {
      if (group->inputs[k].done) group->inputs[k].done(group->results[k]);
      --outstanding_;
    }
  }

  void collect(engine::Outcome& outcome, const std::string& customer, Batch& batch,
               std::vector<StoredTrace>& trace, std::map<CounterDelta, std::int64_t>& counters) {
    for (const auto& action : outcome.actions) {
      OutboxEntry entry;
      entry.action_id = action.action_id;
      entry.customer_id = action.customer_id.empty() ? customer : action.customer_id;
      entry.channel = action.channel;
      entry.payload = engine::to_json_line(action);
      batch.actions.push_back(std::move(entry));
    }
    for (const auto& record : outcome.records) {
      const char* metric = metric_of(record.kind);
      if (metric == nullptr) continue;
      std::string key = record.kind == engine::Record::Kind::Entered ||
                                record.kind == engine::Record::Kind::Send
                            ? std::string()
                            : record.detail;
      if (record.kind == engine::Record::Kind::Error) {
        ++daemon_.metrics.engine_errors;
        log(LogLevel::Error, "engine error",
            {{"customer_id", customer}, {"journey", record.journey}, {"error", record.detail}});
        key.clear();
      }
      counters[CounterDelta{record.journey, record.version, metric, key, 0}] += 1;
    }
    if (daemon_.config.retention.trace_lines > 0) {
      for (const auto& line : outcome.trace) {
        trace.push_back({customer, line.at, line.journey, line.message,
                         line.detail.dump(-1, ' ', false, json::error_handler_t::replace)});
      }
    }
  }

  Impl& daemon_;
  std::size_t index_;
  net::strand<net::io_context::executor_type> strand_;
  std::unique_ptr<SqliteStore> store_;  // reads: stored states, message ids; erasures
  std::deque<ShardInput> pending_;      // only touched on the strand
  bool scheduled_ = false;
  std::unordered_map<std::string, Cached> cache_;  // states not yet durable (strand only)
  std::uint64_t cache_generation_ = 0;
  std::size_t commits_in_flight_ = 0;
  engine::Millis late_logged_at_ = 0;  // "wake-up fired late" lines: the last one, and those since
  std::size_t late_unlogged_ = 0;
  std::atomic<std::size_t> outstanding_{0};
};

void Daemon::Impl::Committer::run() {
  for (;;) {
    std::vector<PendingCommit> group;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {  // stopping, and everything is committed
        finished_ = true;
        return;
      }
      // A transaction takes the queued groups up to kMaxMergedWrites customer writes: the shards
      // compute the next groups while it commits, rather than waiting for one huge commit.
      std::size_t taken = 0;
      std::size_t writes = 0;
      while (taken < queue_.size() &&
             (taken == 0 || writes + queue_[taken].batch.customers.size() <= kMaxMergedWrites)) {
        writes += queue_[taken++].batch.customers.size();
      }
      group.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(taken)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(taken));
    }
    // Batches computed on states of a commit that failed since are refused with it.
    std::vector<PendingCommit> stale;
    std::vector<PendingCommit> live;
    for (auto& commit : group) {
      bool current = commit.shard == PendingCommit::kNoShard ||
                     commit.generation == daemon_.shards[commit.shard]->generation.load();
      (current ? live : stale).push_back(std::move(commit));
    }
    for (auto& commit : stale) commit.finish(false, "an earlier commit of these customers failed");
    if (live.empty()) continue;
    Batch merged;
    if (live.size() == 1) {
      merged = std::move(live[0].batch);
    } else {
      auto append = [](auto& into, auto& from) {
        into.insert(into.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
      };
      for (auto& commit : live) {
        append(merged.customers, commit.batch.customers);
        append(merged.events, commit.batch.events);
        append(merged.actions, commit.batch.actions);
        append(merged.traces, commit.batch.traces);
        append(merged.counters, commit.batch.counters);
        append(merged.delivered, commit.batch.delivered);
        append(merged.failed, commit.batch.failed);
        if (commit.batch.heartbeat) merged.heartbeat = commit.batch.heartbeat;
        merged.trace_keep = std::min(merged.trace_keep, commit.batch.trace_keep);
      }
    }
    BatchResult applied;
    try {
      applied = store_->apply(merged);
      daemon_.commit_failing = false;
    } catch (const std::exception& e) {
      daemon_.commit_failing = true;
      for (auto& commit : live) {
        if (commit.shard != PendingCommit::kNoShard) ++daemon_.shards[commit.shard]->generation;
      }
      std::string error = e.what();
      for (auto& commit : live) commit.finish(false, error);
      continue;
    }
    daemon_.metrics.actions_created += applied.actions_inserted;
    if (applied.actions_existing > 0) {
      log(LogLevel::Info, "action ids already in the outbox were not created again",
          {{"count", applied.actions_existing}});
    }
    for (auto& commit : live) commit.finish(true, "");
    // The committer is the daemon's bottleneck: the batch's many strings are freed on an I/O
    // thread instead.
    net::post(daemon_.io, [spent = std::make_shared<Batch>(std::move(merged))] {});
    bool checkpoint;
    {
      std::lock_guard lock(mutex_);
      checkpoint = ++commits_since_checkpoint_ >= 32;
    }
    if (checkpoint) checkpoint_wake_.notify_one();
    if (restart_wal_.exchange(false)) {
      try {
        store_->checkpoint();
      } catch (const StoreError& e) {  // the commit stands; the WAL is restarted later
        log(LogLevel::Warn, "checkpoint failed", {{"error", e.what()}});
      }
    }
  }
}

net::ip::tcp::endpoint Daemon::Impl::open() {
  validate_for_serving(config);
  api_store = std::make_unique<SqliteStore>(config.db_path);
  timer_store = std::make_unique<SqliteStore>(config.db_path);
  engine = std::make_unique<engine::Engine>(config.engine);

  // Versions stored by earlier runs stay available to the runs that entered them.
  auto stored = api_store->deployments();
  std::shared_ptr<const engine::Program> last_stored;
  for (const auto& deployment : stored) {
    auto set = compile_files(deployment.files);
    if (!set.ok()) {
      log(LogLevel::Warn, "a stored deployment no longer compiles; its runs cannot continue",
          {{"deployment", deployment.id}});
      continue;
    }
    engine->retain(set.program);
    last_stored = set.program;
    std::lock_guard lock(live_mutex);
    live_id = deployment.id;
    live_journeys = engine::journeys_of(*set.program);
  }
  auto set = load_journey_dir(config.journeys_dir);
  if (set.ok()) {
    deploy(set);
  } else if (last_stored) {
    engine->deploy(last_stored);
    log(LogLevel::Error, "journey scripts have errors; serving the last deployment",
        {{"dir", config.journeys_dir}, {"deployment", live_id}, {"diagnostics", set.diagnostics}});
  } else {
    throw DeployError("journey scripts have errors and no earlier deployment is stored:\n" +
                      summarize_errors(set.diagnostics));
  }

  committer = std::make_unique<Committer>(*this);
  dispatcher = std::make_unique<Dispatcher>(config, metrics,
                                            [this](Batch marks) { committer->write(std::move(marks)); });
  tombstones.assign(api_store->erased_customers());
  for (int i = 0; i < config.shards; ++i) {
    shards.push_back(std::make_unique<Shard>(*this, static_cast<std::size_t>(i)));
  }
  timers = std::make_unique<TimerQueue>(
      io, *timer_store, config.timer_window_ms, config.timer_window_max,
      [this](std::vector<TimerQueue::Due>& fired) {
        std::vector<ShardInput> inputs(fired.size());
        for (std::size_t i = 0; i < fired.size(); ++i) {
          inputs[i].kind = ShardInput::Kind::Wake;
          inputs[i].customer_id = std::move(fired[i].first);
          inputs[i].due = fired[i].second;
        }
        hand_to_shards(std::move(inputs));
      },
      wall_now);
  server = std::make_shared<HttpServer>(
      io, config.limits,
      [this](HttpRequest request, std::function<void(HttpResponse)> reply) {
        handle(std::move(request), std::move(reply));
      },
      metrics);
  auto endpoint = server->listen(config.listen_host, config.listen_port);
  log(LogLevel::Info, "listening",
      {{"address", endpoint.address().to_string()},
       {"port", endpoint.port()},
       {"db", config.db_path},
       {"journeys", config.journeys_dir},
       {"shards", config.shards},
       {"auth", config.tokens.empty() ? "none (loopback only)" : "bearer"}});
  return endpoint;
}

void Daemon::Impl::deploy(const JourneySet& set) {
  auto deployment = set.deployment;
  deployment.deployed_at = wall_now();
  api_store->save_deployment(deployment);
  {
    std::unique_lock lock(engine_mutex);
    engine->deploy(set.program);
  }
  std::lock_guard lock(live_mutex);
  live_id = deployment.id;
  live_journeys = engine::journeys_of(*set.program);
  json journeys = json::array();
  for (const auto& info : live_journeys) journeys.push_back(info.name + "@" + info.version);
  log(LogLevel::Info, "journeys deployed", {{"deployment", live_id}, {"journeys", journeys}});
}

std::pair<bool, json> Daemon::Impl::reload(const std::string& reason) {
  std::lock_guard reload_lock(deploy_mutex);
  auto set = load_journey_dir(config.journeys_dir);
  if (!set.ok()) {
    ++metrics.reloads_refused;
    log(LogLevel::Error, "reload refused: journey scripts have errors; the running set stays",
        {{"trigger", reason}, {"diagnostics", set.diagnostics}});
    return {false,
            {{"reloaded", false},
             {"error", "journey scripts have errors; the running set stays"},
             {"diagnostics", set.diagnostics}}};
  }
  bool unchanged;
  {
    std::lock_guard lock(live_mutex);
    unchanged = set.deployment.id == live_id;
  }
  if (!unchanged) {
    try {
      deploy(set);
    } catch (const StoreError& e) {
      ++metrics.reloads_refused;
      return {false, {{"reloaded", false}, {"error", std::string("storage failure: ") + e.what()}}};
    }
  }
  ++metrics.reloads_ok;
  json journeys = json::array();
  std::lock_guard lock(live_mutex);
  for (const auto& info : live_journeys) {
    journeys.push_back({{"name", info.name}, {"version", info.version}});
  }
  return {true,
          {{"reloaded", !unchanged},
           {"deployment", live_id},
           {"journeys", journeys},
           {"diagnostics", set.diagnostics}}};
}

void Daemon::Impl::handle(HttpRequest request, std::function<void(HttpResponse)> reply) {
  try {
    auto routed = route(request, config, wall_now());
    if (auto* answer = std::get_if<HttpResponse>(&routed)) {
      std::string_view target(request.target().data(), request.target().size());
      if (target.rfind("/v1/track", 0) == 0 || target.rfind("/v1/identify", 0) == 0 ||
          target.rfind("/v1/batch", 0) == 0) {
        if (answer->result_int() == 400 || answer->result_int() == 413) ++metrics.events_rejected;
      }
      reply(std::move(*answer));
      return;
    }
    execute(std::get<Intent>(std::move(routed)), request, reply);
  } catch (const std::exception& e) {
    log(LogLevel::Error, "request failed",
        {{"target", std::string(request.target())}, {"error", e.what()}});
    reply(error_response(request, http::status::internal_server_error,
                         std::string("internal error: ") + e.what()));
  }
}

void Daemon::Impl::execute(Intent intent, const HttpRequest& request,
                           std::function<void(HttpResponse)> reply) {
  if (auto* ingest_intent = std::get_if<Ingest>(&intent)) {
    ingest(std::move(*ingest_intent), request, std::move(reply));
  } else if (auto* get = std::get_if<GetCustomer>(&intent)) {
    reply(get_customer(*get, request));
  } else if (auto* explain = std::get_if<ExplainCustomer>(&intent)) {
    reply(explain_customer(*explain, request));
  } else if (auto* erase = std::get_if<EraseCustomer>(&intent)) {
    if (draining) {
      reply(error_response(request, http::status::service_unavailable, "shutting down"));
      return;
    }
    ShardInput input;
    input.kind = ShardInput::Kind::Erase;
    input.customer_id = erase->id;
    auto id = erase->id;
    auto version = request.version();
    auto keep_alive = request.keep_alive();
    input.done = [reply, id, version, keep_alive](const InputResult& result) {
      HttpRequest shape{http::verb::delete_, "/", version};
      shape.keep_alive(keep_alive);
      if (!result.ok) {
        reply(error_response(shape, http::status::service_unavailable, result.error));
        return;
      }
      const auto& e = result.erasure;
      reply(json_response(shape, http::status::ok,
                          {{"customer_id", id},
                           {"found", e.profile},
                           {"wal_truncated", result.wal_truncated},
                           {"removed",
                            {{"profile", e.profile},
                             {"timeline_events", e.events},
                             {"runs", e.runs},
                             {"timers", e.timers},
                             {"unsent_actions", e.unsent_actions},
                             {"trace_lines", e.trace_lines},
                             {"message_ids", e.message_ids}}}}));
    };
    std::vector<ShardInput> inputs;
    inputs.push_back(std::move(input));
    hand_to_shards(std::move(inputs));
  } else if (std::holds_alternative<ListJourneys>(intent)) {
    reply(list_journeys(request));
  } else if (auto* lint = std::get_if<LintScript>(&intent)) {
    reply(json_response(request, http::status::ok, lint_script(lint->text)));
  } else if (std::holds_alternative<ReloadJourneys>(intent)) {
    auto [ok, body] = reload("api");
    reply(json_response(request, ok ? http::status::ok : http::status::unprocessable_entity, body));
  } else if (std::holds_alternative<ReadMetrics>(intent)) {
    reply(read_metrics(request));
  } else if (std::holds_alternative<CheckReady>(intent)) {
    reply(check_ready(request));
  } else {
    reply(json_response(request, draining ? http::status::service_unavailable : http::status::ok,
                        {{"status", draining ? "draining" : "ok"}}));
  }
}

void Daemon::Impl::ingest(Ingest ingest, const HttpRequest& request,
                          std::function<void(HttpResponse)> reply) {
  if (draining) {
    reply(error_response(request, http::status::service_unavailable, "shutting down; retry"));
    return;
  }
  if (static_cast<std::size_t>(std::max<std::int64_t>(0, metrics.queue_depth.load())) +
          ingest.items.size() > config.limits.max_queue) {
    auto response = error_response(request, http::status::too_many_requests,
                                   "the ingest queue is full; retry later");
    response.set(http::field::retry_after, "1");
    reply(std::move(response));
    return;
  }
  /// Collects the shards' answers; the last one to finish replies.
  struct Tally {
    std::mutex mutex;
    std::size_t remaining = 0;
    std::size_t accepted = 0;
    std::size_t duplicates = 0;
    std::size_t erased = 0;
    std::string error;
    std::function<void(HttpResponse)> reply;
    unsigned version = 11;
    bool keep_alive = true;
  };
  auto tally = std::make_shared<Tally>();
  tally->remaining = ingest.items.size();
  tally->reply = std::move(reply);
  tally->version = request.version();
  tally->keep_alive = request.keep_alive();
  if (ingest.items.empty()) {
    tally->reply(json_response(request, http::status::ok,
                               {{"success", true}, {"accepted", 0}, {"duplicates", 0}, {"erased", 0}}));
    return;
  }
  std::vector<ShardInput> inputs;
  inputs.reserve(ingest.items.size());
  for (auto& item : ingest.items) {
    ShardInput input;
    input.kind = ShardInput::Kind::Event;
    input.event = std::move(item.event);
    input.raw = std::move(item.raw);
    input.done = [tally](const InputResult& result) {
      std::unique_lock lock(tally->mutex);
      if (!result.ok && tally->error.empty()) tally->error = result.error;
      if (result.ok && result.duplicate) ++tally->duplicates;
      if (result.ok && result.erased) ++tally->erased;
      if (result.ok && !result.duplicate && !result.erased) ++tally->accepted;
      if (--tally->remaining > 0) return;
      lock.unlock();
      HttpRequest shape{http::verb::post, "/", tally->version};
      shape.keep_alive(tally->keep_alive);
      if (!tally->error.empty()) {
        tally->reply(error_response(shape, http::status::service_unavailable,
                                    tally->error + " (events without an error were committed; "
                                                   "retrying with the same messageIds is safe)"));
      } else {
        tally->reply(json_response(shape, http::status::ok,
                                   {{"success", true},
                                    {"accepted", tally->accepted},
                                    {"duplicates", tally->duplicates},
                                    {"erased", tally->erased}}));
      }
    };
    inputs.push_back(std::move(input));
  }
  hand_to_shards(std::move(inputs));
}

void Daemon::Impl::hand_to_shards(std::vector<ShardInput> inputs) {
  std::vector<std::vector<ShardInput>> by_shard(shards.size());
  for (auto& input : inputs) {
    by_shard[shard_of(input.customer(), shards.size())].push_back(std::move(input));
  }
  for (std::size_t i = 0; i < shards.size(); ++i) {
    if (!by_shard[i].empty()) shards[i]->submit(std::move(by_shard[i]));
  }
}

HttpResponse Daemon::Impl::get_customer(const GetCustomer& get, const HttpRequest& request) {
  auto stored = api_store->load_customer(get.id);
  if (!stored) {
    return error_response(request, http::status::not_found, "no customer `" + get.id + "`");
  }
  auto state = engine::deserialize(*stored);
  json body;
  {
    std::shared_lock lock(engine_mutex);
    body["customer"] = engine->describe(*state);
    auto next = engine->next_wakeup(*state);
    body["next_wakeup"] = next ? json(engine::format_timestamp(*next)) : json(nullptr);
  }
  body["customer_id"] = get.id;
  json actions = json::array();
  for (const auto& entry : api_store->recent_actions(get.id, config.retention.recent_actions)) {
    json action = json::parse(entry.payload, nullptr, false);
    if (action.is_discarded()) action = json::object();
    action["delivery"] = {{"status", status_name(entry.status)},
                          {"attempts", entry.attempts},
                          {"last_error", entry.last_error}};
    actions.push_back(std::move(action));
  }
  body["recent_actions"] = std::move(actions);
  return json_response(request, http::status::ok, body);
}

HttpResponse Daemon::Impl::explain_customer(const ExplainCustomer& get, const HttpRequest& request) {
  auto lines = api_store->traces(get.id, config.retention.trace_lines);
  if (lines.empty() && !api_store->load_customer(get.id)) {
    return error_response(request, http::status::not_found, "no customer `" + get.id + "`");
  }
  json trace = json::array();
  for (const auto& line : lines) {
    json detail = json::parse(line.detail_json, nullptr, false);
    trace.push_back({{"at", engine::format_timestamp(line.at)},
                     {"journey", line.journey},
                     {"message", line.message},
                     {"detail", detail.is_discarded() ? json::object() : detail}});
  }
  return json_response(request, http::status::ok,
                       {{"customer_id", get.id},
                        {"kept_lines", config.retention.trace_lines},
                        {"trace", trace}});
}

HttpResponse Daemon::Impl::list_journeys(const HttpRequest& request) {
  struct Row {
    json counts = {{"entered", 0}, {"exited", 0}, {"sends", 0}, {"errors", 0}};
    json suppressions = json::object();
    json goals = json::object();
    json exits = json::object();
    json runs = json::object();
    std::int64_t active = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  for (const auto& counter : api_store->counters()) {
    auto& row = rows[{counter.journey, counter.version}];
    if (counter.metric == "suppressed") {
      row.suppressions[counter.key.empty() ? "unknown" : counter.key] = counter.value;
    } else if (counter.metric == "goals") {
      row.goals[counter.key] = counter.value;
    } else if (counter.metric == "exited") {
      row.counts["exited"] = row.counts["exited"].get<std::int64_t>() + counter.value;
      row.exits[counter.key.empty() ? "end" : counter.key] = counter.value;
    } else {
      row.counts[counter.metric] = row.counts.value(counter.metric, std::int64_t{0}) + counter.value;
    }
  }
  for (const auto& [run, count] : api_store->run_counts()) {
    auto& row = rows[{run.journey, run.version}];
    row.runs[run.state.empty() ? "running" : run.state] = count;
    row.active += static_cast<std::int64_t>(count);
  }
  std::vector<engine::JourneyInfo> live;
  std::string deployment;
  {
    std::lock_guard lock(live_mutex);
    live = live_journeys;
    deployment = live_id;
  }
  std::set<std::pair<std::string, std::string>> live_keys;
  for (const auto& info : live) {
    live_keys.insert({info.name, info.version});
    rows[{info.name, info.version}];
  }
  std::map<std::string, json> by_name;
  for (auto& [key, row] : rows) {
    json version = {{"version", key.second},
                    {"live", live_keys.count(key) != 0},
                    {"active_runs", row.active},
                    {"runs_by_state", row.runs},
                    {"entered", row.counts["entered"]},
                    {"exited", row.counts["exited"]},
                    {"exits", row.exits},
                    {"sends", row.counts["sends"]},
                    {"suppressions", row.suppressions},
                    {"goals", row.goals},
                    {"errors", row.counts["errors"]}};
    auto& entry = by_name[key.first];
    if (entry.is_null()) entry = {{"name", key.first}, {"live_version", nullptr}, {"versions", json::array()}};
    if (live_keys.count(key) != 0) entry["live_version"] = key.second;
    entry["versions"].push_back(std::move(version));
  }
  json journeys = json::array();
  for (auto& [name, entry] : by_name) journeys.push_back(std::move(entry));
  return json_response(request, http::status::ok,
                       {{"deployment", deployment}, {"journeys", journeys}});
}

HttpResponse Daemon::Impl::read_metrics(const HttpRequest& request) {
  std::map<std::string, double> gauges;
  {
    // The gauges counted in SQLite cost a pass over an index each (a million rows: tens of ms),
    // so a scrape reuses counts at most a second old rather than rescanning.
    std::lock_guard lock(stored_gauges_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (stored_gauges.empty() || now - stored_gauges_at >= std::chrono::seconds(1)) {
      stored_gauges.clear();
      for (const auto& [status, count] : api_store->outbox_counts()) {
        stored_gauges["journey_outbox_actions{status=\"" + status + "\"}"] = static_cast<double>(count);
      }
      stored_gauges["journey_timers_pending"] = static_cast<double>(api_store->pending_wakeups());
      stored_gauges_at = now;
    }
    gauges = stored_gauges;
  }
  gauges["journey_timers_in_memory"] = static_cast<double>(timers->in_memory());
  gauges["journey_http_sessions"] = static_cast<double>(server->sessions());
  HttpResponse response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/plain; version=0.0.4");
  response.keep_alive(request.keep_alive());
  response.body() = metrics.render(gauges);
  response.prepare_payload();
  return response;
}

HttpResponse Daemon::Impl::check_ready(const HttpRequest& request) {
  if (draining) {
    return json_response(request, http::status::service_unavailable,
                         {{"status", "draining"}, {"ready", false}});
  }
  // Ready unless the latest commit failed. Then a probe commit (a heartbeat row of 256 KiB,
  // synced like any commit) decides, so that recovery shows without any input arriving (a load
  // balancer sends none to a node that is not ready).
  if (commit_failing) {
    Batch probe;
    probe.heartbeat = wall_now();
    try {
      committer->write(std::move(probe));
    } catch (const std::exception& e) {
      return json_response(request, http::status::service_unavailable,
                           {{"status", "store cannot commit"}, {"ready", false}, {"error", e.what()}});
    }
  }
  return json_response(request, http::status::ok, {{"status", "ready"}, {"ready", true}});
}

void Daemon::Impl::expire_events() {
  try {
    auto now = wall_now();
    auto removed = api_store->expire_events(now - config.retention.timeline_ms);
    if (removed > 0) log(LogLevel::Info, "timeline retention", {{"events_removed", removed}});
    auto tombstones_removed = api_store->expire_erased(now - config.retention.erased_ms);
    if (tombstones_removed > 0) {
      tombstones.assign(api_store->erased_customers());
      log(LogLevel::Info, "erasure tombstones expired", {{"removed", tombstones_removed}});
    }
  } catch (const StoreError& e) {
    log(LogLevel::Warn, "timeline retention failed", {{"error", e.what()}});
  }
  housekeeping.expires_after(std::chrono::minutes(10));
  housekeeping.async_wait([this](boost::system::error_code ec) {
    if (!ec && !draining) expire_events();
  });
}

void Daemon::Impl::wait_signal() {
  signals.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      log(LogLevel::Info, "SIGHUP: reloading journeys");
      reload("SIGHUP");
      wait_signal();
      return;
    }
    log(LogLevel::Info, "shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    shutdown();
  });
}

void Daemon::Impl::shutdown() {
  draining = true;
  server->stop_accepting();
  timers->stop();
  housekeeping.cancel();
  drain_step();
}

void Daemon::Impl::drain_step() {
  // Finish the work in hand (bounded), then let sessions write their last answers and close.
  drain_timer.expires_after(std::chrono::milliseconds(20));
  drain_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    bool idle = std::all_of(shards.begin(), shards.end(), [](const auto& s) { return s->idle(); });
    ++drain_ticks;
    if (!idle && drain_ticks < 500) {
      drain_step();
      return;
    }
    server->close_sessions();
    if (server->sessions() > 0 && drain_ticks < 600) {
      drain_step();
      return;
    }
    signals.cancel();
    io.stop();
  });
}

int Daemon::Impl::run() {
  dispatcher->start();
  committer->start();
  timers->start();
  server->start();
  wait_signal();
  expire_events();
  std::vector<std::thread> threads;
  for (int i = 1; i < config.threads; ++i) threads.emplace_back([this] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  committer->stop();
  dispatcher->stop();
  log(LogLevel::Info, "stopped");
  return 0;
}

Daemon::Daemon(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Daemon::~Daemon() = default;

net::ip::tcp::endpoint Daemon::open() { return impl_->open(); }

int Daemon::run() { return impl_->run(); }

}  // namespace journey::runtime
