// The daemon's single writer. Shards step the engine on the I/O threads and hand their batches
// here; one thread commits everything queued in one transaction (group commit across shards), so
// writers never wait on each other in SQLite's busy handler and the I/O threads never block on an
// fsync. A second thread checkpoints the WAL.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "runtime/metrics.hpp"
#include "runtime/store.hpp"

namespace journey::runtime {

/// One shard's group of inputs, stepped and waiting for its commit.
struct PendingCommit {
  static constexpr std::size_t kNoShard = SIZE_MAX;  // delivery marks, probes: no cached states
  Batch batch;
  std::size_t shard = kNoShard;
  std::uint64_t generation = 0;  // the shard's generation the batch was computed on
  /// Runs on the committer's thread once the batch is committed (or refused).
  std::function<void(bool ok, const std::string& error)> finish;
};

class Committer {
 public:
  /// Opens two connections to `db_path` (commits, checkpoints); `cache_mb` of page cache for the
  /// commits; `shards` generations. Spent batches are freed on `io`. Throws StoreError.
  Committer(const std::string& db_path, std::size_t cache_mb, std::size_t shards, Metrics& metrics,
            boost::asio::io_context& io);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void start();
  /// Commits what is queued, then ends the threads.
  void stop();
  /// Queues a shard's batch for the next transaction.
  void submit(PendingCommit commit);
  /// Writes outside the shards' groups (the dispatcher's delivery marks, the readiness probe's
  /// heartbeat) with the next commit: a second writer would queue in SQLite's busy handler behind
  /// a busy committer, and could starve. Returns once durable; throws StoreError. After stop(),
  /// writes directly.
  void write(Batch batch);
  /// Asks the checkpoint thread to truncate the WAL (an erasure could not, SQLite being busy).
  void truncate_soon();

  /// A shard's generation: bumped when a commit of the shard failed (or its reads did), so that
  /// states cached on top of it are dropped and batches computed on them refused.
  std::uint64_t generation(std::size_t shard) const { return generations_[shard].load(); }
  void invalidate(std::size_t shard) { ++generations_[shard]; }
  /// Whether the latest commit failed (readiness).
  bool failing() const { return failing_.load(); }

 private:
  void run();
  void checkpoints();

  static constexpr std::size_t kMaxMergedWrites = 4096;
  static constexpr int kWalRestartFrames = 16384;  // 64 MB of 4 KB pages

  Metrics& metrics_;
  boost::asio::io_context& io_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SqliteStore> checkpoint_store_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> generations_;
  std::thread thread_;
  std::thread checkpointer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable checkpoint_wake_;
  std::vector<PendingCommit> queue_;
  std::size_t commits_since_checkpoint_ = 0;
  std::atomic<bool> restart_wal_{false};
  std::atomic<bool> truncate_wal_{false};  // after an erasure that could not truncate it
  std::atomic<bool> failing_{false};
  bool stopping_ = false;
  bool finished_ = false;  // run() has returned: writes go straight to the store
};

}  // namespace journey::runtime
