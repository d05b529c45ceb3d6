#include "runtime/http/api.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include "dsl/fmt.hpp"
#include "engine/time.hpp"
#include "runtime/common/json_guard.hpp"
#include "runtime/http/console.hpp"

namespace journey::runtime {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

/// Compares two secrets in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

const Token* find_token(const Config& config, std::string_view given) {
  const Token* match = nullptr;
  for (const auto& token : config.tokens) {
    if (same_secret(token.secret, given)) match = &token;
  }
  return match;
}

bool has_scope(const Token& token, Scope scope) {
  return token.scopes.count(scope) != 0 || token.scopes.count(Scope::Admin) != 0;
}

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::Ingest: return "ingest";
    case Scope::Read: return "read";
    case Scope::Admin: return "admin";
  }
  return "admin";
}

namespace {

/// The configured token the request carries, or the 401 answer. Only called with tokens set.
std::variant<const Token*, HttpResponse> authenticate(const HttpRequest& request,
                                                      const Config& config) {
  auto header = request[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    auto response = error_response(request, http::status::unauthorized,
                                   "missing bearer token: send `Authorization: Bearer TOKEN`");
    response.set(http::field::www_authenticate, "Bearer");
    return response;
  }
  std::string_view given(header.data() + kBearer.size(), header.size() - kBearer.size());
  const Token* match = find_token(config, given);
  if (match == nullptr) {
    auto response = error_response(request, http::status::unauthorized, "unknown token");
    response.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
    return response;
  }
  return match;
}

/// Checks the authenticated token (null when no tokens are configured) against the scope a route
/// needs; an answer when refused.
std::optional<HttpResponse> authorize(const HttpRequest& request, const Token* match,
                                      Scope needed) {
  if (match == nullptr) return std::nullopt;
  if (!has_scope(*match, needed)) {
    return error_response(request, http::status::forbidden,
                          std::string("this token lacks the `") + scope_name(needed) + "` scope");
  }
  return std::nullopt;
}

/// The JSON body, or a 400 saying where it is malformed or breaks a limit (nesting depth, a
/// number beyond a double), checked before parsing so nothing later recurses on untrusted depth.
std::variant<json, HttpResponse> parse_body(const HttpRequest& request, const Config& config) {
  if (auto problem = check_json_limits(request.body(), config.limits.json_depth)) {
    return error_response(request, http::status::bad_request, problem->message, problem->path);
  }
  try {
    return json::parse(request.body());
  } catch (const json::exception& e) {
    std::string what = e.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    auto start = what.find("] ");
    return error_response(
        request, http::status::bad_request,
        "malformed JSON: " + (start == std::string::npos ? what : what.substr(start + 2)), "$");
  }
}

/// Where JSON values end, in text already checked by json::parse (so it is well formed).
class JsonSpans {
 public:
  explicit JsonSpans(std::string_view text) : text_(text) {}

  /// The text of each element of the top-level object's "batch" array (the last one, as the
  /// parser keeps the last of repeated keys); nothing when the shape is otherwise.
  std::optional<std::vector<std::string_view>> batch_items() {
    std::optional<std::vector<std::string_view>> found;
    skip_space();
    if (!take('{')) return std::nullopt;
    skip_space();
    if (take('}')) return found;
    for (;;) {
      skip_space();
      auto key = string_text();
      if (key.find('\\') != std::string_view::npos) return std::nullopt;  // escaped: let it be
      skip_space();
      if (!take(':')) return std::nullopt;
      skip_space();
      if (key == "\"batch\"" && peek() == '[') {
        std::vector<std::string_view> items;
        ++at_;
        skip_space();
        if (!take(']')) {
          for (;;) {
            skip_space();
            auto start = at_;
            skip_value();
            items.push_back(text_.substr(start, at_ - start));
            skip_space();
            if (take(']')) break;
            if (!take(',')) return std::nullopt;
          }
        }
        found = std::move(items);
      } else {
        skip_value();
      }
      skip_space();
      if (take('}')) return found;
      if (!take(',')) return std::nullopt;
    }
  }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  std::string_view string_text() {
    auto start = at_;
    if (!take('"')) return {};
    while (at_ < text_.size() && text_[at_] != '"') at_ += text_[at_] == '\\' ? 2 : 1;
    ++at_;
    return text_.substr(start, std::min(at_, text_.size()) - start);
  }
  void skip_value() {
    if (peek() == '"') {
      string_text();
      return;
    }
    int depth = 0;
    while (at_ < text_.size()) {
      char c = text_[at_];
      if (c == '"') {
        string_text();
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) return;
        --depth;
      }
      if (c == ',' && depth == 0) return;
      ++at_;
      if (depth == 0 && (c == '}' || c == ']')) return;
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

/// Validates one Segment message; `path` is where it sits in the body ("$" or "$.batch[3]").
/// `raw` is the message's text in the body, kept as received (its JSON is re-written otherwise).
std::variant<IngestItem, HttpResponse> read_item(
    const HttpRequest& request, const Limits& limits, json item, const std::string& path,
    const std::string& forced_type, engine::Millis now,
    std::optional<std::string_view> raw = std::nullopt) {
  if (!item.is_object()) {
    return error_response(request, http::status::bad_request, "expected a JSON object", path);
  }
  auto type = item.find("type");
  constexpr const char* kTypes = "\"track\", \"identify\", \"page\" or \"alias\"";
  if (type == item.end()) {
    if (forced_type.empty()) {
      return error_response(request, http::status::bad_request,
                            std::string("missing `type` (") + kTypes + ")", path + ".type");
    }
    item["type"] = forced_type;
  } else if (!type->is_string() ||
             (*type != "track" && *type != "identify" && *type != "page" && *type != "alias") ||
             (!forced_type.empty() && *type != forced_type)) {
    std::string expected = forced_type.empty() ? std::string(kTypes) : "\"" + forced_type + "\"";
    return error_response(request, http::status::bad_request, "`type` must be " + expected,
                          path + ".type");
  }
  if (!item.contains("timestamp")) item["timestamp"] = engine::format_timestamp(now);
  auto parsed = engine::parse_event(item);
  if (auto* error = std::get_if<engine::EventError>(&parsed)) {
    std::string where = error->path.empty() ? "$" : error->path;
    return error_response(request, http::status::bad_request, error->message,
                          path + where.substr(1));
  }
  auto& event = std::get<engine::Event>(parsed);
  if (event.customer_id.empty()) {
    return error_response(request, http::status::bad_request, "`userId` must not be empty",
                          path + ".userId");
  }
  // A timestamp far from the receive time would move the customer's engine clock there (every
  // later event processed in year 9999, its waits due after it): refused, not clamped.
  if (event.at > now + limits.timestamp_ahead_ms || event.at < now - limits.timestamp_behind_ms) {
    bool ahead = event.at > now;
    return error_response(
        request, http::status::bad_request,
        "timestamp " + engine::format_timestamp(event.at) + " is more than " +
            dsl::duration_text((ahead ? limits.timestamp_ahead_ms : limits.timestamp_behind_ms) /
                               1000) +
            (ahead ? " ahead of" : " behind") + " the time of arrival (limits.timestamp_" +
            (ahead ? "ahead" : "behind") + ")",
        path + ".timestamp");
  }
  return IngestItem{std::move(event), raw ? std::string(*raw) : item.dump()};
}

std::variant<Intent, HttpResponse> read_ingest(const HttpRequest& request, const Config& config,
                                               const std::string& kind, engine::Millis now) {
  auto body = parse_body(request, config);
  if (auto* answer = std::get_if<HttpResponse>(&body)) return std::move(*answer);
  auto& doc = std::get<json>(body);
  Ingest ingest;
  if (kind != "batch") {
    auto item = read_item(request, config.limits, std::move(doc), "$", kind, now);
    if (auto* answer = std::get_if<HttpResponse>(&item)) return std::move(*answer);
    ingest.items.push_back(std::move(std::get<IngestItem>(item)));
    return Intent{std::move(ingest)};
  }
  if (!doc.is_object()) {
    return error_response(request, http::status::bad_request, "expected a JSON object", "$");
  }
  auto batch = doc.find("batch");
  if (batch == doc.end() || !batch->is_array()) {
    return error_response(request, http::status::bad_request, "`batch` must be an array",
                          "$.batch");
  }
  if (batch->size() > config.limits.batch_items) {
    return error_response(request, http::status::payload_too_large,
                          "batch of " + std::to_string(batch->size()) +
                              " items exceeds the limit of " +
                              std::to_string(config.limits.batch_items),
                          "$.batch");
  }
  // The items' own text is stored as received: cheaper than writing each one out again.
  auto spans = JsonSpans(request.body()).batch_items();
  if (spans && spans->size() != batch->size()) spans.reset();
  for (std::size_t i = 0; i < batch->size(); ++i) {
    std::optional<std::string_view> raw;
    if (spans) raw = (*spans)[i];
    auto item = read_item(request, config.limits, std::move((*batch)[i]),
                          "$.batch[" + std::to_string(i) + "]", "", now, raw);
    if (auto* answer = std::get_if<HttpResponse>(&item)) return std::move(*answer);
    ingest.items.push_back(std::move(std::get<IngestItem>(item)));
  }
  return Intent{std::move(ingest)};
}

/// The value of a parameter of a URL's query (`a=1&b=2`), percent-decoded; nothing when absent
/// (or malformed). A parameter given without `=` has the empty value.
std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

HttpResponse method_not_allowed(const HttpRequest& request, const char* allow) {
  auto response = error_response(request, http::status::method_not_allowed,
                                 std::string("method not allowed; use ") + allow);
  response.set(http::field::allow, allow);
  return response;
}

}  // namespace

std::optional<engine::Event> event_from_stream(std::string_view raw, const std::string& type,
                                               engine::Millis at) {
  auto item = json::parse(raw, nullptr, false);
  if (!item.is_object()) return std::nullopt;
  if (!item.contains("type")) item["type"] = type;
  if (!item.contains("timestamp")) item["timestamp"] = engine::format_timestamp(at);
  auto parsed = engine::parse_event(item);
  auto* event = std::get_if<engine::Event>(&parsed);
  if (event == nullptr || event->customer_id.empty()) return std::nullopt;
  return std::move(*event);
}

HttpResponse json_response(const HttpRequest& request, http::status status, const json& body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "journey");
  response.set(http::field::content_type, "application/json");
  response.keep_alive(request.keep_alive());
  response.body() = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  response.prepare_payload();
  return response;
}

HttpResponse error_response(const HttpRequest& request, http::status status,
                            const std::string& message, const std::string& path) {
  json body = {{"error", message}};
  if (!path.empty()) body["path"] = path;
  return json_response(request, status, body);
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int high = hex(text[i + 1]);
    int low = hex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

Routed route(const HttpRequest& request, const Config& config, engine::Millis now) {
  auto raw_target = request.target();
  std::string_view target(raw_target.data(), raw_target.size());
  std::string_view query;
  if (auto mark = target.find('?'); mark != std::string_view::npos) {
    query = target.substr(mark + 1);
    target = target.substr(0, mark);
  }
  auto method = request.method();
  bool get = method == http::verb::get;
  bool post = method == http::verb::post;

  if (auto console = route_console(request, config)) {
    if (auto* answer = std::get_if<HttpResponse>(&*console)) return std::move(*answer);
    return Intent{std::get<ShowConsole>(std::move(*console))};
  }
  if (target == "/healthz" || target == "/readyz") {
    if (!get) return method_not_allowed(request, "GET");
    if (target == "/readyz") return Intent{CheckReady{}};
    return Intent{CheckHealth{}};
  }
  // Everything else needs a known token before anything about the request is answered (an
  // unauthenticated client learns nothing of the routes or of what it sent).
  const Token* token = nullptr;
  if (!config.tokens.empty()) {
    auto who = authenticate(request, config);
    if (auto* refused = std::get_if<HttpResponse>(&who)) return std::move(*refused);
    token = std::get<const Token*>(who);
  }

  auto guarded = [&](Scope scope, auto&& make) -> Routed {
    if (auto refused = authorize(request, token, scope)) return std::move(*refused);
    if (request.body().size() > config.limits.body_bytes) {
      return error_response(
          request, http::status::payload_too_large,
          "body exceeds the limit of " + std::to_string(config.limits.body_bytes) + " bytes");
    }
    return make();
  };

  if (target == "/metrics") {
    if (!get) return method_not_allowed(request, "GET");
    return guarded(Scope::Read, [] { return Routed{Intent{ReadMetrics{}}}; });
  }
  for (const char* kind : {"track", "identify", "page", "alias", "batch"}) {
    if (target == std::string("/v1/") + kind) {
      if (!post) return method_not_allowed(request, "POST");
      return guarded(Scope::Ingest, [&]() -> Routed {
        auto result = read_ingest(request, config, kind, now);
        if (auto* answer = std::get_if<HttpResponse>(&result)) return std::move(*answer);
        return std::get<Intent>(std::move(result));
      });
    }
  }
  if (target == "/v1/journeys") {
    if (!get) return method_not_allowed(request, "GET");
    return guarded(Scope::Read, [] { return Routed{Intent{ListJourneys{}}}; });
  }
  if (target == "/v1/cluster") {
    if (!get) return method_not_allowed(request, "GET");
    return guarded(Scope::Read, [] { return Routed{Intent{ClusterStatus{}}}; });
  }
  if (target == "/v1/journeys/reload") {
    if (!post) return method_not_allowed(request, "POST");
    return guarded(Scope::Admin, [&]() -> Routed {
      ReloadJourneys reload;
      const auto flag = query_value(query, "dry_run");
      if (flag && !flag->empty() && *flag != "0" && *flag != "1" && *flag != "true" &&
          *flag != "false") {
        return error_response(request, http::status::bad_request,
                              "`dry_run` must be 1 or 0 (true or false), not `" + *flag + "`");
      }
      reload.dry_run = flag && (flag->empty() || *flag == "1" || *flag == "true");
      return Intent{reload};
    });
  }
  constexpr std::string_view kJourneys = "/v1/journeys/";
  if (target.substr(0, kJourneys.size()) == kJourneys) {
    // {name}/versions/{version}/source
    std::vector<std::string_view> parts;
    for (auto rest = target.substr(kJourneys.size());;) {
      const auto slash = rest.find('/');
      parts.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
    if (parts.size() == 4 && parts[1] == "versions" && parts[3] == "source") {
      auto name = percent_decode(parts[0]);
      auto version = percent_decode(parts[2]);
      if (!name || name->empty() || !version || version->empty()) {
        return error_response(request, http::status::bad_request,
                              "malformed journey name or version in the URL");
      }
      if (!get) return method_not_allowed(request, "GET");
      return guarded(Scope::Read, [&] { return Routed{Intent{VersionSource{*name, *version}}}; });
    }
  }
  if (target == "/v1/lint") {
    if (!post) return method_not_allowed(request, "POST");
    return guarded(Scope::Read, [&] { return Routed{Intent{LintScript{request.body()}}}; });
  }
  constexpr std::string_view kCustomers = "/v1/customers/";
  if (target.substr(0, kCustomers.size()) == kCustomers) {
    auto rest = target.substr(kCustomers.size());
    bool explain = false;
    constexpr std::string_view kExplain = "/explain";
    if (rest.size() > kExplain.size() && rest.substr(rest.size() - kExplain.size()) == kExplain) {
      explain = true;
      rest = rest.substr(0, rest.size() - kExplain.size());
    }
    if (!rest.empty() && rest.find('/') == std::string_view::npos) {
      auto id = percent_decode(rest);
      if (!id || id->empty()) {
        return error_response(request, http::status::bad_request,
                              "malformed customer id in the URL");
      }
      if (explain) {
        if (!get) return method_not_allowed(request, "GET");
        return guarded(Scope::Read, [&] { return Routed{Intent{ExplainCustomer{*id}}}; });
      }
      if (get) return guarded(Scope::Read, [&] { return Routed{Intent{GetCustomer{*id}}}; });
      if (method == http::verb::delete_) {
        return guarded(Scope::Admin, [&] { return Routed{Intent{EraseCustomer{*id}}}; });
      }
      return method_not_allowed(request, "GET, DELETE");
    }
  }
  return error_response(
      request, http::status::not_found,
      "no such route: " + std::string(request.method_string()) + " " + std::string(target));
}

}  // namespace journey::runtime
