#include "runtime/timers.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "runtime/log.hpp"

namespace journey::runtime {

namespace net = boost::asio;

TimerQueue::TimerQueue(net::io_context& io, Store& store, std::int64_t window_ms,
                       std::size_t window_max, Fire fire, Clock clock)
    : strand_(net::make_strand(io)),
      timer_(strand_),
      store_(store),
      window_ms_(window_ms),
      window_max_(window_max),
      fire_(std::move(fire)),
      clock_(std::move(clock)) {}

void TimerQueue::start() {
  net::post(strand_, [this] {
    stopped_ = false;
    reload(clock_());
    arm();
  });
}

void TimerQueue::stop() {
  net::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void TimerQueue::update(const std::string& customer_id, std::optional<engine::Millis> next) {
  net::post(strand_, [this, customer_id, next] {
    in_flight_.erase(customer_id);
    if (next && *next <= horizon_) {
      current_.insert_or_assign(customer_id, *next);
      heap_.emplace(*next, customer_id);
      bool earliest = heap_.top().first == *next;
      in_memory_ = current_.size();
      if (earliest && !stopped_) arm();
    } else {
      // Later than the window: it stays in the store and comes back with a later window. Any
      // entry in the heap for this customer is now stale and will be skipped.
      current_.erase(customer_id);
      in_memory_ = current_.size();
    }
  });
}

void TimerQueue::reload(engine::Millis now) {
  engine::Millis until = now + window_ms_;
  std::vector<std::pair<std::string, engine::Millis>> rows;
  try {
    rows = store_.due_wakeups(until, window_max_);
  } catch (const StoreError& e) {
    log(LogLevel::Error, "loading wake-ups failed", {{"error", e.what()}});
    horizon_ = now;
    return;
  }
  for (const auto& [customer, due] : rows) {
    // Fired and not yet committed: the stored wake-up is about to change.
    if (in_flight_.count(customer) != 0) continue;
    auto it = current_.find(customer);
    if (it != current_.end() && it->second == due) continue;
    current_[customer] = due;
    heap_.emplace(due, customer);
  }
  // A full window may have left some out: only trust it up to the last row loaded.
  horizon_ = rows.size() >= window_max_ && !rows.empty() ? rows.back().second : until;
  in_memory_ = current_.size();
}

void TimerQueue::arm() {
  while (!heap_.empty()) {
    const auto& [due, customer] = heap_.top();
    auto it = current_.find(customer);
    if (it != current_.end() && it->second == due) break;
    heap_.pop();  // stale: the customer's wake-up moved or was cancelled
  }
  engine::Millis next = horizon_;
  if (!heap_.empty()) next = std::min(next, heap_.top().first);
  auto delay = std::max<engine::Millis>(0, next - clock_());
  timer_.expires_after(std::chrono::milliseconds(delay));
  timer_.async_wait(net::bind_executor(strand_, [this](boost::system::error_code ec) { on_timer(ec); }));
}

void TimerQueue::on_timer(boost::system::error_code ec) {
  if (ec == net::error::operation_aborted) {
    // Re-armed (an earlier wake-up arrived) or stopped; the new wait takes over.
    return;
  }
  if (stopped_) return;
  auto now = clock_();
  while (!heap_.empty() && heap_.top().first <= now) {
    auto [due, customer] = heap_.top();
    heap_.pop();
    auto it = current_.find(customer);
    if (it == current_.end() || it->second != due) continue;
    current_.erase(it);
    in_flight_[customer] = due;
    fire_(customer, due);
  }
  if (now >= horizon_ || heap_.empty()) reload(now);
  in_memory_ = current_.size();
  arm();
}

}  // namespace journey::runtime
