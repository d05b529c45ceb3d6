// What the `journey serve` tests share: the real daemon in a child process on an ephemeral
// loopback port, a real webhook receiver in this process, and small HTTP and file helpers.
// Every wait is bounded in time.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "engine/time.hpp"
#include "runtime/deliver/http_client.hpp"

namespace journey::test::serve {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
using journey::runtime::http_call;
using journey::runtime::HttpResult;


/// A fresh folder, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("journey-serve-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path / "journeys");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& relative, const std::string& text) const {
    std::ofstream(path / relative, std::ios::binary) << text;
  }
  std::string read(const std::string& relative) const {
    std::ifstream in(path / relative, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
};

/// Polls `condition` every 50 ms for at most `seconds`.
template <typename F>
inline bool eventually(F condition, double seconds = 15) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

/// The real `journey serve` in a child process.
class DaemonProcess {
 public:
  DaemonProcess(const TempDir& dir, std::vector<std::string> args) : dir_(dir) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    std::vector<std::string> argv_text = {JOURNEY_BINARY, "serve"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (chdir(dir.path.c_str()) != 0) _exit(127);
      dup2(out[1], 1);
      int err = open((dir.path / "daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, 2);
      close(out[0]);
      std::vector<char*> argv;
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = out[0];
    first_line_ = read_line(15000);
  }
  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  const std::string& first_line() const { return first_line_; }
  std::string url(const std::string& path) const {
    return "http://" + first_line_.substr(std::string("listening on ").size()) + path;
  }
  bool started() const { return first_line_.rfind("listening on 127.0.0.1:", 0) == 0; }

  /// Sends a signal.
  void signal(int sig) const { ::kill(pid_, sig); }
  /// Waits (bounded) for the process to end; its exit code, or -1.
  int wait(double seconds = 15) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  std::string log() const { return dir_.read("daemon.log"); }

 private:
  std::string read_line(int timeout_ms) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      auto n = ::read(stdout_, &c, 1);
      if (n <= 0) break;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  const TempDir& dir_;
  pid_t pid_ = -1;
  int stdout_ = -1;
  std::string first_line_;
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

  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook"; }

  struct Delivery {
    std::string idempotency_key;
    json body;
  };
  std::vector<Delivery> deliveries() {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  std::atomic<int> failures{0};
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
        ++refused;
        response.result(http::status::internal_server_error);
      } else {
        response.result(http::status::ok);
        std::lock_guard lock(mutex_);
        deliveries_.push_back({std::string(request["Idempotency-Key"]), json::parse(request.body(), nullptr, false)});
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
};

inline HttpResult call(const std::string& method, const std::string& url, const std::string& body = "",
                const std::string& token = "") {
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return http_call(http::string_to_verb(method), url, body, headers, 10'000);
}

inline json body_of(const HttpResult& result) { return json::parse(result.body, nullptr, false); }

/// The actions in an NDJSON file.
inline std::vector<json> actions_in(const TempDir& dir, const std::string& file = "actions.ndjson") {
  std::vector<json> out;
  std::istringstream in(dir.read(file));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}


/// The daemon's port, from its URL.
inline unsigned short port_of(const DaemonProcess& daemon) {
  auto url = daemon.url("");
  return static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1)));
}

}  // namespace journey::test::serve
