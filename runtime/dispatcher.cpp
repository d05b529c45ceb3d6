#include "runtime/dispatcher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/hash.hpp"
#include "runtime/http_client.hpp"
#include "runtime/log.hpp"

namespace journey::runtime {
namespace {

engine::Millis wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Actions read per pass: a file sink writes and fsyncs them at once, a webhook posts them in turn.
constexpr std::size_t kFilePassSize = 4096;
constexpr std::size_t kWebhookPassSize = 256;

}  // namespace

std::int64_t retry_delay_ms(const WebhookPolicy& policy, int attempts, std::uint64_t jitter_seed) {
  double delay = static_cast<double>(policy.backoff_initial_ms);
  for (int i = 1; i < attempts && delay < static_cast<double>(policy.backoff_max_ms); ++i) delay *= 2;
  delay = std::min(delay, static_cast<double>(policy.backoff_max_ms));
  double jitter = 0.5 + static_cast<double>(jitter_seed % 1000) / 1000.0;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(delay * jitter));
}

struct Dispatcher::Worker {
  SinkSpec sink;
  ChannelFilter filter;
  std::unique_ptr<SqliteStore> store;
  std::thread thread;
  int fd = -1;
};

Dispatcher::Dispatcher(const Config& config, Metrics& metrics, MarkDelivered mark)
    : config_(config), metrics_(metrics), mark_(std::move(mark)) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  // Channels with their own sink get a worker per distinct sink; the default sink takes the rest.
  std::map<std::pair<int, std::string>, std::vector<std::string>> by_sink;
  for (const auto& [channel, sink] : config_.channel_sinks) {
    if (sink == config_.default_sink) continue;
    by_sink[{static_cast<int>(sink.kind), sink.target}].push_back(channel);
  }
  auto add = [this](SinkSpec sink, ChannelFilter filter) {
    auto worker = std::make_unique<Worker>();
    worker->sink = std::move(sink);
    worker->filter = std::move(filter);
    worker->store = std::make_unique<SqliteStore>(config_.db_path);
    workers_.push_back(std::move(worker));
  };
  ChannelFilter rest{{}, true};
  for (const auto& [channel, sink] : config_.channel_sinks) {
    if (!(sink == config_.default_sink)) rest.channels.push_back(channel);
  }
  add(config_.default_sink, rest);
  for (const auto& [key, channels] : by_sink) {
    add(SinkSpec{static_cast<SinkSpec::Kind>(key.first), key.second}, ChannelFilter{channels, false});
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
  drain_deadline_ = wall_now() + config_.webhook.timeout_ms;
  stopping_ = true;
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
    if (worker->fd >= 0) ::close(worker->fd);
    worker->fd = -1;
  }
}

void Dispatcher::run(Worker& worker) {
  for (;;) {
    bool stopping = stopping_;
    if (stopping && wall_now() > drain_deadline_) break;
    std::uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      seen = generation_;
    }
    try {
      auto pass = worker.sink.kind == SinkSpec::Kind::File ? kFilePassSize : kWebhookPassSize;
      auto due = worker.store->due_actions(wall_now(), pass, worker.filter);
      if (!due.empty()) {
        if (worker.sink.kind == SinkSpec::Kind::File) {
          deliver_to_file(worker, due);
        } else {
          deliver_to_webhook(worker, due);
        }
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
        wait_ms = std::clamp<std::int64_t>(*next - wall_now(), 0, 1000);
      }
    } catch (const StoreError&) {
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || generation_ != seen; });
  }
}

void Dispatcher::deliver_to_file(Worker& worker, const std::vector<OutboxEntry>& due) {
  if (worker.fd < 0) {
    worker.fd = ::open(worker.sink.target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }
  std::string error;
  if (worker.fd < 0) {
    error = worker.sink.target + ": " + std::strerror(errno);
  } else {
    std::string lines;
    for (const auto& entry : due) lines += entry.payload + "\n";
    std::size_t written = 0;
    while (written < lines.size()) {
      auto n = ::write(worker.fd, lines.data() + written, lines.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = worker.sink.target + ": " + std::strerror(errno);
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    if (error.empty() && ::fsync(worker.fd) != 0) error = worker.sink.target + ": fsync: " + std::strerror(errno);
  }
  if (!error.empty()) {
    if (worker.fd >= 0) ::close(worker.fd);
    worker.fd = -1;
    for (const auto& entry : due) record_failure(worker, entry, error);
    return;
  }
  // One transaction for the whole pass: the lines are on disk (fsync above) before the mark.
  std::vector<std::int64_t> seqs;
  seqs.reserve(due.size());
  for (const auto& entry : due) seqs.push_back(entry.seq);
  // A StoreError here goes to run(), which waits before the next pass; the lines are then
  // written again (same action ids: delivery is at least once).
  mark_(std::move(seqs));
  metrics_.actions_delivered += due.size();
}

void Dispatcher::deliver_to_webhook(Worker& worker, const std::vector<OutboxEntry>& due) {
  for (const auto& entry : due) {
    if (stopping_ && wall_now() > drain_deadline_) return;
    // Suppressed sends are part of the action stream (file sinks, the API) but a webhook only
    // receives what should actually be sent.
    auto payload = nlohmann::json::parse(entry.payload, nullptr, false);
    if (payload.is_object() && payload.value("status", std::string("sent")) != "sent") {
      mark_({entry.seq});
      continue;
    }
    auto result = http_call("POST", worker.sink.target, entry.payload,
                            {{"Content-Type", "application/json"},
                             {"Idempotency-Key", entry.action_id}},
                            config_.webhook.timeout_ms);
    if (result.status >= 200 && result.status < 300) {
      mark_({entry.seq});
      ++metrics_.actions_delivered;
    } else {
      record_failure(worker, entry,
                     result.status ? "HTTP " + std::to_string(result.status) : result.error);
    }
  }
}

void Dispatcher::record_failure(Worker& worker, const OutboxEntry& entry, const std::string& error) {
  int attempts = entry.attempts + 1;
  bool dead = attempts >= config_.webhook.max_attempts;
  auto seed = engine::stable_hash(entry.action_id, static_cast<std::uint64_t>(attempts));
  auto next = wall_now() + retry_delay_ms(config_.webhook, attempts, seed);
  worker.store->mark_failed(entry.seq, attempts, next, error, dead);
  ++metrics_.delivery_failures;
  if (dead) ++metrics_.actions_dead;
  log(dead ? LogLevel::Error : LogLevel::Warn, dead ? "action is dead" : "delivery failed",
      {{"action_id", entry.action_id},
       {"channel", entry.channel},
       {"attempts", attempts},
       {"error", error},
       {"sink", worker.sink.target}});
}

}  // namespace journey::runtime
