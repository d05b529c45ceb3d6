#include "runtime/deliver/dispatcher.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "engine/hash.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

struct Dispatcher::Worker {
  std::unique_ptr<Sink> sink;
  ChannelFilter filter;
  std::unique_ptr<Store> store;
  std::thread thread;
};

Dispatcher::Dispatcher(const Config& config, Storage& storage, Metrics& metrics, Mark mark,
                       Clock clock)
    : config_(config),
      storage_(storage),
      metrics_(metrics),
      mark_(std::move(mark)),
      clock_(std::move(clock)) {}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::start() {
  // Channels with their own sink get a worker per distinct sink; the default sink takes the rest.
  std::map<std::pair<int, std::string>, std::vector<std::string>> by_sink;
  for (const auto& [channel, sink] : config_.channel_sinks) {
    if (sink == config_.default_sink) continue;
    by_sink[{static_cast<int>(sink.kind), sink.target}].push_back(channel);
  }
  auto add = [this](const SinkSpec& sink, ChannelFilter filter) {
    auto worker = std::make_unique<Worker>();
    worker->sink = open_sink(sink, config_.webhook);
    worker->filter = std::move(filter);
    worker->store = storage_.open();
    workers_.push_back(std::move(worker));
  };
  ChannelFilter rest{{}, true};
  for (const auto& [channel, sink] : config_.channel_sinks) {
    if (!(sink == config_.default_sink)) rest.channels.push_back(channel);
  }
  add(config_.default_sink, rest);
  for (const auto& [key, channels] : by_sink) {
    add(SinkSpec{static_cast<SinkSpec::Kind>(key.first), key.second},
        ChannelFilter{channels, false});
  }
  for (auto& worker : workers_) {
    Worker* raw = worker.get();
    worker->thread = std::thread([this, raw] { run(*raw); });
  }
}

void Dispatcher::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  wake_.notify_all();
}

void Dispatcher::stop() {
  drain_deadline_ = clock_() + config_.webhook.timeout_ms;
  stopping_ = true;
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void Dispatcher::run(Worker& worker) {
  for (;;) {
    bool stopping = stopping_;
    if (stopping && clock_() > drain_deadline_) break;
    std::uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      seen = generation_;
    }
    try {
      auto due = worker.store->due_actions(clock_(), worker.sink->pass_size(), worker.filter);
      if (!due.empty()) {
        deliver(worker, due);
        continue;
      }
    } catch (const StoreError& e) {
      log(LogLevel::Error, "outbox read failed", {{"error", e.what()}});
      if (stopping) break;
    }
    // Stopping: everything due has gone out (retries scheduled later wait for the next start).
    if (stopping) break;
    auto wait_ms = std::int64_t{1000};
    try {
      if (auto next = worker.store->next_action_attempt(worker.filter)) {
        wait_ms = std::clamp<std::int64_t>(*next - clock_(), 0, 1000);
      }
    } catch (const StoreError&) {
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || generation_ != seen; });
  }
}

void Dispatcher::deliver(Worker& worker, const std::vector<OutboxEntry>& due) {
  std::vector<Delivery> deliveries;
  deliveries.reserve(due.size());
  for (const auto& entry : due) deliveries.push_back({entry.action_id, entry.payload});
  const auto results =
      worker.sink->deliver(deliveries, [this] { return stopping_ && clock_() > drain_deadline_; });
  // One mark for the whole pass, after the sink has them (a file: written and synced).
  Batch marks;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].empty()) marks.delivered.push_back(due[i].seq);
  }
  if (!marks.delivered.empty()) {
    // A StoreError goes to run(), which waits before the next pass; a file sink then finds the
    // lines in its tail and does not write them twice.
    const auto delivered = marks.delivered.size();
    try {
      mark_(std::move(marks));
    } catch (const StoreError&) {
      worker.sink->reopen();
      throw;
    }
    metrics_.actions_delivered += delivered;
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i].empty()) record_failure(worker, due[i], results[i]);
  }
}

void Dispatcher::record_failure(Worker& worker, const OutboxEntry& entry,
                                const std::string& error) {
  int attempts = entry.attempts + 1;
  bool dead = attempts >= config_.webhook.max_attempts;
  auto seed = engine::stable_hash(entry.action_id, static_cast<std::uint64_t>(attempts));
  auto next = clock_() + retry_delay_ms(config_.webhook, attempts, seed);
  Batch marks;
  marks.failed.push_back(FailedDelivery{entry.seq, attempts, next, error, dead});
  mark_(std::move(marks));
  ++metrics_.delivery_failures;
  if (dead) ++metrics_.actions_dead;
  log(dead ? LogLevel::Error : LogLevel::Warn, dead ? "action is dead" : "delivery failed",
      {{"action_id", entry.action_id},
       {"channel", entry.channel},
       {"attempts", attempts},
       {"error", error},
       {"sink", worker.sink->target()}});
}

}  // namespace journey::runtime
