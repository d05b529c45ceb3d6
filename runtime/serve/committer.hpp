// The daemon's single writer. Shards step the engine on the I/O threads and hand their batches
// here; one thread commits everything queued in one transaction (group commit across shards), so
// writers never wait on each other in SQLite's busy handler and the I/O threads never block on an
// fsync. The store's own housekeeping (SQLite: WAL checkpoints) belongs to the writer connection.
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

#include "runtime/common/metrics.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// One shard's group of inputs, stepped and waiting for its commit.
struct PendingCommit {
  static constexpr std::size_t kNoShard = SIZE_MAX;  // delivery marks, probes: no cached states
  Batch batch;
  std::size_t shard = kNoShard;
  std::uint64_t generation = 0;  // the shard's generation the batch was computed on
  std::uint64_t cursor = 0;  // a cluster node's: the last event of the shard's partition consumed
  /// Runs on the committer's thread once the batch is committed (or refused).
  std::function<void(bool ok, const std::string& error)> finish;
};

class Replica;

class Committer {
 public:
  /// Opens the writer's connection of `storage`; `shards` generations. Spent batches are freed on
  /// `io`. A cluster node's `replica` gets every shard's batch before the local transaction (see
  /// replica.hpp). Throws StoreError.
  Committer(Storage& storage, std::size_t shards, Metrics& metrics, boost::asio::io_context& io,
            Replica* replica = nullptr);
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
  /// write() without waiting: the batch goes with a next commit (a failure is logged). For writes
  /// made while holding what the committer may be waiting for.
  void write_soon(Batch batch);
  /// Asks the writer to scrub erased data from the disk (an erasure could not: the store was busy).
  void scrub_soon() { store_->scrub_soon(); }

  /// A shard's generation: bumped when a commit of the shard failed (or its reads did), so that
  /// states cached on top of it are dropped and batches computed on them refused.
  std::uint64_t generation(std::size_t shard) const { return generations_[shard].load(); }
  void invalidate(std::size_t shard) { ++generations_[shard]; }
  /// Whether the latest commit failed (readiness).
  bool failing() const { return failing_.load(); }

 private:
  void run();

  static constexpr std::size_t kMaxMergedWrites = 4096;

  Metrics& metrics_;
  boost::asio::io_context& io_;
  Replica* replica_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> generations_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<PendingCommit> queue_;
  std::atomic<bool> failing_{false};
  bool stopping_ = false;
  bool finished_ = false;  // run() has returned: writes go straight to the store
};

}  // namespace journey::runtime
