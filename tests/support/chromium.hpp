// Headless Chromium for the browser tests, driven over the Chrome DevTools Protocol: the browser
// (Debian's `chromium`) started on loopback with a fresh profile in a temporary folder and no
// background networking, its page reached through the DevTools websocket (Beast), and the few
// commands the tests need: navigate, evaluate JavaScript, emulate no network, capture a
// screenshot. The browser's process group is ended when the object goes. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>  // before Boost.Asio 1.74, whose awaitable.hpp uses std::exchange unincluded
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "support/daemon_process.hpp"

namespace journey::test {

/// A headless Chromium and one page of it.
class Chromium {
 public:
  /// Starts `binary` (e.g. /usr/bin/chromium) with a new profile in a temporary folder and
  /// connects to its first page. Throws std::runtime_error when it does not come up.
  explicit Chromium(const std::string& binary) : profile_("journey-chromium-") {
    const std::string user_data = "--user-data-dir=" + profile_.path().string();
    std::vector<std::string> text = {binary,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--disable-extensions",
                                     "--disable-default-apps",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--mute-audio",
                                     "--hide-scrollbars",
                                     "--window-size=1440,1000",
                                     "--remote-debugging-address=127.0.0.1",
                                     "--remote-debugging-port=0",
                                     user_data,
                                     "about:blank"};
    std::vector<char*> argv;
    for (auto& arg : text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = (profile_.path() / "chromium.log").string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own process group: the browser's helpers go with it
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    ::setpgid(pid_, pid_);
    // The browser writes its port to DevToolsActivePort in the profile once it listens.
    const auto port_file = profile_.path() / "DevToolsActivePort";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (port_.empty()) {
      std::ifstream in(port_file);
      std::getline(in, port_);
      if (!port_.empty()) break;
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("chromium did not start: " + profile_.read("chromium.log"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    connect_page();
  }

  ~Chromium() {
    ws_.reset();
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  /// Sends one DevTools command and returns its result; throws on an error answer or after
  /// `timeout`. Events that arrive meanwhile go to on_event.
  nlohmann::json send(const std::string& method, nlohmann::json params = nlohmann::json::object(),
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const int id = ++next_id_;
    const nlohmann::json command = {{"id", id}, {"method", method}, {"params", std::move(params)}};
    ws_->text(true);
    ws_->write(boost::asio::buffer(command.dump()));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("no answer to " + method);
      auto message = nlohmann::json::parse(read(left), nullptr, false);
      if (message.is_object() && message.value("id", 0) == id) {
        if (message.contains("error")) {
          throw std::runtime_error(method + " failed: " + message["error"].dump());
        }
        return message.value("result", nlohmann::json::object());
      }
      if (message.is_object() && message.contains("method") && on_event) on_event(message);
    }
  }

  /// Called with each DevTools event (Network.requestWillBeSent, ...) seen while waiting.
  std::function<void(const nlohmann::json&)> on_event;

  /// Opens `url` and waits until the document has loaded.
  void navigate(const std::string& url) {
    // A marker in the document being left: the new one has loaded when it lacks it.
    evaluate("window.journeyLeaving = true");
    const auto result = send("Page.navigate", {{"url", url}});
    if (result.contains("errorText")) {
      throw std::runtime_error("cannot open " + url + ": " + result["errorText"].dump());
    }
    if (!wait_for("window.journeyLeaving === undefined && document.readyState === 'complete'",
                  30)) {
      throw std::runtime_error("the page did not load: " + url);
    }
  }

  /// The value of a JavaScript expression in the page (JSON-able values only).
  nlohmann::json evaluate(const std::string& expression) {
    auto result =
        send("Runtime.evaluate",
             {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
    if (result.contains("exceptionDetails")) {
      throw std::runtime_error("script failed: " + expression + ": " +
                               result["exceptionDetails"].dump());
    }
    return result["result"].value("value", nlohmann::json());
  }

  /// Waits at most `seconds` for a JavaScript expression to be true in the page.
  bool wait_for(const std::string& expression, double seconds = 20) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      try {
        if (evaluate("Boolean(" + expression + ")") == true) return true;
      } catch (const std::runtime_error&) {
        // The page is between two documents (a navigation): ask again.
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  /// A PNG of the whole page, written to `file`.
  void screenshot(const std::filesystem::path& file) {
    auto shot =
        send("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", true}});
    const std::string data = shot.value("data", std::string());
    std::string png(boost::beast::detail::base64::decoded_size(data.size()), '\0');
    const auto decoded = boost::beast::detail::base64::decode(png.data(), data.data(), data.size());
    png.resize(decoded.first);
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << png;
  }

 private:
  using Socket = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;

  // The first page target of the browser, from its /json/list, through its websocket.
  void connect_page() {
    namespace http = boost::beast::http;
    boost::asio::ip::tcp::resolver resolver(io_);
    const auto where = resolver.resolve("127.0.0.1", port_);
    std::string ws_url;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (ws_url.empty()) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::asio::connect(socket, where);
      http::request<http::empty_body> request{http::verb::get, "/json/list", 11};
      request.set(http::field::host, "127.0.0.1:" + port_);
      http::write(socket, request);
      boost::beast::flat_buffer buffer;
      http::response<http::string_body> response;
      http::read(socket, buffer, response);
      for (const auto& target : nlohmann::json::parse(response.body(), nullptr, false)) {
        if (target.is_object() && target.value("type", "") == "page") {
          ws_url = target.value("webSocketDebuggerUrl", "");
          break;
        }
      }
      if (ws_url.empty()) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw std::runtime_error("chromium has no page to drive");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    const auto path = ws_url.substr(ws_url.find('/', std::string("ws://").size()));
    ws_ = std::make_unique<Socket>(io_);
    boost::asio::connect(ws_->next_layer(), where);
    ws_->read_message_max(64 << 20);
    ws_->handshake("127.0.0.1:" + port_, path);
  }

  // One websocket message, waiting at most `timeout`.
  std::string read(std::chrono::milliseconds timeout) {
    boost::beast::flat_buffer buffer;
    boost::beast::error_code error;
    bool done = false;
    ws_->async_read(buffer, [&](boost::beast::error_code ec, std::size_t) {
      error = ec;
      done = true;
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      ws_->next_layer().cancel();
      io_.restart();
      io_.run();
      throw std::runtime_error("chromium did not answer in time");
    }
    if (error) throw std::runtime_error("chromium's websocket: " + error.message());
    return boost::beast::buffers_to_string(buffer.data());
  }

  TempFolder profile_;
  pid_t pid_ = -1;
  std::string port_;
  boost::asio::io_context io_;
  std::unique_ptr<Socket> ws_;
  int next_id_ = 0;
};

}  // namespace journey::test
