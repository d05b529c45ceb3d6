#include "runtime/deliver/http_client.hpp"

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace journey::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::optional<HttpUrl> parse_http_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(kScheme.size());
  HttpUrl out;
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.target = rest.substr(slash);
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      out.port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) out.port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.port.empty() ||
      out.port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return out;
}

HttpResult http_call(http::verb method, const std::string& url, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::int64_t timeout_ms) {
  HttpResult result;
  auto parts = parse_http_url(url);
  if (!parts) {
    result.error = "not an http:// URL: " + url;
    return result;
  }
  net::io_context io;
  beast::tcp_stream stream(io);
  tcp::resolver resolver(io);
  http::request<http::string_body> request{method, parts->target, 11};
  request.set(http::field::host, parts->host + ":" + parts->port);
  request.set(http::field::user_agent, "journey");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{16} * 1024 * 1024);
  auto deadline = std::chrono::milliseconds(timeout_ms);
  beast::error_code failure;

  resolver.async_resolve(
      parts->host, parts->port,
      [&](beast::error_code ec, const tcp::resolver::results_type& endpoints) {
        if (ec) {
          failure = ec;
          return;
        }
        stream.expires_after(deadline);
        stream.async_connect(endpoints, [&](beast::error_code ec2, const tcp::endpoint&) {
          if (ec2) {
            failure = ec2;
            return;
          }
          http::async_write(stream, request, [&](beast::error_code ec3, std::size_t) {
            if (ec3) {
              failure = ec3;
              return;
            }
            http::async_read(stream, buffer, parser, [&](beast::error_code ec4, std::size_t) {
              if (ec4) {
                failure = ec4;
                return;
              }
              result.status = parser.get().result_int();
              result.body = parser.get().body();
            });
          });
        });
      });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (failure) {
    result.status = 0;
    result.error = failure == beast::error::timeout ? "timed out" : failure.message();
  }
  return result;
}

}  // namespace journey::runtime
