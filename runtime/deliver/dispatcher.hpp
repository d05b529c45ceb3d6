// Delivers committed actions from the outbox to their sinks: an NDJSON file (append + fsync, each
// action id once: after a crash the lines already in the file's tail are not written again) or a
// webhook (HTTP POST with Idempotency-Key, retries with backoff and jitter, dead after N tries).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/common/clock.hpp"
#include "runtime/common/config.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/deliver/sinks.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// One worker thread per distinct sink, each with its own store connection.
class Dispatcher {
 public:
  /// Writes delivery marks (Batch::delivered and Batch::failed, nothing else), durably, before
  /// returning; throws StoreError. The daemon routes them through its single writer thread.
  using Mark = std::function<void(Batch marks)>;

  /// Workers open their connections from `storage`, which must outlive the dispatcher.
  Dispatcher(const Config& config, Storage& storage, Metrics& metrics, Mark mark,
             Clock clock = system_now);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Starts the workers. Throws StoreError when the database cannot be opened.
  void start();
  /// Wakes the workers: new actions were committed.
  void notify();
  /// Flushes: each worker delivers what is due (for at most one webhook timeout), then the
  /// workers are joined. Undelivered actions stay pending in the outbox for the next start.
  void stop();

 private:
  struct Worker;
  void run(Worker& worker);
  /// One pass of due actions to the worker's sink, then their marks.
  void deliver(Worker& worker, const std::vector<OutboxEntry>& due);
  void record_failure(Worker& worker, const OutboxEntry& entry, const std::string& error);

  Config config_;
  Storage& storage_;
  Metrics& metrics_;
  Mark mark_;
  Clock clock_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t generation_ = 0;  // bumped by notify()
  std::atomic<bool> stopping_{false};
  std::atomic<engine::Millis> drain_deadline_{0};
};

}  // namespace journey::runtime
