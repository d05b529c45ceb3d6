// What the `journey serve` tests share: the real daemon in a child process on an ephemeral
// loopback port, a real webhook receiver in this process, and small HTTP, file and metrics
// helpers.
// Every wait is bounded in time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>  // before Boost.Asio 1.74, whose awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/time.hpp"
#include "runtime/deliver/http_client.hpp"
#include "support/daemon_process.hpp"
#include "support/eventually.hpp"

namespace journey::test::serve {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using journey::runtime::http_call;
using journey::runtime::HttpResult;
using nlohmann::json;

/// A fresh folder for one test (`journeys/` inside), removed at the end.
struct TempDir {
  journey::test::TempFolder folder{"journey-serve-"};
  /// The folder.
  fs::path path = folder.path();
  /// Writes a file, `relative` to the folder.
  void write(const std::string& relative, const std::string& text) const {
    folder.write(relative, text);
  }
  /// A file's content, `relative` to the folder; empty when there is none.
  std::string read(const std::string& relative) const { return folder.read(relative); }
};

using journey::test::eventually;

/// The real `journey serve ARGS...` in a child process, run in `dir` (its stderr in
/// dir/daemon.log); see tests/support/daemon_process.hpp.
class DaemonProcess : public journey::test::DaemonProcess {
 public:
  DaemonProcess(const TempDir& dir, std::vector<std::string> args,
                std::chrono::milliseconds first_line_timeout = std::chrono::seconds(15))
      : journey::test::DaemonProcess(JOURNEY_BINARY, dir.path, serve_args(std::move(args)),
                                     first_line_timeout) {}

 private:
  static std::vector<std::string> serve_args(std::vector<std::string> args) {
    args.insert(args.begin(), "serve");
    return args;
  }
};

/// A webhook receiver: records each delivery; answers 500 while `failures` is positive.
class Receiver {
 public:
  Receiver() : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Receiver() {
    io_.stop();
    thread_.join();
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }

  struct Delivery {
    std::string idempotency_key;
    json body;
  };
  /// The requests answered 200, in order.
  std::vector<Delivery> deliveries() {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  /// The Idempotency-Key of each request answered 500, in order.
  std::vector<std::string> refused_keys() {
    std::lock_guard lock(mutex_);
    return refused_keys_;
  }
  /// How many requests to answer 500 still.
  std::atomic<int> failures{0};
  /// How many requests were answered 500.
  std::atomic<int> refused{0};

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      serve(std::move(socket));
      accept();
    });
  }
  void serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (int i = 0; i < 100; ++i) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      http::response<http::string_body> response;
      response.version(11);
      if (failures > 0) {
        --failures;
        {
          std::lock_guard lock(mutex_);
          refused_keys_.emplace_back(request["Idempotency-Key"]);
        }
        ++refused;
        response.result(http::status::internal_server_error);
      } else {
        response.result(http::status::ok);
        std::lock_guard lock(mutex_);
        deliveries_.push_back(
            {std::string(request["Idempotency-Key"]), json::parse(request.body(), nullptr, false)});
      }
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Delivery> deliveries_;
  std::vector<std::string> refused_keys_;
};

inline HttpResult call(const std::string& method, const std::string& url,
                       const std::string& body = "", const std::string& token = "") {
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return http_call(http::string_to_verb(method), url, body, headers, 10'000);
}

inline json body_of(const HttpResult& result) {
  return json::parse(result.body, nullptr, false);
}

/// The actions in an NDJSON file.
inline std::vector<json> actions_in(const TempDir& dir,
                                    const std::string& file = "actions.ndjson") {
  std::vector<json> out;
  std::istringstream in(dir.read(file));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

/// The daemon's port.
inline unsigned short port_of(const DaemonProcess& daemon) {
  return static_cast<unsigned short>(daemon.port());
}

/// Every sample of one GET /metrics, by name with its labels as the text has them
/// (`journey_deliveries_total{result="dead"}`); empty when the scrape fails.
inline std::map<std::string, double> metrics(const DaemonProcess& daemon) {
  std::map<std::string, double> out;
  auto answer = call("GET", daemon.url("/metrics"));
  if (answer.status != 200) return out;
  std::istringstream in(answer.body);
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.rfind(' ');
    if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
    out[line.substr(0, space)] = std::atof(line.c_str() + space + 1);
  }
  return out;
}

/// One sample of GET /metrics (see metrics()); -1 when the scrape fails or it is absent.
inline double metric(const DaemonProcess& daemon, const std::string& name) {
  auto all = metrics(daemon);
  auto it = all.find(name);
  return it == all.end() ? -1 : it->second;
}

/// Whether the daemon has nothing left to do, from its counters: no input queued or being
/// committed, no wake-up pending in memory or in the store, every action it created delivered
/// (or dead). Then no more actions can come without new input, and a test may count exactly.
/// Two scrapes must agree: one scrape reads the action counters before the queue depth, so the
/// second's counters cover every commit that ended before the first. Call it once the inputs
/// are acknowledged (journey_timers_pending is counted in the store at most once a second).
/// Not for a journey whose suppressed sends go to a webhook: those are not counted delivered.
inline bool settled(const DaemonProcess& daemon) {
  const std::string delivered = "journey_deliveries_total{result=\"delivered\"}";
  const std::string dead = "journey_deliveries_total{result=\"dead\"}";
  const std::string created = "journey_actions_created_total";
  const std::vector<std::string> idle = {"journey_queue_depth", "journey_timers_in_memory",
                                         "journey_timers_pending"};
  auto quiet = [&] {
    auto m = metrics(daemon);
    for (const auto& name : idle) {
      if (m.count(name) == 0 || m[name] != 0) return false;
    }
    return m.count(delivered) != 0 && m.count(dead) != 0 && m.count(created) != 0 &&
           m[delivered] + m[dead] >= m[created];
  };
  return quiet() && quiet();
}

}  // namespace journey::test::serve
