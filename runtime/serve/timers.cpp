#include "runtime/serve/timers.hpp"

#include <algorithm>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "runtime/common/log.hpp"

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
    pump();
  });
}

void TimerQueue::stop() {
  net::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void TimerQueue::rescan() {
  net::post(strand_, [this] {
    horizon_ = 0;
    cursor_.reset();
    page_pending_ = false;
    if (!stopped_) pump();
  });
}

void TimerQueue::update(const std::string& customer_id, std::optional<engine::Millis> next) {
  std::vector<Update> updates;
  updates.emplace_back(customer_id, next);
  update(std::move(updates));
}

void TimerQueue::update(std::vector<Update> updates) {
  net::post(strand_, [this, updates = std::move(updates)] {
    bool answered = false;
    bool earliest = false;
    for (const auto& [customer_id, next] : updates) {
      answered = in_flight_.erase(customer_id) > 0 || answered;
      if (next && *next <= horizon_) {
        current_.insert_or_assign(customer_id, *next);
        heap_.emplace(*next, customer_id);
        earliest = earliest || heap_.top().first == *next;
      } else {
        // Later than the window: it stays in the store and comes back with a later window. Any
        // entry in the heap for this customer is now stale and will be skipped.
        current_.erase(customer_id);
      }
    }
    in_memory_ = current_.size();
    if (stopped_) return;
    if (answered && blocked_ && in_flight_.size() <= std::min(kMaxInFlight, window_max_) / 2) {
      pump();  // half the fired wake-ups are answered: fire (and load) the next ones
    } else if (earliest && !blocked_) {
      arm();
    }
  });
}

std::size_t TimerQueue::room() const {
  auto held = current_.size() + in_flight_.size();
  return held >= window_max_ ? 0 : window_max_ - held;
}

void TimerQueue::pump() {
  if (stopped_) return;
  auto now = clock_();
  blocked_ = false;
  std::vector<Due> fired;
  for (;;) {
    while (!heap_.empty() && heap_.top().first <= now && in_flight_.size() < kMaxInFlight) {
      auto [due, customer] = heap_.top();
      heap_.pop();
      auto it = current_.find(customer);
      if (it == current_.end() || it->second != due) continue;  // stale
      current_.erase(it);
      in_flight_[customer] = due;
      fired.emplace_back(std::move(customer), due);
    }
    if (in_flight_.size() >= kMaxInFlight) {
      blocked_ = true;  // the answers (update) resume firing
      break;
    }
    bool more_due = !heap_.empty() && heap_.top().first <= now;
    if (more_due || !(page_pending_ || now >= horizon_)) break;
    // The window is used up (or the last page was full): load the next page.
    if (room() == 0) {
      blocked_ = true;
      break;
    }
    auto loaded = reload(now);
    if (loaded == 0 || heap_.empty() || heap_.top().first > now) break;
  }
  in_memory_ = current_.size();
  if (!fired.empty()) fire_(fired);
  arm();
}

std::size_t TimerQueue::reload(engine::Millis now) {
  engine::Millis until = now + window_ms_;
  auto limit = room();
  std::vector<std::pair<std::string, engine::Millis>> rows;
  try {
    rows = store_.due_wakeups(until, limit, cursor_);
  } catch (const StoreError& e) {
    log(LogLevel::Error, "loading wake-ups failed", {{"error", e.what()}});
    retry_at_ = now + 1000;
    return 0;
  }
  retry_at_ = 0;
  std::size_t added = 0;
  for (const auto& [customer, due] : rows) {
    // Fired and not yet committed: the stored wake-up is about to change.
    if (in_flight_.count(customer) != 0) continue;
    auto it = current_.find(customer);
    if (it != current_.end() && it->second == due) continue;
    current_[customer] = due;
    heap_.emplace(due, customer);
    ++added;
  }
  if (rows.size() >= limit && !rows.empty()) {
    // A full page: the store may hold more at the last row's instant; the next page starts
    // after that row (keyset paging, so a million wake-ups at one instant page through in order).
    page_pending_ = true;
    horizon_ = std::max(horizon_, rows.back().second);
    cursor_ = std::make_pair(rows.back().second, rows.back().first);
  } else {
    page_pending_ = false;
    horizon_ = until;
    cursor_ = std::make_pair(until, std::string());
  }
  in_memory_ = current_.size();
  return added;
}

void TimerQueue::arm() {
  while (!heap_.empty()) {
    const auto& [due, customer] = heap_.top();
    auto it = current_.find(customer);
    if (it != current_.end() && it->second == due) break;
    heap_.pop();  // stale: the customer's wake-up moved or was cancelled
  }
  std::optional<engine::Millis> next;
  if (!heap_.empty() && !(blocked_ && heap_.top().first <= clock_())) next = heap_.top().first;
  if (!blocked_) {
    // The end of the window (load the next one), or the next page, or a retry after a failure.
    engine::Millis reload_at = page_pending_ ? clock_() : horizon_;
    if (retry_at_ != 0) reload_at = retry_at_;
    next = next ? std::min(*next, reload_at) : reload_at;
  }
  // Blocked: the answers (update) resume firing; look again in a second all the same.
  if (!next) next = clock_() + 1000;
  auto delay = std::max<engine::Millis>(0, *next - clock_());
  timer_.expires_after(std::chrono::milliseconds(delay));
  timer_.async_wait(
      net::bind_executor(strand_, [this](boost::system::error_code ec) { on_timer(ec); }));
}

void TimerQueue::on_timer(boost::system::error_code ec) {
  if (ec == net::error::operation_aborted) {
    // Re-armed (an earlier wake-up arrived) or stopped; the new wait takes over.
    return;
  }
  if (stopped_) return;
  pump();
}

}  // namespace journey::runtime
