// The request router is a pure function: routes, auth and validation without sockets.
#include "runtime/http/api.hpp"

#include <catch2/catch.hpp>

using namespace journey::runtime;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr journey::engine::Millis kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

HttpRequest request(http::verb method, const std::string& target, const std::string& body = "",
                    const std::string& token = "") {
  HttpRequest req{method, target, 11};
  req.body() = body;
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.prepare_payload();
  return req;
}

/// The answer, which must be immediate.
HttpResponse answered(const Routed& routed) {
  REQUIRE(std::holds_alternative<HttpResponse>(routed));
  return std::get<HttpResponse>(routed);
}

json body(const HttpResponse& response) {
  return json::parse(response.body());
}

template <typename T>
const T& intent(const Routed& routed) {
  REQUIRE(std::holds_alternative<Intent>(routed));
  const auto& i = std::get<Intent>(routed);
  REQUIRE(std::holds_alternative<T>(i));
  return std::get<T>(i);
}

}  // namespace

TEST_CASE("api: routes", "[api]") {
  Config config;
  CHECK(std::holds_alternative<CheckHealth>(
      std::get<Intent>(route(request(http::verb::get, "/healthz"), config, kNow))));
  intent<ReadMetrics>(route(request(http::verb::get, "/metrics"), config, kNow));
  intent<ListJourneys>(route(request(http::verb::get, "/v1/journeys"), config, kNow));
  intent<ReloadJourneys>(route(request(http::verb::post, "/v1/journeys/reload"), config, kNow));
  CHECK(
      intent<LintScript>(route(request(http::verb::post, "/v1/lint", "journey x {}"), config, kNow))
          .text == "journey x {}");
  CHECK(intent<GetCustomer>(route(request(http::verb::get, "/v1/customers/a%20b"), config, kNow))
            .id == "a b");
  CHECK(intent<ExplainCustomer>(
            route(request(http::verb::get, "/v1/customers/c1/explain"), config, kNow))
            .id == "c1");
  CHECK(intent<EraseCustomer>(route(request(http::verb::delete_, "/v1/customers/c1"), config, kNow))
            .id == "c1");
  CHECK(answered(route(request(http::verb::get, "/v1/nope"), config, kNow)).result() ==
        http::status::not_found);
  CHECK(answered(route(request(http::verb::get, "/v1/customers/a/b"), config, kNow)).result() ==
        http::status::not_found);
  CHECK(answered(route(request(http::verb::get, "/v1/customers/%zz"), config, kNow)).result() ==
        http::status::bad_request);
  auto wrong = answered(route(request(http::verb::get, "/v1/track"), config, kNow));
  CHECK(wrong.result() == http::status::method_not_allowed);
  CHECK(wrong[http::field::allow] == "POST");
  CHECK(answered(route(request(http::verb::put, "/v1/customers/c1"), config, kNow)).result() ==
        http::status::method_not_allowed);
}

TEST_CASE("api: ingest validation names the JSON path", "[api]") {
  Config config;
  config.limits.batch_items = 3;
  auto track = [&](const std::string& text) {
    return route(request(http::verb::post, "/v1/track", text), config, kNow);
  };

  auto routed = track(R"({"event":"signup","userId":"c1","messageId":"m","extra":{"x":1}})");
  const auto& ingest = intent<Ingest>(routed);
  REQUIRE(ingest.items.size() == 1);
  CHECK(ingest.items[0].event.name == "signup");
  CHECK(ingest.items[0].event.customer_id == "c1");
  CHECK(ingest.items[0].event.at == kNow);  // no timestamp: stamped on arrival
  CHECK(json::parse(ingest.items[0].raw)["type"] == "track");

  auto malformed = answered(track("{\"event\":"));
  CHECK(malformed.result() == http::status::bad_request);
  CHECK(body(malformed)["path"] == "$");
  CHECK(body(answered(track("[1]")))["path"] == "$");
  CHECK(body(answered(track(R"({"event":"e","userId":"c","timestamp":"yesterday"})")))["path"] ==
        "$.timestamp");
  CHECK(body(answered(track(R"({"event":"e","userId":""})")))["path"] == "$.userId");
  CHECK(body(answered(track(R"({"type":"identify","userId":"c"})")))["path"] == "$.type");
  CHECK(answered(track("{\"event\":\"\xc3\x28\",\"userId\":\"c\"}")).result() ==
        http::status::bad_request);

  auto identify =
      route(request(http::verb::post, "/v1/identify", R"({"userId":"c1","traits":{"plan":"pro"}})"),
            config, kNow);
  CHECK(intent<Ingest>(identify).items.at(0).event.type == journey::engine::Event::Type::Identify);

  auto batch = [&](const std::string& text) {
    return route(request(http::verb::post, "/v1/batch", text), config, kNow);
  };
  CHECK(
      intent<Ingest>(
          batch(
              R"({"batch":[{"type":"track","event":"a","userId":"c"},{"type":"identify","userId":"c"}]})"))
          .items.size() == 2);
  CHECK(body(answered(batch(R"({"batch":{}})")))["path"] == "$.batch");
  CHECK(
      body(answered(batch(
          R"({"batch":[{"type":"track","event":"a","userId":"c"},{"type":"screen","userId":"c"}]})")))
          ["path"] == "$.batch[1].type");
  CHECK(
      body(answered(batch(
          R"({"batch":[{"type":"track","event":"a","userId":"c"},{"type":"track","event":"a","userId":"c","timestamp":3}]})")))
          ["path"] == "$.batch[1].timestamp");
  auto too_many = answered(batch(R"({"batch":[{},{},{},{}]})"));
  CHECK(too_many.result() == http::status::payload_too_large);

  // Batch items are stored as received: their own text, nested values and strings included.
  auto kept = batch(
      R"( { "context" : {"batch":[1]}, "batch" : [ {"type":"track", "event":"a]}", "userId":"c\"1"} ,
    {"type":"identify","userId":"c","traits":{"a":[1,{"b":"}"}]}} ] } )");
  const auto& items = intent<Ingest>(kept).items;
  REQUIRE(items.size() == 2);
  CHECK(items[0].raw == R"({"type":"track", "event":"a]}", "userId":"c\"1"})");
  CHECK(items[0].event.customer_id == "c\"1");
  CHECK(items[1].raw == R"({"type":"identify","userId":"c","traits":{"a":[1,{"b":"}"}]}})");
}

TEST_CASE("api: body limit", "[api]") {
  Config config;
  config.limits.body_bytes = 256;
  auto response =
      answered(route(request(http::verb::post, "/v1/track", std::string(300, ' ')), config, kNow));
  CHECK(response.result() == http::status::payload_too_large);
  CHECK_THAT(body(response)["error"].get<std::string>(), Catch::Contains("256"));
}

TEST_CASE("api: bearer tokens and scopes", "[api]") {
  Config config;
  config.tokens.push_back({"ingest-secret", "ingest", {Scope::Ingest}});
  config.tokens.push_back({"read-secret", "read", {Scope::Read}});
  config.tokens.push_back({"admin-secret", "admin", {Scope::Admin}});
  const std::string event = R"({"event":"e","userId":"c"})";
  auto missing = answered(route(request(http::verb::post, "/v1/track", event), config, kNow));
  CHECK(missing.result() == http::status::unauthorized);
  CHECK(missing[http::field::www_authenticate] == "Bearer");
  CHECK(answered(route(request(http::verb::post, "/v1/track", event, "nope-nope"), config, kNow))
            .result() == http::status::unauthorized);
  CHECK(answered(route(request(http::verb::post, "/v1/track", event, "read-secret"), config, kNow))
            .result() == http::status::forbidden);
  intent<Ingest>(
      route(request(http::verb::post, "/v1/track", event, "ingest-secret"), config, kNow));
  intent<Ingest>(
      route(request(http::verb::post, "/v1/track", event, "admin-secret"), config, kNow));
  CHECK(answered(route(request(http::verb::post, "/v1/journeys/reload", "", "read-secret"), config,
                       kNow))
            .result() == http::status::forbidden);
  intent<ReloadJourneys>(
      route(request(http::verb::post, "/v1/journeys/reload", "", "admin-secret"), config, kNow));
  intent<GetCustomer>(
      route(request(http::verb::get, "/v1/customers/c", "", "read-secret"), config, kNow));
  // Health stays open for load balancers.
  intent<CheckHealth>(route(request(http::verb::get, "/healthz"), config, kNow));
  // Authentication comes before validation: no hints to a caller without a token.
  CHECK(answered(route(request(http::verb::post, "/v1/track", "{bad"), config, kNow)).result() ==
        http::status::unauthorized);
}

TEST_CASE("api: reload dry runs and the source of a version", "[api]") {
  Config config;
  CHECK_FALSE(
      intent<ReloadJourneys>(route(request(http::verb::post, "/v1/journeys/reload"), config, kNow))
          .dry_run);
  for (const char* target :
       {"/v1/journeys/reload?dry_run=1", "/v1/journeys/reload?dry_run=true",
        "/v1/journeys/reload?x=2&dry_run", "/v1/journeys/reload?dry_run=%31"}) {
    INFO(target);
    CHECK(intent<ReloadJourneys>(route(request(http::verb::post, target), config, kNow)).dry_run);
  }
  CHECK_FALSE(intent<ReloadJourneys>(
                  route(request(http::verb::post, "/v1/journeys/reload?dry_run=0"), config, kNow))
                  .dry_run);
  const auto bad =
      answered(route(request(http::verb::post, "/v1/journeys/reload?dry_run=yes"), config, kNow));
  CHECK(bad.result() == http::status::bad_request);
  CHECK(body(bad)["error"] == "`dry_run` must be 1 or 0 (true or false), not `yes`");

  const auto routed = route(
      request(http::verb::get, "/v1/journeys/wel%20come/versions/0123abcd/source"), config, kNow);
  const auto& source = intent<VersionSource>(routed);
  CHECK(source.journey == "wel come");
  CHECK(source.version == "0123abcd");
  CHECK(answered(route(request(http::verb::post, "/v1/journeys/w/versions/v/source"), config, kNow))
            .result() == http::status::method_not_allowed);
  CHECK(answered(route(request(http::verb::get, "/v1/journeys/w/versions//source"), config, kNow))
            .result() == http::status::bad_request);
  CHECK(answered(route(request(http::verb::get, "/v1/journeys/w/versions/v"), config, kNow))
            .result() == http::status::not_found);
  config.tokens.push_back({"ingest-secret", "ingest", {Scope::Ingest}});
  CHECK(answered(
            route(request(http::verb::get, "/v1/journeys/w/versions/v/source", "", "ingest-secret"),
                  config, kNow))
            .result() == http::status::forbidden);
}

TEST_CASE("api: percent decoding", "[api]") {
  CHECK(percent_decode("a%2Fb") == "a/b");
  CHECK(percent_decode("plain") == "plain");
  CHECK_FALSE(percent_decode("bad%2"));
  CHECK_FALSE(percent_decode("bad%g1"));
}
