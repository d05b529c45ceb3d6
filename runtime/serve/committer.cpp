#include "runtime/serve/committer.hpp"

#include <future>

#include <boost/asio/post.hpp>

#include "runtime/common/log.hpp"
#include "runtime/serve/replica.hpp"

namespace journey::runtime {

namespace net = boost::asio;

Committer::Committer(Storage& storage, std::size_t shards, Metrics& metrics, net::io_context& io,
                     Replica* replica)
    : metrics_(metrics),
      io_(io),
      replica_(replica),
      store_(storage.open_writer()),
      generations_(std::make_unique<std::atomic<std::uint64_t>[]>(shards)) {}

Committer::~Committer() {
  stop();
}

void Committer::start() {
  thread_ = std::thread([this] { run(); });
}

void Committer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
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

void Committer::write_soon(Batch batch) {
  PendingCommit commit;
  commit.batch = std::move(batch);
  commit.finish = [](bool ok, const std::string& error) {
    if (!ok) log(LogLevel::Error, "a background write failed", {{"error", error}});
  };
  submit(std::move(commit));
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
      bool current =
          commit.shard == PendingCommit::kNoShard || commit.generation == generation(commit.shard);
      (current ? live : stale).push_back(std::move(commit));
    }
    for (auto& commit : stale) commit.finish(false, "an earlier commit of these customers failed");
    if (replica_ != nullptr && !live.empty()) {
      // A cluster node: the partitions' logs first; what they refuse is not applied here.
      const auto appended = replica_->append(live);
      std::vector<PendingCommit> kept;
      for (std::size_t i = 0; i < live.size(); ++i) {
        if (appended[i]) {
          kept.push_back(std::move(live[i]));
          continue;
        }
        if (live[i].shard != PendingCommit::kNoShard) invalidate(live[i].shard);
        live[i].finish(false, "the partition is no longer this node's");
      }
      live = std::move(kept);
    }
    if (live.empty()) continue;
    Batch merged;
    if (live.size() == 1) {
      merged = std::move(live[0].batch);
    } else {
      auto append = [](auto& into, auto& from) {
        into.insert(into.end(), std::make_move_iterator(from.begin()),
                    std::make_move_iterator(from.end()));
      };
      for (auto& commit : live) {
        append(merged.customers, commit.batch.customers);
        append(merged.events, commit.batch.events);
        append(merged.actions, commit.batch.actions);
        append(merged.traces, commit.batch.traces);
        append(merged.counters, commit.batch.counters);
        append(merged.delivered, commit.batch.delivered);
        append(merged.failed, commit.batch.failed);
        append(merged.identities, commit.batch.identities);
        append(merged.absorbed, commit.batch.absorbed);
        append(merged.claims, commit.batch.claims);
        if (commit.batch.heartbeat) merged.heartbeat = commit.batch.heartbeat;
        merged.trace_keep = std::min(merged.trace_keep, commit.batch.trace_keep);
      }
    }
    BatchResult applied;
    try {
      applied = store_->apply(merged);
      failing_ = false;
    } catch (const std::exception& e) {
      if (replica_ != nullptr) replica_->applied(false);
      failing_ = true;
      for (auto& commit : live) {
        if (commit.shard != PendingCommit::kNoShard) invalidate(commit.shard);
      }
      std::string error = e.what();
      for (auto& commit : live) commit.finish(false, error);
      continue;
    }
    if (replica_ != nullptr) replica_->applied(true);
    metrics_.actions_created += applied.actions_inserted;
    if (applied.actions_existing > 0) {
      log(LogLevel::Info, "action ids already in the outbox were not created again",
          {{"count", applied.actions_existing}});
    }
    for (auto& commit : live) commit.finish(true, "");
    // The committer is the daemon's bottleneck: the batch's many strings are freed on an I/O
    // thread instead.
    net::post(io_, [spent = std::make_shared<Batch>(std::move(merged))] {});
  }
}

}  // namespace journey::runtime
