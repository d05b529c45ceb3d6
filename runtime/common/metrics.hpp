// Daemon metrics, rendered in the Prometheus text format for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace journey::runtime {

/// Counters and gauges the daemon updates as it works. All members are thread-safe.
class Metrics {
 public:
  /// Upper bounds (seconds) of the commit-latency histogram buckets.
  static constexpr std::array<double, 10> kCommitBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,  0.1,    0.25,  0.5,  1.0};

  std::atomic<std::uint64_t> events_accepted{0};
  std::atomic<std::uint64_t> events_duplicate{0};
  std::atomic<std::uint64_t> events_rejected{0};
  std::atomic<std::uint64_t> events_erased{0};  // replays of an erased customer's events, ignored
  std::atomic<std::uint64_t> actions_created{0};
  std::atomic<std::uint64_t> actions_delivered{0};
  std::atomic<std::uint64_t> delivery_failures{0};
  std::atomic<std::uint64_t> actions_dead{0};
  std::atomic<std::uint64_t> timers_fired{0};
  std::atomic<std::int64_t> timer_lag_last_ms{0};
  std::atomic<std::int64_t> timer_lag_max_ms{0};
  std::atomic<std::int64_t> queue_depth{0};
  std::atomic<std::uint64_t> engine_errors{0};
  std::atomic<std::uint64_t> reloads_ok{0};
  std::atomic<std::uint64_t> reloads_refused{0};
  std::atomic<std::uint64_t> runs_migrated{0};        // runs moved to a new version (on update)
  std::atomic<std::uint64_t> identity_merges{0};      // customers merged into another (links)
  std::atomic<std::uint64_t> identity_refused{0};     // links refused by identity.max_ids
  std::atomic<std::uint64_t> versions_collected{0};   // old journey versions with no run left
  std::atomic<std::uint64_t> connections_refused{0};  // answered 429 at accept
  std::atomic<std::uint64_t> connections_evicted{0};  // closed while waiting, to make room

  /// Records how late a wake-up fired.
  void record_timer_lag(std::int64_t lag_ms);
  /// Records the duration of one group commit.
  void record_commit(double seconds, std::size_t inputs);
  /// Counts one HTTP answer by status code.
  void record_response(unsigned status);

  /// The text for GET /metrics; `gauges` adds values read at scrape time (name -> value,
  /// the name may carry labels).
  std::string render(const std::map<std::string, double>& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::array<std::uint64_t, kCommitBuckets.size()> commit_buckets_{};
  std::uint64_t commit_count_ = 0;
  double commit_sum_ = 0;
  std::uint64_t commit_inputs_ = 0;
  std::map<unsigned, std::uint64_t> responses_;
};

}  // namespace journey::runtime
