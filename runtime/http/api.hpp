// The HTTP API as pure functions: a request becomes either an immediate answer (bad input,
// auth, unknown route) or an Intent for the daemon to carry out. No sockets, no clock, no store.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "engine/event.hpp"
#include "runtime/common/config.hpp"

namespace journey::runtime {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

/// One validated input event and the JSON it arrived as.
struct IngestItem {
  engine::Event event;
  std::string raw;
};

/// POST /v1/track, /v1/identify, /v1/batch: events to commit before answering.
struct Ingest {
  std::vector<IngestItem> items;
};
/// GET /v1/customers/{id}
struct GetCustomer {
  std::string id;
};
/// GET /v1/customers/{id}/explain
struct ExplainCustomer {
  std::string id;
};
/// DELETE /v1/customers/{id}
struct EraseCustomer {
  std::string id;
};
/// GET /v1/journeys
struct ListJourneys {};
/// POST /v1/lint
struct LintScript {
  std::string text;
};
/// POST /v1/journeys/reload[?dry_run=1]
struct ReloadJourneys {
  bool dry_run = false;  // answer what the reload would do, do nothing
};
/// GET /v1/journeys/{name}/versions/{version}/source: the files a deployed version was compiled
/// from (what `journey diff --from-daemon` compares with).
struct VersionSource {
  std::string journey;
  std::string version;
};
/// GET /metrics
struct ReadMetrics {};
/// GET /v1/cluster: the cluster's nodes, partitions, owners and lag.
struct ClusterStatus {};
/// GET /healthz: the process is up (liveness).
struct CheckHealth {};
/// GET /readyz: the store can commit (readiness; 503 tells a load balancer to stop sending).
struct CheckReady {};

/// GET /ui...: a page of the console (read scope; runtime/http/console.hpp).
struct ShowConsole {
  enum class Page : std::uint8_t { Journeys, Journey, Customer };
  Page page = Page::Journeys;
  std::string journey;   // Journey
  std::string version;   // Journey: also show this version (else the live one and those in flight)
  std::string customer;  // Customer: the id searched for (empty: the search form alone)
  bool live_part = false;  // `?part=live`: only the part that the page's script refreshes
  bool signed_in = false;  // by the console's cookie (the page offers to sign out)
};

/// What a request asks the daemon to do.
using Intent = std::variant<Ingest, GetCustomer, ExplainCustomer, EraseCustomer, ListJourneys,
                            LintScript, ReloadJourneys, VersionSource, ReadMetrics, ClusterStatus,
                            CheckHealth, CheckReady, ShowConsole>;

/// A request turned into work, or answered at once.
using Routed = std::variant<Intent, HttpResponse>;

/// The configured token whose secret is `given` (compared in constant time), or null.
const Token* find_token(const Config& config, std::string_view given);

/// Whether the token may use the routes of `scope` (admin implies the others).
bool has_scope(const Token& token, Scope scope);

/// The name of a scope as configured: ingest, read, admin.
const char* scope_name(Scope scope);

/// Routes, authenticates and validates one request. `now` stamps events sent without a
/// timestamp.
Routed route(const HttpRequest& request, const Config& config, engine::Millis now);

/// An accepted event as a cluster's event stream carries it: its JSON as received, the type it was
/// accepted as and its timestamp (the time of arrival when it had none), read back by the node that
/// owns the customer. Nothing when the text is not such an event (the node that accepted it checked
/// it with route()).
std::optional<engine::Event> event_from_stream(std::string_view raw, const std::string& type,
                                               engine::Millis at);

/// A JSON answer with the request's HTTP version and keep-alive choice.
HttpResponse json_response(const HttpRequest& request, boost::beast::http::status status,
                           const nlohmann::json& body);

/// {"error": message[, "path": path]} with the given status.
HttpResponse error_response(const HttpRequest& request, boost::beast::http::status status,
                            const std::string& message, const std::string& path = {});

/// Decodes %XX escapes in a URL path segment; nothing when malformed.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace journey::runtime
