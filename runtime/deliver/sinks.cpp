#include "runtime/deliver/sinks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/common/log.hpp"
#include "runtime/deliver/http_client.hpp"

namespace journey::runtime {
namespace {

/// How much of a file sink's end is read at open: more than a pass of lines.
constexpr std::size_t kTailBytes = 16 << 20;

/// The file sink's tail, read when the file is opened: the action ids of its last lines. A crash
/// between a pass's fsync and its mark leaves those lines in the file with their actions still
/// to deliver; the next passes skip them instead of writing them twice. A last line cut short by
/// the crash is removed, so the file stays NDJSON.
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

/// An NDJSON file: exactly once per action id (see open_tail).
class FileSink final : public Sink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  std::vector<std::string> deliver(const std::vector<Delivery>& actions,
                                   const std::function<bool()>& /*give_up*/) override {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ >= 0) in_file_ = open_tail(fd_, path_);
    }
    std::vector<std::string> results(actions.size());
    if (fd_ < 0) {
      std::fill(results.begin(), results.end(), path_ + ": " + std::strerror(errno));
      return results;
    }
    // Lines already in the file are delivered without being written again; once a pass finds
    // none of them, the rest came after the crash.
    std::string lines;
    std::size_t skipped = 0;
    for (const auto& action : actions) {
      if (!in_file_.empty() && in_file_.count(action.action_id) != 0) {
        ++skipped;
        continue;
      }
      lines += action.payload;
      lines += '\n';
    }
    if (skipped == 0) in_file_.clear();
    if (skipped > 0) {
      log(LogLevel::Info, "file sink: actions already in the file were not written again",
          {{"sink", path_}, {"count", skipped}});
    }
    std::string error;
    std::size_t written = 0;
    while (written < lines.size()) {
      auto n = ::write(fd_, lines.data() + written, lines.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = path_ + ": " + std::strerror(errno);
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    if (error.empty() && ::fsync(fd_) != 0) error = path_ + ": fsync: " + std::strerror(errno);
    if (!error.empty()) {
      // Opened again at the next pass: its tail then says which lines made it.
      ::close(fd_);
      fd_ = -1;
      std::fill(results.begin(), results.end(), error);
    }
    return results;
  }
  void reopen() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::size_t pass_size() const override { return 4096; }
  bool batched() const override { return true; }
  const std::string& target() const override { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::set<std::string> in_file_;  // action ids of the tail at open (see open_tail)
};

/// A webhook: POST with Idempotency-Key; any 2xx is delivered. Suppressed sends are part of the
/// action stream (file sinks, the API) but a webhook only receives what should actually be sent.
class WebhookSink final : public Sink {
 public:
  WebhookSink(std::string url, std::int64_t timeout_ms)
      : url_(std::move(url)), timeout_ms_(timeout_ms) {}

  std::vector<std::string> deliver(const std::vector<Delivery>& actions,
                                   const std::function<bool()>& give_up) override {
    std::vector<std::string> results;
    for (const auto& action : actions) {
      if (give_up && give_up()) break;
      auto payload = nlohmann::json::parse(action.payload, nullptr, false);
      if (payload.is_object() && payload.value("status", std::string("sent")) != "sent") {
        results.emplace_back();
        continue;
      }
      auto result =
          http_call(boost::beast::http::verb::post, url_, action.payload,
                    {{"Content-Type", "application/json"}, {"Idempotency-Key", action.action_id}},
                    timeout_ms_);
      results.push_back(result.status >= 200 && result.status < 300 ? std::string()
                        : result.status ? "HTTP " + std::to_string(result.status)
                                        : result.error);
    }
    return results;
  }
  std::size_t pass_size() const override { return 256; }
  bool batched() const override { return false; }
  const std::string& target() const override { return url_; }

 private:
  std::string url_;
  std::int64_t timeout_ms_;
};

}  // namespace

std::unique_ptr<Sink> open_sink(const SinkSpec& spec, const WebhookPolicy& policy) {
  if (spec.kind == SinkSpec::Kind::File) return std::make_unique<FileSink>(spec.target);
  return std::make_unique<WebhookSink>(spec.target, policy.timeout_ms);
}

std::int64_t retry_delay_ms(const WebhookPolicy& policy, int attempts, std::uint64_t jitter_seed) {
  double delay = static_cast<double>(policy.backoff_initial_ms);
  for (int i = 1; i < attempts && delay < static_cast<double>(policy.backoff_max_ms); ++i)
    delay *= 2;
  delay = std::min(delay, static_cast<double>(policy.backoff_max_ms));
  double jitter = 0.5 + static_cast<double>(jitter_seed % 1000) / 1000.0;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(delay * jitter));
}

}  // namespace journey::runtime
