#include "runtime/http/console.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string_view>

#include "engine/time.hpp"
#include "runtime/canvas/page.hpp"
#include "runtime/canvas/steps.hpp"
#include "runtime/canvas/svg.hpp"
#include "runtime/canvas/text.hpp"

namespace journey::runtime {
namespace {

namespace http = boost::beast::http;
using canvas::count_text;
using canvas::html_escape;
using nlohmann::json;

/// The value of `name` in a query string or form body (`a=1&b=2`, `+` for a space), decoded;
/// nothing when absent or malformed.
std::optional<std::string> form_value(std::string_view text, std::string_view name) {
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string value(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    std::replace(value.begin(), value.end(), '+', ' ');
    return percent_decode(value);
  }
  return std::nullopt;
}

/// Whether every value of a query string decodes (no stray `%`, no `%zz`).
bool well_formed_query(std::string_view text) {
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (!percent_decode(pair)) return false;
  }
  return true;
}

/// The cookie `name` of the request, percent-decoded.
std::optional<std::string> cookie(const HttpRequest& request, std::string_view name) {
  const auto header = request[http::field::cookie];
  std::string_view rest(header.data(), header.size());
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    auto part = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos || part.substr(0, eq) != name) continue;
    return percent_decode(part.substr(eq + 1));
  }
  return std::nullopt;
}

/// Every byte but letters, digits and `-._~` as %XX (a cookie value, a URL path segment).
std::string percent_encode(std::string_view text) {
  return canvas::hex_escape(text, '%', "-._~");
}

/// Where to go after signing in: a console path, or the console's first page.
std::string safe_next(const std::optional<std::string>& next) {
  if (!next || next->rfind("/ui", 0) != 0 || next->find("//") != std::string::npos ||
      next->find_first_of("\\\r\n") != std::string::npos) {
    return "/ui";
  }
  return *next;
}

std::string nav(bool signed_in) {
  std::string out =
      "<nav><a href=\"/ui\">Journeys</a><a href=\"/ui/customers\">Customers</a></nav>";
  if (signed_in) {
    out +=
        "<form method=\"post\" action=\"/ui/logout\"><button class=\"link\" type=\"submit\">"
        "Sign out</button></form>";
  }
  return out;
}

std::string time_text(engine::Millis at) {
  if (at <= 0) return "-";
  auto text = engine::format_timestamp(at);  // 2026-01-31T09:00:00.000Z
  if (text.size() >= 19) text = text.substr(0, 10) + " " + text.substr(11, 8) + " UTC";
  return text;
}

std::string short_version(const std::string& version) {
  return version.substr(0, 8);
}

std::string journey_link(const std::string& journey, const std::string& version = {},
                         const std::string& step = {}) {
  std::string url = "/ui/journeys/" + percent_encode(journey);
  if (!version.empty()) url += "?version=" + percent_encode(version);
  if (!step.empty()) url += "#v" + version + "-" + canvas::step_anchor(step);
  return url;
}

HttpResponse page_response(const HttpRequest& request, http::status status,
                           const std::string& title, const std::string& body, bool signed_in) {
  return html_response(request, status, canvas::page({title, nav(signed_in), false}, body));
}

/// The sign-in form (with 401 or 403): the token goes into a cookie of this browser session.
HttpResponse login_response(const HttpRequest& request, http::status status,
                            const std::string& message, const std::string& next) {
  std::string body = "<h1>Sign in to the journey console</h1>";
  if (!message.empty()) body += "<p class=\"error\">" + html_escape(message) + "</p>";
  body +=
      "<form class=\"login card\" method=\"post\" action=\"/ui/login\">"
      "<p>Paste a token of the daemon's configuration with the <b>read</b> scope. It is kept "
      "in a cookie of this browser session only.</p>"
      "<p><input type=\"password\" name=\"token\" autocomplete=\"off\" autofocus "
      "aria-label=\"Token\" required> <button type=\"submit\">Sign in</button></p>"
      "<input type=\"hidden\" name=\"next\" value=\"" +
      html_escape(next) + "\"></form>";
  auto response = page_response(request, status, "Sign in - journey", body, false);
  if (status == http::status::unauthorized) response.set(http::field::www_authenticate, "Bearer");
  return response;
}

HttpResponse redirect(const HttpRequest& request, const std::string& to,
                      const std::string& set_cookie) {
  HttpResponse response{http::status::see_other, request.version()};
  response.set(http::field::server, "journey");
  response.set(http::field::location, to);
  response.set(http::field::set_cookie, set_cookie);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

std::string cookie_attributes() {
  return "; Path=/ui; HttpOnly; SameSite=Strict";
}

std::variant<ShowConsole, HttpResponse> sign_in(const HttpRequest& request, const Config& config,
                                                const std::string& target) {
  if (request.method() == http::verb::get) {
    const auto query = target.find('?');
    const auto next =
        query == std::string::npos ? std::nullopt : form_value(target.substr(query + 1), "next");
    return login_response(request, http::status::ok, "", safe_next(next));
  }
  if (request.method() != http::verb::post) {
    auto response = error_response(request, http::status::method_not_allowed,
                                   "method not allowed; use GET, POST");
    response.set(http::field::allow, "GET, POST");
    return response;
  }
  if (request.body().size() > config.limits.body_bytes) {
    return error_response(request, http::status::payload_too_large, "body too large");
  }
  const auto next = safe_next(form_value(request.body(), "next"));
  if (config.tokens.empty())
    return redirect(request, next,
                    std::string(kConsoleCookie) + "=" + cookie_attributes() + "; Max-Age=0");
  const auto given = form_value(request.body(), "token").value_or("");
  const Token* token = find_token(config, given);
  if (token == nullptr) {
    return login_response(request, http::status::unauthorized, "That token is not known.", next);
  }
  if (!has_scope(*token, Scope::Read)) {
    return login_response(request, http::status::forbidden,
                          "That token lacks the `read` scope the console needs.", next);
  }
  return redirect(request, next,
                  std::string(kConsoleCookie) + "=" + percent_encode(given) + cookie_attributes());
}

}  // namespace

HttpResponse html_response(const HttpRequest& request, http::status status, std::string body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "journey");
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy",
               "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::optional<std::variant<ShowConsole, HttpResponse>> route_console(const HttpRequest& request,
                                                                     const Config& config) {
  const std::string target(request.target());
  const auto query_at = target.find('?');
  const std::string path = target.substr(0, query_at);
  const std::string query = query_at == std::string::npos ? "" : target.substr(query_at + 1);
  if (path != "/ui" && path.rfind("/ui/", 0) != 0) return std::nullopt;
  if (path == "/ui/login") return sign_in(request, config, target);
  if (path == "/ui/logout") {
    if (request.method() != http::verb::post) {
      auto response =
          error_response(request, http::status::method_not_allowed, "method not allowed; use POST");
      response.set(http::field::allow, "POST");
      return response;
    }
    return redirect(request, "/ui/login",
                    std::string(kConsoleCookie) + "=" + cookie_attributes() + "; Max-Age=0");
  }
  ShowConsole show;
  if (!config.tokens.empty()) {
    // The API's token in the header (tools), else the session's cookie (the browser).
    std::optional<std::string> given;
    const auto header = request[http::field::authorization];
    constexpr std::string_view kBearer = "Bearer ";
    if (!header.empty()) {
      std::string_view value(header.data(), header.size());
      if (value.size() > kBearer.size() &&
          std::equal(kBearer.begin(), kBearer.end(), value.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        given = std::string(value.substr(kBearer.size()));
      } else {
        given = std::string();
      }
    } else if (auto from_cookie = cookie(request, kConsoleCookie)) {
      given = std::move(from_cookie);
      show.signed_in = true;
    }
    if (!given) return login_response(request, http::status::unauthorized, "", safe_next(target));
    const Token* token = find_token(config, *given);
    if (token == nullptr) {
      return login_response(request, http::status::unauthorized,
                            "The token of this session is not known (any more).",
                            safe_next(target));
    }
    if (!has_scope(*token, Scope::Read)) {
      return login_response(request, http::status::forbidden,
                            "This token lacks the `read` scope the console needs.",
                            safe_next(target));
    }
  }
  if (request.method() != http::verb::get) {
    auto response =
        error_response(request, http::status::method_not_allowed, "method not allowed; use GET");
    response.set(http::field::allow, "GET");
    return response;
  }
  if (!well_formed_query(query)) {
    return page_response(request, http::status::bad_request, "Bad address",
                         "<h1>Bad address</h1><p>The address holds a malformed %-escape after "
                         "its <code>?</code>.</p>",
                         show.signed_in);
  }
  show.live_part = form_value(query, "part").value_or("") == "live";
  constexpr std::string_view kJourneys = "/ui/journeys/";
  if (path == "/ui" || path == "/ui/") {
    show.page = ShowConsole::Page::Journeys;
  } else if (path.rfind(kJourneys, 0) == 0 && path.size() > kJourneys.size() &&
             path.find('/', kJourneys.size()) == std::string::npos) {
    auto name = percent_decode(path.substr(kJourneys.size()));
    if (!name || name->empty()) {
      return page_response(
          request, http::status::bad_request, "Bad address",
          "<h1>Bad address</h1><p>The journey name in the address is malformed.</p>",
          show.signed_in);
    }
    show.page = ShowConsole::Page::Journey;
    show.journey = std::move(*name);
    show.version = form_value(query, "version").value_or("");
  } else if (path == "/ui/customers") {
    show.page = ShowConsole::Page::Customer;
    show.customer = form_value(query, "id").value_or("");
  } else {
    return page_response(request, http::status::not_found, "Not found",
                         "<h1>Not found</h1><p>No page at " + html_escape(path) +
                             ". <a href=\"/ui\">See the journeys</a>.</p>",
                         show.signed_in);
  }
  return show;
}

namespace {

/// The versions of one journey to list or draw, newest deployment first.
std::vector<const DeployedVersion*> versions_of(const ConsoleJourneys& data,
                                                const std::string& journey) {
  std::vector<const DeployedVersion*> out;
  for (const auto& v : data.versions) {
    if (v.journey == journey) out.push_back(&v);
  }
  std::stable_sort(out.begin(), out.end(), [](const DeployedVersion* a, const DeployedVersion* b) {
    return a->deployed_at > b->deployed_at;
  });
  return out;
}

bool is_live(const ConsoleJourneys& data, const std::string& journey, const std::string& version) {
  return std::any_of(data.live.begin(), data.live.end(), [&](const engine::JourneyInfo& info) {
    return info.name == journey && info.version == version;
  });
}

const engine::JourneyCounts& counts_of(const ConsoleJourneys& data, const std::string& journey,
                                       const std::string& version) {
  static const engine::JourneyCounts none;
  const auto it = data.counts.find({journey, version});
  return it == data.counts.end() ? none : it->second;
}

std::string status_badge(const ConsoleJourneys& data, const std::string& journey,
                         const std::string& version) {
  if (is_live(data, journey, version)) return "<span class=\"badge\">live</span>";
  const auto active = counts_of(data, journey, version).active;
  if (active > 0) {
    return "<span class=\"badge old\">older version, " + count_text(active) + " still in it</span>";
  }
  return "<span class=\"badge old\">older version</span>";
}

std::string journeys_table(const ConsoleJourneys& data) {
  std::set<std::string> names;
  for (const auto& v : data.versions) names.insert(v.journey);
  for (const auto& [key, counts] : data.counts) names.insert(key.first);
  std::string out =
      "<table class=\"journeys\"><thead><tr><th>Journey</th><th>Version</th><th>Deployed</th>"
      "<th class=\"n\">In the journey now</th><th class=\"n\">Entered</th><th class=\"n\">Left"
      "</th><th class=\"n\">Sent</th><th class=\"n\">Suppressed</th><th class=\"n\">Goals "
      "reached</th></tr></thead><tbody>";
  if (names.empty())
    out += "<tr><td colspan=\"9\" class=\"muted\">No journey is deployed.</td></tr>";
  for (const auto& name : names) {
    std::vector<std::pair<std::string, engine::Millis>> versions;
    for (const auto* v : versions_of(data, name)) versions.emplace_back(v->version, v->deployed_at);
    for (const auto& counted : data.counts) {
      const auto& [journey, version] = counted.first;
      const std::string& wanted = version;
      if (journey == name && std::none_of(versions.begin(), versions.end(),
                                          [&wanted](const auto& v) { return v.first == wanted; })) {
        versions.emplace_back(version, 0);
      }
    }
    bool first = true;
    for (const auto& [version, deployed_at] : versions) {
      const auto& c = counts_of(data, name, version);
      // Versions no one is in and no one entered are history: listed only while they are live.
      if (!is_live(data, name, version) && c.active == 0 && c.entered == 0) continue;
      std::int64_t suppressed = 0;
      for (const auto& [reason, n] : c.suppressions) suppressed += n;
      std::int64_t goals = 0;
      for (const auto& [goal, n] : c.goals) goals += n;
      out += "<tr data-journey=\"" + html_escape(name) + "\" data-version=\"" +
             html_escape(version) + "\"><td>" +
             (first ? "<a href=\"" + html_escape(journey_link(name)) + "\"><b>" +
                          html_escape(name) + "</b></a>"
                    : "") +
             "</td><td><a href=\"" + html_escape(journey_link(name, version)) + "\"><code>" +
             html_escape(short_version(version)) + "</code></a> " +
             status_badge(data, name, version) + "</td><td>" + time_text(deployed_at) +
             "</td><td class=\"n active\">" + count_text(c.active) + "</td><td class=\"n\">" +
             count_text(c.entered) + "</td><td class=\"n\">" + count_text(c.exited()) +
             "</td><td class=\"n\">" + count_text(c.sends) + "</td><td class=\"n\">" +
             count_text(suppressed) + "</td><td class=\"n\">" + count_text(goals) + "</td></tr>";
      first = false;
    }
  }
  return out + "</tbody></table>";
}

std::string check_section(const std::optional<ScriptCheck>& check) {
  std::string out = "<h2>Last check of the journey scripts</h2><div class=\"card check\">";
  if (!check) return out + "<p class=\"muted\">No check since the daemon started.</p></div>";
  const auto& d = check->diagnostics;
  const auto errors = d.value("errors", 0);
  const auto warnings = d.value("warnings", 0);
  out += "<p>" + time_text(check->at) + " (" +
         html_escape(check->trigger == "start" ? "at start" : "reload by " + check->trigger) +
         "): " +
         (check->deployed ? "<span class=\"badge\">deployed</span>"
                          : "<span class=\"badge bad\">refused: the running journeys stay</span>") +
         " " + std::to_string(errors) + (errors == 1 ? " error, " : " errors, ") +
         std::to_string(warnings) + (warnings == 1 ? " warning" : " warnings") + "</p>";
  if (const auto list = d.find("diagnostics"); list != d.end() && list->is_array()) {
    for (const auto& item : *list) {
      std::string where = item.value("file", std::string());
      if (item.contains("line") && item["line"].is_number()) {
        where += ":" + item["line"].dump();
        if (item.contains("column") && item["column"].is_number()) {
          where += ":" + item["column"].dump();
        }
      }
      const auto severity = item.value("severity", std::string());
      out += "<p class=\"diagnostic " + html_escape(severity) + "\">" + html_escape(where) + ": " +
             html_escape(severity) + "[" + html_escape(item.value("code", std::string())) +
             "]: " + html_escape(item.value("message", std::string())) + "</p>";
    }
  }
  return out + "</div>";
}

std::string live_region(const std::string& url, const std::string& inner) {
  return "<div data-live=\"" + html_escape(url) + "\">" + inner +
         "</div><p class=\"live-note\">Counts refresh every few seconds.</p>";
}

std::string full_page(const ShowConsole& show, const std::string& title, const std::string& body) {
  return canvas::page({title, nav(show.signed_in), true}, body);
}

}  // namespace

std::string problem_page(const ShowConsole& show, const std::string& title,
                         const std::string& message) {
  return canvas::page({title + " - journey", nav(show.signed_in), false},
                      "<h1>" + html_escape(title) + "</h1><p class=\"error\">" +
                          html_escape(message) + "</p><p><a href=\"/ui\">See the journeys</a></p>");
}

std::string journeys_page(const ShowConsole& show, const ConsoleJourneys& data) {
  std::string live = journeys_table(data);
  if (show.live_part) return live;
  const std::string body =
      "<h1>Journeys</h1><p class=\"meta\">Deployment <code>" + html_escape(data.deployment) +
      "</code>. Each journey's live version, and older versions while customers are still in "
      "them.</p>" +
      live_region("/ui?part=live", live) + check_section(data.check);
  return full_page(show, "Journeys - journey", body);
}

std::optional<std::string> journey_page(const ShowConsole& show, const ConsoleJourneys& data) {
  const auto versions = versions_of(data, show.journey);
  if (versions.empty()) return std::nullopt;
  std::string panels;
  const engine::Journey* shown = nullptr;
  for (const auto* v : versions) {
    const auto& counts = counts_of(data, v->journey, v->version);
    const bool live = is_live(data, v->journey, v->version);
    if (!live && counts.active == 0 && v->version != show.version) continue;
    const engine::Journey* journey = v->program->find_journey(v->journey);
    if (journey == nullptr) continue;
    if (shown == nullptr || live) shown = journey;
    canvas::PanelOptions panel;
    panel.id_prefix = "v" + v->version + "-";
    panel.heading = "<h2 id=\"v" + html_escape(v->version) + "\">Version <code>" +
                    html_escape(short_version(v->version)) + "</code> " +
                    status_badge(data, v->journey, v->version) +
                    "</h2><p class=\"meta\">Deployed " + time_text(v->deployed_at) + " \u00b7 " +
                    html_escape(journey->source_path) + "</p>";
    panels += canvas::journey_panel(*journey, counts, panel);
  }
  std::string live = "<div class=\"versions\">" + panels + "</div>";
  if (show.live_part) return live;
  std::string url = journey_link(show.journey, show.version);
  url += (show.version.empty() ? "?" : "&") + std::string("part=live");
  std::string body = "<h1>" + html_escape(show.journey);
  if (shown != nullptr && !shown->title.empty()) {
    body += " <span class=\"muted\">" + html_escape(shown->title) + "</span>";
  }
  body +=
      "</h1><p class=\"meta\">Each box is a step: how many customers are waiting there now, "
      "how many went through it, what it sent. The number on each arrow is how many "
      "customers moved along it. <a href=\"/ui\">All journeys</a></p>" +
      live_region(url, live);
  return full_page(show, show.journey + " - journey", body);
}

namespace {

std::string value_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string string_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// The version a customer's step in `journey` belongs to: the active run's, else the latest
/// entry's (the customer's history), else unknown.
std::string version_for(const json& customer, const std::string& journey) {
  if (const auto runs = customer.find("runs"); runs != customer.end() && runs->is_array()) {
    for (const auto& run : *runs) {
      if (string_of(run, "journey") == journey) return string_of(run, "version");
    }
  }
  if (const auto journeys = customer.find("journeys");
      journeys != customer.end() && journeys->is_object() && journeys->contains(journey)) {
    return string_of((*journeys)[journey], "version");
  }
  return "";
}

/// A link to the step on the journey's canvas, shown as `name` (the step's id when empty).
std::string step_link(const json& customer, const std::string& journey, const std::string& step,
                      const std::string& name = "") {
  const auto& shown = name.empty() ? step : name;
  if (journey.empty()) return html_escape(shown);
  const auto version = version_for(customer, journey);
  return "<a class=\"step-link\" href=\"" + html_escape(journey_link(journey, version, step)) +
         "\">" + html_escape(step.empty() ? journey : journey + " \u203a " + shown) + "</a>";
}

std::string customer_details(const ShowConsole& show, const json& body, const json& explain,
                             int explain_status) {
  const json& customer = body.contains("customer") ? body["customer"] : json::object();
  std::string out = "<h2>Profile</h2><table class=\"profile\"><tbody>";
  if (const auto profile = customer.find("profile");
      profile != customer.end() && profile->is_object() && !profile->empty()) {
    for (const auto& [key, value] : profile->items()) {
      out += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(value_text(value)) +
             "</td></tr>";
    }
  } else {
    out += "<tr><td class=\"muted\">No profile traits.</td></tr>";
  }
  out += "</tbody></table>";

  out +=
      "<h2>Active runs</h2><table class=\"runs\"><thead><tr><th>Journey</th><th>Step</th>"
      "<th>State</th><th>Next wake-up</th><th>Variant</th><th>Entered</th></tr></thead><tbody>";
  const auto runs = customer.find("runs");
  if (runs == customer.end() || !runs->is_array() || runs->empty()) {
    out += "<tr><td colspan=\"6\" class=\"muted\">In no journey now.</td></tr>";
  } else {
    for (const auto& run : *runs) {
      const auto journey = string_of(run, "journey");
      out += "<tr><td>" + html_escape(journey) + "</td><td>" +
             step_link(customer, journey, string_of(run, "step"), string_of(run, "step_name")) +
             "</td><td>" + html_escape(string_of(run, "state")) + "</td><td>" +
             html_escape(string_of(run, "next_wakeup")) + "</td><td>" +
             html_escape(string_of(run, "variant")) + "</td><td>" +
             html_escape(string_of(run, "entered_at")) + "</td></tr>";
    }
  }
  out += "</tbody></table>";

  out +=
      "<h2>Recent actions</h2><table class=\"actions\"><thead><tr><th>At</th><th>Step</th>"
      "<th>Message</th><th>Result</th><th>Delivery</th></tr></thead><tbody>";
  const auto actions = body.find("recent_actions");
  if (actions == body.end() || !actions->is_array() || actions->empty()) {
    out += "<tr><td colspan=\"5\" class=\"muted\">No actions.</td></tr>";
  } else {
    for (const auto& action : *actions) {
      const auto status = string_of(action, "status");
      const auto reason = string_of(action, "reason");
      std::string delivery;
      if (const auto d = action.find("delivery"); d != action.end() && d->is_object()) {
        delivery = string_of(*d, "status");
        const auto error = string_of(*d, "last_error");
        if (!error.empty()) delivery += " (" + error + ")";
      }
      out += "<tr><td>" + html_escape(string_of(action, "at")) + "</td><td>" +
             step_link(customer, string_of(action, "journey"), string_of(action, "step")) +
             "</td><td>" + html_escape(string_of(action, "channel")) + " \u201c" +
             html_escape(string_of(action, "template")) + "\u201d</td><td>" +
             html_escape(status == "suppressed" ? "suppressed: " + reason : status) + "</td><td>" +
             html_escape(delivery) + "</td></tr>";
    }
  }
  out += "</tbody></table>";

  out += "<h2>Timeline</h2><p class=\"meta\">What the engine considered for " +
         html_escape(show.customer) + ", and why (the newest " +
         html_escape(value_text(explain.value("kept_lines", json(0)))) +
         " lines kept).</p><table class=\"timeline\"><thead><tr><th>At</th><th>Journey</th>"
         "<th>What happened</th></tr></thead><tbody>";
  const auto trace = explain.find("trace");
  if (explain_status != 200 || trace == explain.end() || !trace->is_array() || trace->empty()) {
    out += "<tr><td colspan=\"3\" class=\"muted\">" +
           html_escape(explain_status == 200 ? "No lines kept."
                                             : "Not available: " + string_of(explain, "error")) +
           "</td></tr>";
  } else {
    for (const auto& line : *trace) {
      out += "<tr><td>" + html_escape(string_of(line, "at")) + "</td><td>" +
             html_escape(string_of(line, "journey")) + "</td><td>" +
             html_escape(string_of(line, "message")) + "</td></tr>";
    }
  }
  return out + "</tbody></table>";
}

}  // namespace

std::string customer_page(const ShowConsole& show, int customer_status, const json& customer,
                          int explain_status, const json& explain) {
  std::string inner;
  if (show.customer.empty()) {
    inner = "";
  } else if (customer_status == 404) {
    inner = "<p class=\"error\">No customer " + html_escape(show.customer) + ".</p>";
  } else if (customer_status != 200) {
    inner = "<p class=\"error\">The customer could not be read: " +
            html_escape(string_of(customer, "error")) + "</p>";
  } else {
    inner = customer_details(show, customer, explain, explain_status);
  }
  if (show.live_part) return inner;
  std::string body =
      "<h1>Customers</h1><form class=\"search card\" method=\"get\" action=\"/ui/customers\">"
      "<label>Customer id <input type=\"text\" name=\"id\" value=\"" +
      html_escape(show.customer) +
      "\" required></label> <button type=\"submit\">Look up"
      "</button></form>";
  if (show.customer.empty()) {
    body += "<p class=\"muted\">The id is the <code>userId</code> the events carry.</p>";
  } else {
    body += "<h2 class=\"customer-id\">" + html_escape(show.customer) + "</h2>" +
            live_region("/ui/customers?id=" + percent_encode(show.customer) + "&part=live", inner);
  }
  return full_page(show, (show.customer.empty() ? "Customers" : show.customer) + " - journey",
                   body);
}

}  // namespace journey::runtime
