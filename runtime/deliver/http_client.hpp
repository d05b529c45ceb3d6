// A small blocking HTTP/1.1 client with a deadline, for webhook deliveries (and tests).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace journey::runtime {

/// The parts of an http:// URL.
struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};

/// Parses http://HOST[:PORT][/PATH]; nothing for other schemes or malformed URLs.
std::optional<HttpUrl> parse_http_url(const std::string& url);

/// What came back: `status` 0 means no answer (then `error` says why).
struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::string error;
};

/// Sends one request and waits for the answer, at most `timeout_ms` in all.
HttpResult http_call(boost::beast::http::verb method, const std::string& url,
                     const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::int64_t timeout_ms);

}  // namespace journey::runtime
