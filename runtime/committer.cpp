#include "runtime/committer.hpp"

#include <future>

#include <boost/asio/post.hpp>

#include "runtime/log.hpp"

namespace journey::runtime {

namespace net = boost::asio;

Committer::Committer(const std::string& db_path, std::size_t cache_mb, std::size_t shards,
                     Metrics& metrics, net::io_context& io)
    : metrics_(metrics),
      io_(io),
      store_(std::make_unique<SqliteStore>(db_path)),
      checkpoint_store_(std::make_unique<SqliteStore>(db_path)),
      generations_(std::make_unique<std::atomic<std::uint64_t>[]>(shards)) {
  // The WAL is copied back into the database by the checkpoint thread, not inside a commit, and
  // the pages the commits touch stay in memory (with a small cache, a burst over a million
  // customers reads most pages back from the file first).
  store_->tune({.manual_checkpoints = true, .cache_mb = cache_mb});
}

Committer::~Committer() { stop(); }

void Committer::start() {
  thread_ = std::thread([this] { run(); });
  checkpointer_ = std::thread([this] { checkpoints(); });
}

void Committer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  checkpoint_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
}

void Committer::truncate_soon() {
  truncate_wal_ = true;
  checkpoint_wake_.notify_one();
}

void Committer::submit(PendingCommit commit) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(commit));
  }
  wake_.notify_one();
}

void Committer::write(Batch batch) {
  std::promise<std::string> done;
  auto result = done.get_future();
  {
    std::lock_guard lock(mutex_);
    if (finished_) {
      store_->apply(batch);  // the committer's thread has ended
      return;
    }
    PendingCommit commit;
    commit.batch = std::move(batch);
    commit.finish = [&done](bool ok, const std::string& error) {
      done.set_value(ok ? std::string() : error.empty() ? "commit failed" : error);
    };
    queue_.push_back(std::move(commit));
  }
  wake_.notify_one();
  if (auto error = result.get(); !error.empty()) throw StoreError(error);
}

/// Passive checkpoints (they never block the committer) every 32 commits or 250 ms of them; a
/// truncating one when an erasure asked for it.
void Committer::checkpoints() {
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
      // SQLite never starts the WAL over and the file grows for as long as the load lasts (and
      // each append costs the file system a new block). Past a size, the committer checkpoints
      // the rest itself between two transactions; its next one restarts the WAL.
      if (checkpoint_store_->checkpoint() >= kWalRestartFrames) restart_wal_ = true;
    } catch (const StoreError& e) {
      log(LogLevel::Warn, "checkpoint failed", {{"error", e.what()}});
    }
    lock.lock();
  }
}

void Committer::run() {
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
                     commit.generation == generation(commit.shard);
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
      failing_ = false;
    } catch (const std::exception& e) {
      failing_ = true;
      for (auto& commit : live) {
        if (commit.shard != PendingCommit::kNoShard) invalidate(commit.shard);
      }
      std::string error = e.what();
      for (auto& commit : live) commit.finish(false, error);
      continue;
    }
    metrics_.actions_created += applied.actions_inserted;
    if (applied.actions_existing > 0) {
      log(LogLevel::Info, "action ids already in the outbox were not created again",
          {{"count", applied.actions_existing}});
    }
    for (auto& commit : live) commit.finish(true, "");
    // The committer is the daemon's bottleneck: the batch's many strings are freed on an I/O
    // thread instead.
    net::post(io_, [spent = std::make_shared<Batch>(std::move(merged))] {});
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

}  // namespace journey::runtime
