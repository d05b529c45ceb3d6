#include "runtime/http/server.hpp"

#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "runtime/common/log.hpp"

namespace journey::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// Steady-clock milliseconds (never 0: 0 means "not waiting" below).
std::int64_t steady_ms() {
  return 1 + std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
}

}  // namespace

/// One connection: reads requests one after another, hands each to the handler, writes answers.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<HttpServer> server, std::string peer,
              const char* refusal)
      : stream_(std::move(socket)),
        server_(std::move(server)),
        peer_(std::move(peer)),
        refusal_(refusal) {}

  ~HttpSession() { server_->forget(this, peer_); }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::on_start, shared_from_this()));
  }

  /// Since when (steady milliseconds) it has waited for a request's headers; 0 while it reads a
  /// body, is answered or writes: only sessions that wait may be evicted.
  std::int64_t waiting_since() const { return waiting_since_.load(); }
  /// Closes it at once unless it has started on a request meanwhile; true when it was waiting.
  bool evict() {
    auto since = waiting_since_.load();
    if (since == 0 || !waiting_since_.compare_exchange_strong(since, 0)) return false;
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->reading_) beast::get_lowest_layer(self->stream_).cancel();
    });
    return true;
  }

  /// Closes after the request in hand (if any) is answered.
  void close_soon() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->reading_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  void on_start() {
    if (refusal_ != nullptr) {
      HttpRequest request{http::verb::get, "/", 11};
      request.keep_alive(false);
      auto response = error_response(request, http::status::too_many_requests, refusal_);
      response.set(http::field::retry_after, "1");
      do_write(std::move(response));
      return;
    }
    do_read();
  }

  void do_read() {
    if (closing_) return do_close();
    parser_.emplace();
    parser_->body_limit(server_->limits_.body_bytes);
    parser_->header_limit(16 * 1024);
    // The request line and headers get a deadline of their own, shorter than the body's: a
    // client that trickles header bytes holds a connection for at most header_timeout.
    stream_.expires_after(std::chrono::milliseconds(server_->limits_.header_timeout_ms));
    waiting_since_ = steady_ms();
    reading_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t bytes) {
    // Evicted meanwhile (waiting_since_ already 0): on_read closes as the read was cancelled.
    if (waiting_since_.exchange(0) == 0 && !ec) ec = net::error::operation_aborted;
    if (ec || parser_->is_done()) return on_read(ec, bytes);
    stream_.expires_after(std::chrono::milliseconds(server_->limits_.read_timeout_ms));
    auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // The client waits for this before sending the body (curl does for bodies over 1 KiB).
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *go_on,
                        [self = shared_from_this(), go_on](beast::error_code wec, std::size_t) {
                          if (wec) return self->on_read(wec, 0);
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    reading_ = false;
    waiting_since_ = 0;
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset) {
      if (ec == beast::error::timeout) log(LogLevel::Debug, "client timed out");
      return do_close();
    }
    if (ec == http::error::body_limit) {
      HttpRequest request{http::verb::post, "/", 11};
      request.keep_alive(false);
      return do_write(error_response(
          request, http::status::payload_too_large,
          "body exceeds the limit of " + std::to_string(server_->limits_.body_bytes) + " bytes"));
    }
    if (ec) {
      HttpRequest request{http::verb::get, "/", 11};
      request.keep_alive(false);
      return do_write(error_response(request, http::status::bad_request,
                                     "malformed HTTP request: " + ec.message()));
    }
    ++requests_;
    stream_.expires_never();
    HttpRequest request = parser_->release();
    if (requests_ >= server_->limits_.requests_per_connection) request.keep_alive(false);
    auto self = shared_from_this();
    server_->handler_(std::move(request), [self](HttpResponse response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->do_write(std::move(response));
      });
    });
  }

  void do_write(HttpResponse response) {
    server_->metrics_.record_response(response.result_int());
    if (closing_) response.keep_alive(false);
    auto owned = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(std::chrono::milliseconds(server_->limits_.read_timeout_ms));
    http::async_write(stream_, *owned,
                      [self = shared_from_this(), owned](beast::error_code ec, std::size_t) {
                        self->on_write(owned->need_eof(), ec);
                      });
  }

  void on_write(bool close, beast::error_code ec) {
    if (ec || close || refusal_ != nullptr) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpServer> server_;
  std::string peer_;
  const char* refusal_ = nullptr;  // answered with 429 and closed
  std::atomic<std::int64_t> waiting_since_{0};
  bool closing_ = false;
  bool reading_ = false;
  std::size_t requests_ = 0;
};

HttpServer::HttpServer(net::io_context& io, Limits limits, Handler handler, Metrics& metrics)
    : io_(io),
      acceptor_(net::make_strand(io)),
      limits_(limits),
      handler_(std::move(handler)),
      metrics_(metrics) {}

tcp::endpoint HttpServer::listen(const std::string& host, std::uint16_t port) {
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host);
  tcp::endpoint endpoint{address, port};
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  do_accept();
}

void HttpServer::do_accept() {
  acceptor_.async_accept(net::make_strand(io_),
                         beast::bind_front_handler(&HttpServer::on_accept, shared_from_this()));
}

void HttpServer::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    boost::system::error_code peer_ec;
    auto endpoint = socket.remote_endpoint(peer_ec);
    std::string peer = peer_ec ? std::string("?") : endpoint.address().to_string();
    std::shared_ptr<HttpSession> session;
    // Sessions looked at while evicting: released after the lock, as dropping the last reference
    // runs ~HttpSession, which takes it.
    std::vector<std::shared_ptr<HttpSession>> seen;
    {
      std::lock_guard lock(mutex_);
      const char* refusal = nullptr;
      if (per_peer_[peer] >= limits_.connections_per_peer) {
        refusal = "too many connections from this address; retry later";
      } else if (open_.load() - evicted_.size() >= limits_.max_connections &&
                 !evict_one_locked(seen)) {
        refusal = "too many connections; retry later";
      }
      if (refusal != nullptr) ++metrics_.connections_refused;
      session = std::make_shared<HttpSession>(std::move(socket), shared_from_this(), peer, refusal);
      live_[session.get()] = session;
      ++open_;
      ++per_peer_[peer];
      if (closing_) session->close_soon();
    }
    session->run();
  } else {
    log(LogLevel::Warn, "accept failed", {{"error", ec.message()}});
  }
  do_accept();
}

void HttpServer::stop_accepting() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void HttpServer::close_sessions() {
  std::vector<std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    for (auto& [raw, weak] : live_) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  // Outside the lock: dropping the last reference runs ~HttpSession, which takes it.
  for (auto& session : sessions) session->close_soon();
}

bool HttpServer::evict_one_locked(std::vector<std::shared_ptr<HttpSession>>& seen) {
  // The session that has waited longest for a request's headers: an idle keep-alive connection
  // or a client trickling its headers. Sessions busy with a request are never evicted, so a
  // full server still takes health checks and clients that send their requests at once.
  HttpSession* oldest = nullptr;
  std::int64_t oldest_since = 0;
  seen.reserve(live_.size());
  for (auto& [raw, weak] : live_) {
    auto session = weak.lock();
    if (!session) continue;
    auto since = session->waiting_since();
    if (since != 0 && (oldest == nullptr || since < oldest_since) && evicted_.count(raw) == 0) {
      oldest = raw;
      oldest_since = since;
    }
    seen.push_back(std::move(session));
  }
  if (oldest == nullptr || !oldest->evict()) return false;
  evicted_.insert(oldest);  // no longer counted as open while it closes
  ++metrics_.connections_evicted;
  return true;
}

void HttpServer::forget(HttpSession* session, const std::string& peer) {
  std::lock_guard lock(mutex_);
  live_.erase(session);
  evicted_.erase(session);
  --open_;
  if (auto it = per_peer_.find(peer); it != per_peer_.end() && --it->second == 0)
    per_peer_.erase(it);
}

}  // namespace journey::runtime
