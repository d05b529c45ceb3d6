// The HTTP server, after the Beast advanced server: a listener and one session per connection,
// do_x/on_x pairs, a strand per connection, read timeouts and body limits. It knows nothing of
// journeys: each request goes to a Handler, which answers through a callback.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "runtime/common/config.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/http/api.hpp"

namespace journey::runtime {

/// Answers one request, now or later, from any thread; must call `reply` exactly once.
using Handler = std::function<void(HttpRequest request, std::function<void(HttpResponse)> reply)>;

class HttpSession;

/// Accepts connections and runs their sessions.
class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  HttpServer(boost::asio::io_context& io, Limits limits, Handler handler, Metrics& metrics);

  /// Binds and listens; returns the bound endpoint (the real port when 0 was asked).
  /// Throws boost::system::system_error.
  boost::asio::ip::tcp::endpoint listen(const std::string& host, std::uint16_t port);
  /// Starts accepting.
  void start();
  /// Stops accepting new connections; sessions carry on.
  void stop_accepting();
  /// Closes every session once its current request is answered; idle ones at once.
  void close_sessions();
  /// Sessions open now.
  std::size_t sessions() const { return open_.load(); }

 private:
  friend class HttpSession;
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void forget(HttpSession* session, const std::string& peer);
  /// Evicts the session waiting longest for its request headers; false when none waits.
  /// `seen` keeps the sessions it looked at alive until the caller has unlocked.
  bool evict_one_locked(std::vector<std::shared_ptr<HttpSession>>& seen);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Limits limits_;
  Handler handler_;
  Metrics& metrics_;
  std::atomic<std::size_t> open_{0};
  std::mutex mutex_;
  std::map<HttpSession*, std::weak_ptr<HttpSession>> live_;
  std::map<std::string, std::size_t> per_peer_;  // open sessions by client address
  std::set<HttpSession*> evicted_;  // evicted, not yet gone: they no longer count as open
  bool closing_ = false;
};

}  // namespace journey::runtime
