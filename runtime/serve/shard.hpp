// A partition of the customers. Each shard handles its customers' inputs strictly in order on its
// own strand and steps the engine over them in groups (step_group): everything queued while a
// group is being committed goes into the next one. The committer writes the groups; until a
// customer's writes are durable, the shard keeps the customer's state (and the message ids seen)
// in memory, so later inputs build on it. Nothing is shared between shards but the engine
// (read-only while stepping), the committer, the timer queue and the tombstones.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "engine/engine.hpp"
#include "runtime/common/clock.hpp"
#include "runtime/common/config.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/serve/committer.hpp"
#include "runtime/serve/group_step.hpp"
#include "runtime/serve/replica.hpp"
#include "runtime/serve/timers.hpp"
#include "runtime/serve/tombstones.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

class Shard {
 public:
  /// What a shard works with. `engine` is read under a shared lock of `engine_mutex` (deploys
  /// take it exclusively); `actions_committed` is called after a commit that created actions.
  struct Parts {
    boost::asio::io_context& io;
    const Config& config;
    Storage& storage;
    const engine::Engine& engine;
    std::shared_mutex& engine_mutex;
    Committer& committer;
    TimerQueue& timers;
    Metrics& metrics;
    Tombstones& tombstones;
    Clock clock;
    std::function<void()> actions_committed;
    Replica* replica = nullptr;  // a cluster node's: the shard is the partition of its index
  };

  /// Opens the shard's own store connection (reads and erasures). Throws StoreError.
  Shard(std::size_t index, Parts parts);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  /// Inputs of this shard's customers, handled in this order (one hand-off for all of them).
  void submit(std::vector<ShardInput> inputs);
  /// Nothing queued or in hand.
  bool idle() const { return outstanding_.load() == 0; }

 private:
  /// Everything a group needs once its commit is done.
  struct Group {
    std::vector<ShardInput> inputs;
    GroupStep step;
    engine::Millis now = 0;
    std::size_t actions = 0;
    std::chrono::steady_clock::time_point started;
  };

  void schedule();
  void flush();
  /// A Merge whose absorbed customer another shard has not handed over yet: the shard stops
  /// there, and goes on once it has.
  bool waiting(const ShardInput& input);
  void erase(const ShardInput& input, InputResult& result);
  /// Loads the group's customers missing from the cache, and what the step needs to know of them.
  void load(const std::vector<ShardInput>& inputs, GroupContext& context);
  /// Steps the engine over a group of inputs and hands their effects to the committer.
  void process(std::vector<ShardInput> inputs);
  void report(const GroupStep& step, engine::Millis now);
  /// One commit that wrote this customer is done: the stored state is the latest once none is
  /// left in flight.
  void drop(const std::string& customer);
  /// Answers a group's inputs and tells the timer queue about its wake-ups.
  void finish(const std::shared_ptr<Group>& group, bool ok);

  std::size_t index_;
  Parts parts_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::unique_ptr<Store> store_;    // reads: stored states, tombstones; erasures
  std::deque<ShardInput> pending_;  // only touched on the strand
  bool scheduled_ = false;
  CustomerCache cache_;  // states not yet durable (strand only)
  std::uint64_t cache_generation_ = 0;
  std::size_t commits_in_flight_ = 0;
  engine::Millis late_logged_at_ = 0;  // "wake-up fired late" lines: the last one, and those since
  std::size_t late_unlogged_ = 0;
  std::chrono::steady_clock::time_point failure_logged_at_;  // "commit failed" lines, likewise
  std::size_t failures_unlogged_ = 0;
  std::atomic<std::size_t> outstanding_{0};
};

}  // namespace journey::runtime
