// The console of `journey serve` at /ui: its routes (authentication by the API's bearer tokens, in
// the Authorization header or in the cookie the login form sets for the browser session) and its
// pages as pure functions of the data the daemon reads for the API (GET /v1/journeys, GET
// /v1/customers/{id} and its explain), so that they work alike on a single node and a cluster.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "engine/program.hpp"
#include "runtime/common/config.hpp"
#include "runtime/http/api.hpp"
#include "runtime/http/views.hpp"

namespace journey::runtime {

/// The name of the cookie that holds the token for the browser session (no expiry: it goes when
/// the browser closes; HttpOnly, SameSite=Strict, Path=/ui).
inline constexpr const char* kConsoleCookie = "journey_token";

/// Routes a request whose path is /ui or below: a ShowConsole, or an answer (the login form with
/// 401, 403, 404, 405, the redirects of POST /ui/login and /ui/logout). Nothing when the path is
/// not the console's.
std::optional<std::variant<ShowConsole, HttpResponse>> route_console(const HttpRequest& request,
                                                                     const Config& config);

/// A journey version the daemon can draw: from a deployment it compiled.
struct DeployedVersion {
  std::string journey;
  std::string version;
  engine::Millis deployed_at = 0;                  // when it was first deployed
  std::shared_ptr<const engine::Program> program;  // holds the journey
};

/// The last check of the journeys folder (at start or by a reload).
struct ScriptCheck {
  engine::Millis at = 0;
  std::string trigger;                                    // "start", "api", "SIGHUP"
  bool deployed = false;                                  // false: refused, the running set stayed
  nlohmann::json diagnostics = nlohmann::json::object();  // lint's JSON document
};

/// What the journeys pages read: the versions, their counts, the live deployment.
struct ConsoleJourneys {
  std::vector<DeployedVersion> versions;
  std::vector<engine::JourneyInfo> live;
  std::string deployment;
  VersionCounts counts;  // version_counts() of the same rows as GET /v1/journeys
  std::optional<ScriptCheck> check;
};

/// A page (or its live part) as an HTML answer to `request`, with `status`.
HttpResponse html_response(const HttpRequest& request, boost::beast::http::status status,
                           std::string body);

/// /ui: the journeys, their versions and when each was deployed, their counts, and the lint
/// results of the last check of the scripts.
std::string journeys_page(const ShowConsole& show, const ConsoleJourneys& data);

/// /ui/journeys/NAME: the live version's canvas and goal charts, beside those of older versions
/// with runs still in flight (and of `show.version`). Nothing when the journey is unknown.
std::optional<std::string> journey_page(const ShowConsole& show, const ConsoleJourneys& data);

/// /ui/customers?id=ID: the search form, and the customer's profile, active runs, recent actions
/// (each linked to its step on the canvas) and explain timeline, from the answers of GET
/// /v1/customers/{id} and its explain (status and body; 404 says no such customer).
std::string customer_page(const ShowConsole& show, int customer_status,
                          const nlohmann::json& customer, int explain_status,
                          const nlohmann::json& explain);

/// A page saying what went wrong (`message` is text, not HTML).
std::string problem_page(const ShowConsole& show, const std::string& title,
                         const std::string& message);

}  // namespace journey::runtime
