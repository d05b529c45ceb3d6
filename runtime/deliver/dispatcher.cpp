#include "runtime/deliver/dispatcher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/hash.hpp"
#include "runtime/common/log.hpp"
#include "runtime/deliver/http_client.hpp"

namespace journey::runtime {
namespace {

/// Actions read per pass: a file sink writes and fsyncs them at once, a webhook posts them in turn.
constexpr std::size_t kFilePassSize = 4096;
constexpr std::size_t kWebhookPassSize = 256;
/// How much of a file sink's end is read at open: more than a pass of lines (kFilePassSize).
constexpr std::size_t kTailBytes = 16 << 20;

/// The file sink's tail, read when the file is opened: the action ids of its last lines. A crash
/// between a pass's fsync and its mark leaves those lines in the file with their outbox rows
/// pending; the next passes skip (and mark) them instead of writing them twice. A last line cut
/// short by the crash is removed, so the file stays NDJSON.
std::set<std::string> open_tail(int fd, const std::string& path) {
  std::set<std::string> ids;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size == 0) return ids;
  const off_t size = st.st_size;
  const off_t start = std::max<off_t>(0, size - static_cast<off_t>(kTailBytes));
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  if (::pread(fd, tail.data(), tail.size(), start) != static_cast<ssize_t>(tail.size())) return ids;
  auto last_newline = tail.rfind('\n');
  const off_t whole =
      last_newline == std::string::npos ? start : start + static_cast<off_t>(last_newline) + 1;
  if (whole < size && (start == 0 || last_newline != std::string::npos)) {
    if (::ftruncate(fd, whole) == 0) {
      log(LogLevel::Warn, "file sink: removed a partial last line",
          {{"sink", path}, {"bytes", size - whole}});
    }
  }
  constexpr std::string_view kKey = "\"action_id\":\"";
  for (std::size_t at = tail.find(kKey);
       at != std::string::npos && static_cast<off_t>(at) + start < whole;
       at = tail.find(kKey, at + 1)) {
    auto begin = at + kKey.size();
    auto end = tail.find('"', begin);
    if (end == std::string::npos) break;
    ids.emplace(tail, begin, end - begin);
  }
  return ids;
}

}  // namespace

std::int64_t retry_delay_ms(const WebhookPolicy& policy, int attempts, std::uint64_t jitter_seed) {
  double delay = static_cast<double>(policy.backoff_initial_ms);
  for (int i = 1; i < attempts && delay < static_cast<double>(policy.backoff_max_ms); ++i)
    delay *= 2;
  delay = std::min(delay, static_cast<double>(policy.backoff_max_ms));
  double jitter = 0.5 + static_cast<double>(jitter_seed % 1000) / 1000.0;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(delay * jitter));
}

struct Dispatcher::Worker {
  SinkSpec sink;
  ChannelFilter filter;
  std::unique_ptr<Store> store;
  std::thread thread;
  int fd = -1;
  std::set<std::string> in_file;  // file sink: action ids of the tail at open (see open_tail)
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
  auto add = [this](SinkSpec sink, ChannelFilter filter) {
    auto worker = std::make_unique<Worker>();
    worker->sink = std::move(sink);
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
    if (worker->fd >= 0) ::close(worker->fd);
    worker->fd = -1;
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
      auto pass = worker.sink.kind == SinkSpec::Kind::File ? kFilePassSize : kWebhookPassSize;
      auto due = worker.store->due_actions(clock_(), pass, worker.filter);
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
        wait_ms = std::clamp<std::int64_t>(*next - clock_(), 0, 1000);
      }
    } catch (const StoreError&) {
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || generation_ != seen; });
  }
}

void Dispatcher::deliver_to_file(Worker& worker, std::vector<OutboxEntry> due) {
  if (worker.fd < 0) {
    worker.fd = ::open(worker.sink.target.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (worker.fd >= 0) worker.in_file = open_tail(worker.fd, worker.sink.target);
  }
  std::vector<std::int64_t> seqs;
  seqs.reserve(due.size());
  if (!worker.in_file.empty()) {
    // Lines already in the file are marked without being written again; once a pass finds none
    // of them, the rest of the queue came after the crash.
    auto written = std::stable_partition(due.begin(), due.end(), [&](const OutboxEntry& entry) {
      return worker.in_file.count(entry.action_id) == 0;
    });
    for (auto it = written; it != due.end(); ++it) seqs.push_back(it->seq);
    if (written == due.end()) worker.in_file.clear();
    if (!seqs.empty()) {
      log(LogLevel::Info, "file sink: actions already in the file were not written again",
          {{"sink", worker.sink.target}, {"count", seqs.size()}});
    }
    due.erase(written, due.end());
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
    if (error.empty() && ::fsync(worker.fd) != 0)
      error = worker.sink.target + ": fsync: " + std::strerror(errno);
  }
  if (!error.empty()) {
    if (worker.fd >= 0) ::close(worker.fd);
    worker.fd = -1;
    for (const auto& entry : due) record_failure(worker, entry, error);
    return;
  }
  // One transaction for the whole pass: the lines are on disk (fsync above) before the mark.
  for (const auto& entry : due) seqs.push_back(entry.seq);
  // A StoreError here goes to run(), which waits before the next pass; the file is then read
  // again at its next opening, so these lines are not written twice.
  Batch marks;
  marks.delivered = std::move(seqs);
  try {
    mark_(std::move(marks));
  } catch (const StoreError&) {
    ::close(worker.fd);
    worker.fd = -1;
    throw;
  }
  metrics_.actions_delivered += due.size();
}

void Dispatcher::deliver_to_webhook(Worker& worker, const std::vector<OutboxEntry>& due) {
  for (const auto& entry : due) {
    if (stopping_ && clock_() > drain_deadline_) return;
    // Suppressed sends are part of the action stream (file sinks, the API) but a webhook only
    // receives what should actually be sent.
    auto payload = nlohmann::json::parse(entry.payload, nullptr, false);
    if (payload.is_object() && payload.value("status", std::string("sent")) != "sent") {
      mark_delivered(entry);
      continue;
    }
    auto result =
        http_call(boost::beast::http::verb::post, worker.sink.target, entry.payload,
                  {{"Content-Type", "application/json"}, {"Idempotency-Key", entry.action_id}},
                  config_.webhook.timeout_ms);
    if (result.status >= 200 && result.status < 300) {
      mark_delivered(entry);
      ++metrics_.actions_delivered;
    } else {
      record_failure(worker, entry,
                     result.status ? "HTTP " + std::to_string(result.status) : result.error);
    }
  }
}

void Dispatcher::mark_delivered(const OutboxEntry& entry) {
  Batch marks;
  marks.delivered.push_back(entry.seq);
  mark_(std::move(marks));
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
       {"sink", worker.sink.target}});
}

}  // namespace journey::runtime
