// What the benchmark programs that drive real daemons share (bench_serve, bench_cluster_serve):
// formatting of figures, a minimal HTTP/1.1 keep-alive client on POSIX sockets, and a load
// driver that sends /v1/batch requests over several connections. No test framework.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "engine/time.hpp"

namespace journey::bench {

using SteadyClock = std::chrono::steady_clock;
using journey::engine::Millis;

inline double since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

inline Millis wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// 1234567 -> "1,234,567".
inline std::string grouped(double value) {
  auto text = std::to_string(static_cast<long long>(value + (value >= 0 ? 0.5 : -0.5)));
  std::string out;
  int digits = 0;
  for (auto it = text.rbegin(); it != text.rend(); ++it) {
    if (*it != '-' && digits > 0 && digits % 3 == 0) out += ',';
    out += *it;
    if (*it != '-') ++digits;
  }
  return {out.rbegin(), out.rend()};
}

inline std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

/// One figure beside its target.
inline void figure(const std::string& what, const std::string& value, const std::string& target,
                   std::optional<bool> met) {
  std::string line = what;
  line.resize(std::max<std::size_t>(line.size() + 1, 46), ' ');
  line += value;
  line.resize(std::max<std::size_t>(line.size() + 1, 96), ' ');
  line += "target " + target;
  if (met) line += *met ? "  [met]" : "  [SHORT]";
  std::cout << line << std::endl;
}

inline void note(const std::string& text) {
  std::cout << "  " << text << std::endl;
}

// --- a minimal HTTP/1.1 keep-alive client -----------------------------------------------------

struct Answer {
  int status = 0;  // 0: the connection failed
  std::string body;
};

inline std::string post_request(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline std::string get_request(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

class Connection {
 public:
  explicit Connection(int port) : port_(port) {}
  ~Connection() { close_socket(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends one request and reads its answer. A connection the server closed between requests is
  /// opened again once.
  Answer call(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool fresh = fd_ < 0;
      if (fd_ < 0 && !open_socket()) return {};
      if (!send_all(request)) {
        close_socket();
        if (fresh) return {};
        continue;
      }
      Answer answer;
      bool got_bytes = false;
      if (read_answer(answer, got_bytes)) return answer;
      close_socket();
      if (got_bytes || fresh) return {};
    }
    return {};
  }

 private:
  bool open_socket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close_socket();
      return false;
    }
    buffer_.clear();
    return true;
  }
  void close_socket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send_all(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool fill() {
    char chunk[65536];
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }
  bool read_answer(Answer& answer, bool& got_bytes) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
      got_bytes = true;
    }
    got_bytes = true;
    std::string head = buffer_.substr(0, end);
    if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return false;
    answer.status = std::atoi(head.c_str() + 9);
    std::size_t length = 0;
    bool close_after = false;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      length = static_cast<std::size_t>(std::atol(lower.c_str() + at + 17));
    }
    if (lower.find("\r\nconnection: close") != std::string::npos) close_after = true;
    std::size_t body_start = end + 4;
    while (buffer_.size() < body_start + length) {
      if (!fill()) return false;
    }
    answer.body = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length);
    if (close_after) close_socket();
    return true;
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

/// The integer after `"key":` in a JSON answer, or -1.
inline long json_integer(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::atol(body.c_str() + at + key.size() + 3);
}

/// A Prometheus sample value from /metrics (the first line starting with `name `), or -1.
inline double metric(Connection& connection, const std::string& name) {
  auto answer = connection.call(get_request("/metrics"));
  if (answer.status != 200) return -1;
  std::istringstream in(answer.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  }
  return -1;
}

// --- load ---------------------------------------------------------------------------------

/// /v1/batch requests of `batch` events each, from NDJSON lines.
inline std::vector<std::string> batch_requests(const std::vector<std::string>& lines,
                                               std::size_t batch, std::size_t limit = SIZE_MAX) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < lines.size() && i < limit; i += batch) {
    std::string body = "{\"batch\":[";
    for (std::size_t j = i; j < std::min({i + batch, lines.size(), limit}); ++j) {
      if (j > i) body += ',';
      body += lines[j];
    }
    body += "]}";
    out.push_back(post_request("/v1/batch", body));
  }
  return out;
}

/// What a load run saw.
struct LoadResult {
  std::size_t requests_ok = 0;
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::size_t failed = 0;
  std::string first_error;
  double seconds = 0;             // first send to last answer
  std::vector<double> latencies;  // seconds, per request
  double max_send_lag = 0;        // paced runs: how late the latest send left after its slot
};

/// Sends every request once over `connections` keep-alive connections (spread over `ports`, one
/// daemon or several); `interval` > 0 paces
/// request i to start at i * interval (an open schedule), 0 sends as fast as answers come back.
inline LoadResult drive(const std::vector<int>& ports, const std::vector<std::string>& requests,
                        int connections, double interval) {
  LoadResult result;
  result.latencies.assign(requests.size(), 0);
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  auto start = SteadyClock::now() + std::chrono::milliseconds(interval > 0 ? 100 : 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, port = ports[static_cast<std::size_t>(c) % ports.size()]] {
      Connection connection(port);
      for (;;) {
        auto i = next++;
        if (i >= requests.size()) break;
        double lag = 0;
        if (interval > 0) {
          auto slot = start + std::chrono::duration_cast<SteadyClock::duration>(
                                  std::chrono::duration<double>(interval * static_cast<double>(i)));
          std::this_thread::sleep_until(slot);
          lag = std::chrono::duration<double>(SteadyClock::now() - slot).count();
        }
        auto sent = SteadyClock::now();
        auto answer = connection.call(requests[i]);
        result.latencies[i] = since(sent);
        std::lock_guard lock(mutex);
        result.max_send_lag = std::max(result.max_send_lag, lag);
        if (answer.status == 200) {
          ++result.requests_ok;
          result.accepted +=
              static_cast<std::size_t>(std::max(0L, json_integer(answer.body, "accepted")));
          result.duplicates +=
              static_cast<std::size_t>(std::max(0L, json_integer(answer.body, "duplicates")));
        } else {
          ++result.failed;
          if (result.first_error.empty()) {
            result.first_error = "HTTP " + std::to_string(answer.status) + " " + answer.body;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  result.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return result;
}

inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace journey::bench
