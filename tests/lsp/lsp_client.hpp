// A scripted LSP client for the tests: starts the real `journey lsp` (JOURNEY_BINARY) with pipes
// for its standard input and output, writes framed JSON-RPC messages, and reads what comes back
// with bounded waits. Notifications that arrive while waiting for a response are kept, in order,
// for notification() to find. The process is killed if the test ends before it exits.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lsp/framing.hpp"

namespace journey::test {

class LspProcess {
 public:
  using json = nlohmann::json;
  static constexpr std::chrono::milliseconds kWait{20000};

  explicit LspProcess(const std::vector<std::string>& args = {}) {
    int to_child[2];
    int from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDERR_FILENO);
      ::close(to_child[1]);
      ::close(from_child[0]);
      std::vector<std::string> all = {JOURNEY_BINARY, "lsp"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
    ::signal(SIGPIPE, SIG_IGN);
  }

  ~LspProcess() {
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  LspProcess(const LspProcess&) = delete;
  LspProcess& operator=(const LspProcess&) = delete;

  /// Writes bytes as they are (for malformed frames); false when the server closed its input.
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(in_, bytes.data(), bytes.size());
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void send(const json& message) { send_raw(lsp::frame(message.dump())); }

  void notify(const std::string& method, json params) {
    send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

  /// Sends a request and returns its response (the whole message: `result` or `error`).
  json request(const std::string& method, json params) {
    const int id = ++last_id_;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return response(id);
  }

  /// The response with this id, keeping the notifications read before it.
  json response(const json& id) {
    while (true) {
      json m = read_message();
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
      pending_.push_back(std::move(m));
    }
  }

  /// The next notification with this method, and for this document if `uri` is given (kept
  /// ones first); the others are kept.
  json notification(const std::string& method, const std::string& uri = {}) {
    const auto wanted = [&](const json& m) {
      return m.value("method", "") == method &&
             (uri.empty() || m["params"].value("uri", "") == uri);
    };
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (wanted(*it)) {
        json m = std::move(*it);
        pending_.erase(it);
        return m;
      }
    }
    while (true) {
      json m = read_message();
      if (wanted(m)) return m;
      pending_.push_back(std::move(m));
    }
  }

  /// The diagnostics published next for `uri`.
  json diagnostics_for(const std::string& uri) {
    return notification("textDocument/publishDiagnostics", uri)["params"]["diagnostics"];
  }

  /// The next message the server writes; throws when none comes in time or the stream ends.
  json read_message() {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (true) {
      if (auto frame = reader_.next()) {
        if (!frame->error.empty()) throw std::runtime_error("bad frame: " + frame->error);
        return json::parse(frame->body);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("no message from journey lsp in time");
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("journey lsp closed its output");
      reader_.feed(std::string_view(chunk, static_cast<std::size_t>(n)));
    }
  }

  /// Closes the server's input (as an editor that goes away does).
  void close_input() {
    ::close(in_);
    in_ = -1;
  }

  /// The exit code, once the process has exited (-1 when it did not exit normally in time).
  int wait_exit() {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      ::usleep(10000);
    }
    return -1;
  }

  /// Starts the session: `initialize` with one workspace folder and the given options, then
  /// `initialized`. Returns the initialize result.
  json initialize(const std::string& folder_uri, json options = nullptr) {
    json params = {{"processId", nullptr}, {"capabilities", json::object()}};
    if (!folder_uri.empty()) params["workspaceFolders"] = {{{"uri", folder_uri}, {"name", "w"}}};
    if (!options.is_null()) params["initializationOptions"] = std::move(options);
    json r = request("initialize", std::move(params));
    notify("initialized", json::object());
    return r.at("result");
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  bool exited_ = false;
  int last_id_ = 0;
  lsp::FrameReader reader_{std::size_t{1} << 30};
  std::deque<json> pending_;
};

}  // namespace journey::test
