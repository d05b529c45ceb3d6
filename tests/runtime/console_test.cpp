// The console's routes (authentication as the API's, the sign-in form and its cookie) and its
// pages, as pure functions of the request and of the data the daemon reads: no sockets here (the
// browser tests drive the real daemon).
#include "runtime/http/console.hpp"

#include <catch2/catch.hpp>

#include "engine/counts.hpp"
#include "engine/engine_support.hpp"
#include "runtime/http/api.hpp"

using namespace journey;
using namespace journey::runtime;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr engine::Millis kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

HttpRequest request(http::verb method, const std::string& target,
                    std::vector<std::pair<http::field, std::string>> headers = {},
                    const std::string& body = "") {
  HttpRequest req{method, target, 11};
  for (const auto& [field, value] : headers) req.set(field, value);
  req.body() = body;
  req.prepare_payload();
  return req;
}

HttpResponse answered(const Routed& routed) {
  REQUIRE(std::holds_alternative<HttpResponse>(routed));
  return std::get<HttpResponse>(routed);
}

ShowConsole shown(const Routed& routed) {
  REQUIRE(std::holds_alternative<Intent>(routed));
  const auto& intent = std::get<Intent>(routed);
  REQUIRE(std::holds_alternative<ShowConsole>(intent));
  return std::get<ShowConsole>(intent);
}

Config with_tokens() {
  Config config;
  config.tokens.push_back({"ingest-secret", "ingest", {Scope::Ingest}});
  config.tokens.push_back({"read-secret", "read", {Scope::Read}});
  config.tokens.push_back({"admin-secret", "admin", {Scope::Admin}});
  return config;
}

std::pair<http::field, std::string> bearer(const std::string& token) {
  return {http::field::authorization, "Bearer " + token};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr const char* kWelcome = R"(journey welcome {
  title "Welcome <series>"
  entry on signup
  goal first_order: order_completed within 7d
  hello: send email "welcome-1"
  wait 1d
  bye: send email "bye"
}
)";

constexpr const char* kWelcomeV2 = R"(journey welcome {
  title "Welcome <series>"
  entry on signup
  goal first_order: order_completed within 7d
  hello: send email "welcome-2"
  wait 2d
  bye: send email "bye"
}
)";

/// Two deployed versions of `welcome`: v1 first, v2 live.
ConsoleJourneys two_versions() {
  ConsoleJourneys data;
  const auto v1 = test::build(kWelcome);
  const auto v2 = test::build(kWelcomeV2);
  const auto& j1 = v1->journeys.at(0);
  const auto& j2 = v2->journeys.at(0);
  data.versions.push_back({"welcome", j1.version, kNow, v1});
  data.versions.push_back({"welcome", j2.version, kNow + 3'600'000, v2});
  data.live = engine::journeys_of(*v2);
  data.deployment = "d2";
  auto& live = data.counts[{"welcome", j2.version}];
  live.add("entered", "", 3);
  live.add("visits", "hello", 3);
  live.add("sent_at", "hello", 2);
  live.add("suppressed_at", engine::pair_key("hello", "consent"), 1);
  live.add("moves", engine::pair_key("", "hello"), 3);
  return data;
}

}  // namespace

TEST_CASE("console: routes to its pages, and says what is wrong with a bad address", "[console]") {
  const Config open;
  CHECK(shown(route(request(http::verb::get, "/ui"), open, kNow)).page ==
        ShowConsole::Page::Journeys);
  CHECK(shown(route(request(http::verb::get, "/ui/"), open, kNow)).page ==
        ShowConsole::Page::Journeys);
  const auto journey = shown(route(
      request(http::verb::get, "/ui/journeys/wel%20come?version=ab12&part=live"), open, kNow));
  CHECK(journey.page == ShowConsole::Page::Journey);
  CHECK(journey.journey == "wel come");
  CHECK(journey.version == "ab12");
  CHECK(journey.live_part);
  const auto customer =
      shown(route(request(http::verb::get, "/ui/customers?id=a%2Bb+c"), open, kNow));
  CHECK(customer.page == ShowConsole::Page::Customer);
  CHECK(customer.customer == "a+b c");
  CHECK_FALSE(customer.live_part);
  CHECK_FALSE(customer.signed_in);

  const auto missing = answered(route(request(http::verb::get, "/ui/nope"), open, kNow));
  CHECK(missing.result() == http::status::not_found);
  CHECK(missing[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(answered(route(request(http::verb::get, "/ui/journeys/a/b"), open, kNow)).result() ==
        http::status::not_found);
  CHECK(answered(route(request(http::verb::get, "/ui/journeys/%zz"), open, kNow)).result() ==
        http::status::bad_request);
  const auto bad_query =
      answered(route(request(http::verb::get, "/ui/customers?id=%zz"), open, kNow));
  CHECK(bad_query.result() == http::status::bad_request);
  CHECK(contains(bad_query.body(), "malformed"));
  const auto post = answered(route(request(http::verb::post, "/ui"), open, kNow));
  CHECK(post.result() == http::status::method_not_allowed);
  CHECK(post[http::field::allow] == "GET");
  // Only /ui and below are the console's.
  CHECK(answered(route(request(http::verb::get, "/uix"), open, kNow)).result() ==
        http::status::not_found);
}

TEST_CASE("console: 401 and 403 as the API answers, a token in the header or the cookie",
          "[console]") {
  const Config config = with_tokens();
  const auto nothing = answered(route(request(http::verb::get, "/ui/journeys/w"), config, kNow));
  CHECK(nothing.result() == http::status::unauthorized);
  CHECK(nothing[http::field::www_authenticate] == "Bearer");
  CHECK(contains(nothing.body(), "<form class=\"login card\" method=\"post\""));
  CHECK(contains(nothing.body(), "name=\"next\" value=\"/ui/journeys/w\""));
  // Authentication comes first: an unknown page or a bad address gives nothing away.
  CHECK(answered(route(request(http::verb::get, "/ui/nope"), config, kNow)).result() ==
        http::status::unauthorized);
  CHECK(answered(route(request(http::verb::get, "/ui/journeys/%zz"), config, kNow)).result() ==
        http::status::unauthorized);

  CHECK(answered(route(request(http::verb::get, "/ui", {bearer("nope")}), config, kNow)).result() ==
        http::status::unauthorized);
  CHECK(answered(route(request(http::verb::get, "/ui", {{http::field::authorization, "Basic x"}}),
                       config, kNow))
            .result() == http::status::unauthorized);
  const auto ingest =
      answered(route(request(http::verb::get, "/ui", {bearer("ingest-secret")}), config, kNow));
  CHECK(ingest.result() == http::status::forbidden);
  CHECK(contains(ingest.body(), "lacks the `read` scope"));
  CHECK_FALSE(shown(route(request(http::verb::get, "/ui", {bearer("read-secret")}), config, kNow))
                  .signed_in);
  shown(route(request(http::verb::get, "/ui", {bearer("admin-secret")}), config, kNow));

  // The session's cookie: the same tokens, and the page offers to sign out.
  const auto by_cookie = shown(route(
      request(http::verb::get, "/ui", {{http::field::cookie, "a=b; journey_token=read-secret"}}),
      config, kNow));
  CHECK(by_cookie.signed_in);
  CHECK(answered(route(request(http::verb::get, "/ui",
                               {{http::field::cookie, "journey_token=ingest-secret"}}),
                       config, kNow))
            .result() == http::status::forbidden);
  CHECK(
      answered(route(request(http::verb::get, "/ui", {{http::field::cookie, "journey_token=gone"}}),
                     config, kNow))
          .result() == http::status::unauthorized);
  // The API does not take the console's cookie.
  CHECK(answered(route(request(http::verb::get, "/v1/journeys",
                               {{http::field::cookie, "journey_token=read-secret"}}),
                       config, kNow))
            .result() == http::status::unauthorized);
}

TEST_CASE("console: signing in sets a session cookie, signing out removes it", "[console]") {
  const Config config = with_tokens();
  const auto form = [](const std::string& body) {
    return request(http::verb::post, "/ui/login",
                   {{http::field::content_type, "application/x-www-form-urlencoded"}}, body);
  };
  const auto in =
      answered(route(form("token=read-secret&next=%2Fui%2Fjourneys%2Fw"), config, kNow));
  CHECK(in.result() == http::status::see_other);
  CHECK(in[http::field::location] == "/ui/journeys/w");
  const std::string cookie(in[http::field::set_cookie]);
  CHECK(cookie == "journey_token=read-secret; Path=/ui; HttpOnly; SameSite=Strict");

  // Only console paths are places to go next.
  for (const char* next : {"https%3A%2F%2Fevil.example", "%2F%2Fevil.example", "%2Fv1%2Fjourneys",
                           "%2Fui%2F%2Fevil.example"}) {
    INFO(next);
    const auto redirected =
        answered(route(form(std::string("token=read-secret&next=") + next), config, kNow));
    CHECK(redirected[http::field::location] == "/ui");
  }
  const auto wrong = answered(route(form("token=nope&next=%2Fui"), config, kNow));
  CHECK(wrong.result() == http::status::unauthorized);
  CHECK(wrong[http::field::set_cookie].empty());
  CHECK(contains(wrong.body(), "not known"));
  const auto ingest = answered(route(form("token=ingest-secret"), config, kNow));
  CHECK(ingest.result() == http::status::forbidden);
  CHECK(ingest[http::field::set_cookie].empty());
  CHECK(answered(route(request(http::verb::get, "/ui/login?next=%2Fui%2Fcustomers"), config, kNow))
            .result() == http::status::ok);
  CHECK(answered(route(request(http::verb::put, "/ui/login"), config, kNow)).result() ==
        http::status::method_not_allowed);

  const auto out = answered(route(request(http::verb::post, "/ui/logout"), config, kNow));
  CHECK(out.result() == http::status::see_other);
  CHECK(out[http::field::location] == "/ui/login");
  CHECK(contains(std::string(out[http::field::set_cookie]), "journey_token=; Path=/ui"));
  CHECK(contains(std::string(out[http::field::set_cookie]), "Max-Age=0"));
  CHECK(answered(route(request(http::verb::get, "/ui/logout"), config, kNow)).result() ==
        http::status::method_not_allowed);
}

TEST_CASE("console: the journeys page lists versions, counts and the last check", "[console]") {
  auto data = two_versions();
  data.check = ScriptCheck{kNow, "SIGHUP", false,
                           json{{"errors", 1},
                                {"warnings", 0},
                                {"diagnostics", json::array({{{"file", "w.journey"},
                                                              {"line", 3},
                                                              {"column", 7},
                                                              {"severity", "error"},
                                                              {"code", "E101"},
                                                              {"message", "unknown <thing>"}}})}}};
  const ShowConsole show;
  const auto page = journeys_page(show, data);
  CHECK(page == journeys_page(show, data));  // the same data, the same bytes
  CHECK(contains(page, "<title>Journeys - journey</title>"));
  CHECK(contains(page, "<span class=\"badge\">live</span>"));
  CHECK(contains(page, "2026-01-01 01:00:00 UTC"));
  CHECK(contains(page, "w.journey:3:7: error[E101]: unknown &lt;thing&gt;"));
  CHECK(contains(page, "reload by SIGHUP"));
  CHECK(contains(page, "refused"));
  CHECK(contains(page, "data-live=\"/ui?part=live\""));
  CHECK(contains(page, "<script>"));
  // v1: no one entered it, no one is in it: history, not listed.
  CHECK_FALSE(contains(page, data.versions[0].version.substr(0, 8)));

  ShowConsole live_part;
  live_part.live_part = true;
  const auto part = journeys_page(live_part, data);
  CHECK(part.rfind("<table class=\"journeys\">", 0) == 0);
  CHECK_FALSE(contains(part, "<html"));
}

TEST_CASE("console: a journey's page draws the live version beside older ones still in use",
          "[console]") {
  auto data = two_versions();
  ShowConsole show;
  show.page = ShowConsole::Page::Journey;
  show.journey = "welcome";
  const auto only_live = journey_page(show, data);
  REQUIRE(only_live);
  CHECK(contains(*only_live, "Welcome &lt;series&gt;"));
  CHECK(contains(*only_live, "3 entered"));
  CHECK(contains(*only_live, "consent 1"));
  CHECK_FALSE(contains(*only_live, "older version"));
  CHECK(*only_live == *journey_page(show, data));

  // Runs of v1 still in flight: drawn beside the live one.
  const auto& v1 = data.versions[0].version;
  data.counts[{"welcome", v1}].add_waiting("2", 2);
  const auto both = journey_page(show, data);
  REQUIRE(both);
  CHECK(contains(*both, "older version, 2 still in it"));
  CHECK(contains(*both, "id=\"v" + v1 + "\""));
  CHECK(contains(*both, "2 waiting now"));

  // Any other version on request.
  data.counts.erase({"welcome", v1});
  show.version = v1;
  CHECK(contains(*journey_page(show, data), "id=\"v" + v1 + "\""));

  show.journey = "nope";
  CHECK_FALSE(journey_page(show, data));
}

TEST_CASE("console: a customer's page, everything the customer sent escaped", "[console]") {
  ShowConsole show;
  show.page = ShowConsole::Page::Customer;
  show.customer = "<img src=x onerror=alert(1)>";
  const json customer = {{"customer",
                          {{"profile", {{"name", "<b>Ann</b>"}, {"consent", {{"email", true}}}}},
                           {"runs", json::array({{{"journey", "welcome"},
                                                  {"version", "abc123"},
                                                  {"step", "L6:3"},
                                                  {"step_name", "wait 1d after <hello>"},
                                                  {"state", "waiting"},
                                                  {"entered_at", "2026-01-01T00:00:00Z"}}})}}},
                         {"recent_actions", json::array({{{"journey", "welcome"},
                                                          {"step", "hello"},
                                                          {"channel", "email"},
                                                          {"template", "welcome-\"1\""},
                                                          {"status", "suppressed"},
                                                          {"reason", "consent"},
                                                          {"at", "2026-01-01T00:00:00Z"}}})}};
  const json explain = {{"kept_lines", 50},
                        {"trace", json::array({{{"at", "2026-01-01T00:00:00Z"},
                                                {"journey", "welcome"},
                                                {"message", "event <signup> received"}}})}};
  const auto page = customer_page(show, 200, customer, 200, explain);
  CHECK(page == customer_page(show, 200, customer, 200, explain));
  CHECK_FALSE(contains(page, "<img"));
  CHECK_FALSE(contains(page, "<b>Ann"));
  CHECK(contains(page, "&lt;img src=x onerror=alert(1)&gt;"));
  CHECK(contains(page, "&lt;b&gt;Ann&lt;/b&gt;"));
  CHECK(contains(page, "welcome-&quot;1&quot;"));
  CHECK(contains(page, "suppressed: consent"));
  CHECK(contains(page, "event &lt;signup&gt; received"));
  // Each run and action links to its step on the canvas of the run's version.
  CHECK(contains(page, "href=\"/ui/journeys/welcome?version=abc123#vabc123-step-hello\""));
  CHECK(contains(page, "href=\"/ui/journeys/welcome?version=abc123#vabc123-step-L6.3A3\""));
  // A run's step shown by its name (what it does and where), linked by its id.
  CHECK(contains(page, "welcome \u203a wait 1d after &lt;hello&gt;</a>"));
  CHECK(contains(page,
                 "/ui/customers?id=%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E&amp;part=live"));

  CHECK(contains(customer_page(show, 404, {{"error", "no such customer"}}, 404, {}),
                 "No customer &lt;img"));
  CHECK(contains(customer_page(show, 503, {{"error", "owner <down>"}}, 503, {}),
                 "could not be read: owner &lt;down&gt;"));
  show.customer.clear();
  CHECK(contains(customer_page(show, 0, {}, 0, {}), "<form class=\"search card\""));
}
