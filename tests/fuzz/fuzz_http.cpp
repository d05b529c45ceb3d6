// libFuzzer target: the HTTP request handler, from the bytes on the wire to the engine.
//
// Input: one flag byte, then the bytes a client sends on one connection (up to 8 pipelined
// requests). Flag bit 0: the daemon has bearer tokens (ingest, read, admin); bit 1: tight limits
// (small body, batch and depth limits). Each request goes through a Beast request_parser with the
// limits of runtime/server.cpp (16 KiB header, limits.body_bytes body), then through
// runtime::route() at a fixed time. Every answer must be valid JSON with a right Content-Length;
// an Ingest intent's events are stepped through a real engine with tracing on, every trace
// detail, action line and the customer description is dumped, and each customer state must
// serialize, read back and serialize to the same bytes. No network, no files (beyond the time
// zone database that the engine's zone lookup reads).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "dsl/workspace.hpp"
#include "engine/action.hpp"
#include "engine/engine.hpp"
#include "engine/state.hpp"
#include "runtime/common/config.hpp"
#include "runtime/http/api.hpp"
#include "runtime/serve/journey_set.hpp"

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
namespace engine = journey::engine;
namespace rt = journey::runtime;
using nlohmann::json;

constexpr engine::Millis kNow = 1'780'272'000'000;  // 2026-06-01T00:00:00Z
constexpr std::size_t kMaxRequests = 8;
constexpr std::size_t kMaxLintBytes = 4096;  // larger lint bodies are left to fuzz_parser
constexpr int kMaxWakeups = 8;               // timer firings per customer after the requests

// Journeys that read what ingest carries: properties, traits, aggregates, segments, waits with
// branches, splits, emits, quiet hours, caps, consent and a daily entry.
constexpr const char* kJourneys = R"(
segment buyer = count(order within 365d) >= 1
segment big = sum(order.amount within 30d) >= 100 or max(order.amount) > 50
segment lapsed = customer is buyer and since(order) >= 30d

journey onboarding {
  title "Onboarding"
  entry on signup where event.plan != "test"
  reentry after 1d
  exit on unsubscribe
  exit when customer.blocked == true
  goal bought: order where event.amount > 0 within 7d
  quiet hours 21:00-09:00
  cap 3 per 1d

  hello: send email "hello" with { plan: event.plan, name: customer.name, n: count(view within 1d) }
  idle: wait up to 2h {
    on view where event.sku == trigger.sku {
      set customer.last_sku = event.sku
      goto idle
    }
    on cart {
      tag "carted"
      exit "carted"
    }
    timeout {
      untag "carted"
    }
  }
  wait until 10:00
  ab: split {
    50% a {
      if customer is big and has(customer.phone) {
        sms_a: send sms "vip" with { total: sum(order.amount), avg: avg(order.amount within 7d) }
      } else if "carted" in customer.tags {
        push_a: send push "cart" with { last: last(cart).sku }
      } else {
        emit nudge with { at: now, since: since(signup) }
      }
    }
    50% b {
      wait 1d
      push_b: send push "reminder" with { min: min(order.amount) }
    }
  }
}

journey cart {
  entry on cart
  entry on nudge
  reentry always
  exit on order where event.amount >= 0
  cap 2 per 2h

  set customer.score = customer.score + 1
  wait 30m
  if count(cart where event.sku == trigger.sku within 1h) > 1 and customer.country in ["DE", "FR"] {
    again: send email "cart-again" with { sku: trigger.sku }
  }
}

journey winback {
  entry when customer is lapsed and since(customer.seen_at) > 7d
  reentry after 60d
  exit on order
  goal back: order within 14d

  wb: send email "winback" with { tier: customer.tier, points: customer.points * 2 - 1 }
  wait 2d
  wb2: send sms "winback-2"
}

segment fading = p_alive() < 0.5 and expected_orders(30d) < 1

journey predicted {
  entry when customer is fading
  reentry after 30d
  exit when predicted_value(52w) > 500
  fading_mail: send email "fading" with { p: p_alive(), value: predicted_value(8w) }
}

journey daily {
  entry every day at 09:00 when customer.points > 0
  reentry after 1d

  set customer.points = customer.points / 2
  daily_mail: send email "points" with { points: customer.points }
}
)";

// JOURNEY_FUZZ_VERBOSE=1 prints each request's route and answer (for reading a crash input).
const bool kVerbose = std::getenv("JOURNEY_FUZZ_VERBOSE") != nullptr;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_http: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

struct World {
  std::shared_ptr<const engine::Program> program;
  std::unique_ptr<engine::Engine> engine;
};

const World& world() {
  static const World w = [] {
    journey::dsl::Workspace ws;
    journey::dsl::add_source(ws, "fuzz.journey", kJourneys);
    // The purchase model of the predictive functions: the paper's CDNOW estimates, in weeks.
    engine::EngineConfig config;
    engine::PurchaseModel model;
    model.event = "order";
    model.value_property = "amount";
    model.bgnbd = {0.243, 4.414, 0.793, 2.426};
    model.gamma_gamma = engine::GammaGamma{6.25, 3.74, 15.44};
    config.model = model;
    journey::dsl::CheckOptions checks;
    checks.model = engine::model_facts(config.model);
    journey::dsl::check(ws, checks);
    std::string messages;
    for (const auto& d : ws.diagnostics) messages += d.code + " " + d.message + "\n";
    if (ws.has_errors()) fail("the fuzz journeys do not check", messages);
    auto compiled = engine::compile(ws);
    if (!compiled.program) fail("the fuzz journeys do not compile");
    World made;
    made.program = compiled.program;
    config.channel_caps["sms"] = engine::ChannelCap{2, 24LL * 3600 * 1000};
    made.engine = std::make_unique<engine::Engine>(config);
    made.engine->deploy(made.program);
    return made;
  }();
  return w;
}

rt::Config make_config(std::uint8_t flags) {
  rt::Config config;
  if ((flags & 1) != 0) {
    config.tokens.push_back({"ingest-secret", "ingest", {rt::Scope::Ingest}});
    config.tokens.push_back({"read-secret", "read", {rt::Scope::Read}});
    config.tokens.push_back({"admin-secret", "admin", {rt::Scope::Admin}});
    config.tokens.push_back({"both-secret", "both", {rt::Scope::Ingest, rt::Scope::Read}});
  }
  if ((flags & 2) != 0) {
    config.limits.body_bytes = 512;
    config.limits.batch_items = 3;
    config.limits.json_depth = 8;
    config.limits.timestamp_ahead_ms = 3600LL * 1000;
    config.limits.timestamp_behind_ms = 24LL * 3600 * 1000;
  }
  return config;
}

/// Parses JSON text that must be valid; aborts with the text otherwise.
json must_parse(const std::string& text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(what, std::string(e.what()) + " in: " + text.substr(0, 400));
  }
}

/// An answer of the API: a JSON body, its Content-Length, an error text on errors; and it writes.
void check_response(const rt::HttpResponse& response) {
  if (kVerbose) std::fprintf(stderr, "  -> %d %s", response.result_int(), response.body().c_str());
  const json body = must_parse(response.body(), "a response body is not JSON");
  if (response[http::field::content_length] != std::to_string(response.body().size())) {
    fail("a response's Content-Length is wrong");
  }
  if (response.result_int() >= 400) {
    auto error = body.find("error");
    if (!body.is_object() || error == body.end() || !error->is_string()) {
      fail("an error response has no error text", response.body());
    }
  }
  std::ostringstream wire;
  wire << response;
  if (wire.str().size() < response.body().size()) fail("a response writes short");
}

void respond(const rt::HttpRequest& request, http::status status, const json& body) {
  check_response(rt::json_response(request, status, body));
}

/// Dumps what one engine call produced, as the daemon stores it.
void consume(const engine::Outcome& outcome) {
  for (const auto& action : outcome.actions) {
    const json line = must_parse(engine::to_json_line(action), "an action line is not JSON");
    if (!line.is_object()) fail("an action line is not an object");
  }
  for (const auto& line : outcome.trace) {
    (void)must_parse(line.detail.dump(-1, ' ', false, json::error_handler_t::replace),
                     "a trace detail does not dump as JSON");
    (void)json(line.message).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  for (const auto& record : outcome.records)
    (void)json(record.detail).dump(-1, ' ', false, json::error_handler_t::replace);
}

/// The state must write, read back and write the same bytes.
void round_trip(const engine::CustomerState& state) {
  const std::string bytes = engine::serialize(state);
  const auto back = engine::deserialize(bytes);
  if (engine::serialize(*back) != bytes) fail("a state does not round-trip", state.customer_id);
}

using Customers = std::map<std::string, std::unique_ptr<engine::CustomerState>>;

engine::CustomerState& customer(Customers& customers, const std::string& id) {
  auto& slot = customers[id];
  if (!slot) slot = engine::new_customer(id);
  return *slot;
}

void describe(const rt::HttpRequest& request, const Customers& customers, const std::string& id) {
  auto found = customers.find(id);
  if (found == customers.end()) {
    check_response(rt::error_response(request, http::status::not_found, "no customer " + id));
    return;
  }
  json body = {{"customer", world().engine->describe(*found->second)}};
  respond(request, http::status::ok, body);
}

/// Carries out an intent the way the daemon does, in memory.
void carry_out(const rt::HttpRequest& request, const rt::Intent& intent, Customers& customers) {
  const auto& eng = *world().engine;
  if (const auto* ingest = std::get_if<rt::Ingest>(&intent)) {
    for (const auto& item : ingest->items) {
      if (kVerbose)
        std::fprintf(stderr, "  event %s for %s\n", item.event.name.c_str(),
                     item.event.customer_id.c_str());
      (void)must_parse(item.raw, "an ingest item's raw text is not JSON");
      auto& state = customer(customers, item.event.customer_id);
      consume(eng.on_event(state, item.event, true));
      round_trip(state);
    }
    respond(request, http::status::ok, {{"accepted", ingest->items.size()}});
  } else if (const auto* get = std::get_if<rt::GetCustomer>(&intent)) {
    describe(request, customers, get->id);
  } else if (const auto* explain = std::get_if<rt::ExplainCustomer>(&intent)) {
    describe(request, customers, explain->id);
  } else if (const auto* erase = std::get_if<rt::EraseCustomer>(&intent)) {
    customers.erase(erase->id);
    respond(request, http::status::ok, {{"erased", erase->id}});
  } else if (std::holds_alternative<rt::ListJourneys>(intent)) {
    json list = json::array();
    for (const auto& info : engine::journeys_of(*world().program)) {
      list.push_back({{"name", info.name}, {"version", info.version}});
    }
    respond(request, http::status::ok, {{"journeys", list}});
  } else if (const auto* lint = std::get_if<rt::LintScript>(&intent)) {
    if (lint->text.size() <= kMaxLintBytes)
      respond(request, http::status::ok, rt::lint_script(lint->text, {}));
  } else {
    respond(request, http::status::ok, {{"status", "ok"}});
  }
}

/// One request: routed, then answered or carried out. False when the connection closes.
bool handle(rt::HttpRequest request, const rt::Config& config, Customers& customers) {
  const bool keep_alive = request.keep_alive();
  auto routed = rt::route(request, config, kNow);
  if (kVerbose) {
    std::fprintf(stderr, "%s %s (%zu body bytes): %s\n",
                 std::string(request.method_string()).c_str(),
                 std::string(request.target()).c_str(), request.body().size(),
                 std::holds_alternative<rt::Intent>(routed) ? "intent" : "answer");
  }
  if (auto* answer = std::get_if<rt::HttpResponse>(&routed)) {
    check_response(*answer);
  } else {
    carry_out(request, std::get<rt::Intent>(routed), customers);
  }
  // Arbitrary request bytes in an error text (the not-found answer echoes the target).
  check_response(rt::error_response(request, http::status::bad_request,
                                    std::string(request.target()), request.body().substr(0, 64)));
  return keep_alive;
}

/// Fires the customers' timers as the daemon's wake-ups would, a bounded number of times.
void wake_up(Customers& customers) {
  const auto& eng = *world().engine;
  for (auto& [id, state] : customers) {
    for (int i = 0; i < kMaxWakeups; ++i) {
      const auto next = eng.next_wakeup(*state);
      if (!next || *next > kNow + 400LL * 24 * 3600 * 1000) break;
      if (kVerbose)
        std::fprintf(stderr, "wake-up of %s at %lld\n", id.c_str(), static_cast<long long>(*next));
      consume(eng.on_time(*state, *next, true));
      round_trip(*state);
    }
    (void)eng.describe(*state).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const rt::Config config = make_config(data[0]);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  Customers customers;
  for (std::size_t n = 0; n < kMaxRequests && !rest.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(config.limits.body_bytes);
    boost::beast::error_code ec;
    bool header_seen = false;
    for (;;) {
      const std::size_t used = parser.put(net::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec == http::error::need_more) {
        ec = {};
        if (used > 0 && !rest.empty()) continue;
        parser.put_eof(ec);  // the client sent no more: the stream ends here
        break;
      }
      if (ec) break;
      if (parser.is_header_done() && !header_seen) {
        header_seen = true;
        // The server answers 100 Continue here and reads on; nothing else changes.
        (void)boost::beast::iequals(parser.get()[http::field::expect], "100-continue");
      }
      if (parser.is_done()) break;
      if (used == 0) {
        parser.put_eof(ec);
        break;
      }
    }
    if (ec == http::error::end_of_stream) break;
    if (ec) {
      // The answers of runtime/server.cpp on a read error, then the connection closes.
      rt::HttpRequest request{ec == http::error::body_limit ? http::verb::post : http::verb::get,
                              "/", 11};
      request.keep_alive(false);
      check_response(rt::error_response(request,
                                        ec == http::error::body_limit
                                            ? http::status::payload_too_large
                                            : http::status::bad_request,
                                        "malformed HTTP request: " + ec.message()));
      break;
    }
    if (!parser.is_done()) break;
    if (!handle(parser.release(), config, customers)) break;
  }
  wake_up(customers);
  return 0;
}
