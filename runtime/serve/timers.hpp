// Durable customer wake-ups: only the next due ones are held in memory (a heap with one Asio
// timer armed for the earliest); the rest stay in SQLite (customers.next_wakeup) and are loaded
// a window at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "runtime/store/store.hpp"

namespace journey::runtime {

/// The wake-up schedule. All public calls are thread-safe (they post to the queue's strand).
class TimerQueue {
 public:
  /// A customer and the instant its wake-up was due.
  using Due = std::pair<std::string, engine::Millis>;
  /// Called on the queue's strand with the customers that came due, in due order (one call per
  /// round of firing, so that the daemon hands them to its shards in few steps).
  using Fire = std::function<void(std::vector<Due>& fired)>;
  /// A customer's next wake-up, or none.
  using Update = std::pair<std::string, std::optional<engine::Millis>>;
  /// The wall clock in epoch milliseconds (injectable so tests can move it).
  using Clock = std::function<engine::Millis()>;

  TimerQueue(boost::asio::io_context& io, Store& store, std::int64_t window_ms,
             std::size_t window_max, Fire fire, Clock clock);

  /// Loads the first window from the store and arms the timer. Wake-ups that came due while the
  /// daemon was down fire at once.
  void start();
  /// Stops firing; pending wake-ups stay in the store.
  void stop();
  /// A customer's next wake-up changed (after a commit), or a fired one was handled; nothing
  /// cancels it cheaply.
  void update(const std::string& customer_id, std::optional<engine::Millis> next);
  /// update() for many customers at once, in order.
  void update(std::vector<Update> updates);
  /// Reads the store's wake-ups from the start again (a cluster node took partitions over: their
  /// customers' rows are new in the store, some earlier than the window already read).
  void rescan();
  /// How many wake-ups are held in memory now.
  std::size_t in_memory() const { return in_memory_.load(); }

 private:
  /// Fires what is due (at most kMaxInFlight awaiting their update()), loads the next page from
  /// the store when the window is used up, and arms the timer.
  void pump();
  /// Loads the next page of due wake-ups (up to room()); how many were added.
  std::size_t reload(engine::Millis now);
  void arm();
  void on_timer(boost::system::error_code ec);
  /// Entries the window may still take (held in memory or fired and awaiting update()).
  std::size_t room() const;

  /// Fired wake-ups awaiting their update() at most: more would only queue in the shards (and
  /// delay the events queued behind them) without firing any faster.
  static constexpr std::size_t kMaxInFlight = 16384;

  using Entry = std::pair<engine::Millis, std::string>;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  Store& store_;
  std::int64_t window_ms_;
  std::size_t window_max_;
  Fire fire_;
  Clock clock_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<std::string, engine::Millis>
      current_;  // live entries; heap may hold stale ones
  std::unordered_map<std::string, engine::Millis> in_flight_;  // fired, awaiting update()
  engine::Millis horizon_ = 0;  // every stored wake-up at or before this is in memory, in flight,
                                // or at or after `cursor_` (not loaded yet)
  /// Where the next page of the store starts: (wake-up, customer) of the last row loaded.
  std::optional<std::pair<engine::Millis, std::string>> cursor_;
  bool page_pending_ = false;    // the last page was full: the store may hold more up to horizon_
  bool blocked_ = false;         // firing waits for update() to free room
  engine::Millis retry_at_ = 0;  // after a failed load: when to try again
  bool stopped_ = false;
  std::atomic<std::size_t> in_memory_{0};
};

}  // namespace journey::runtime
