// The purchase model in the engine (engine/model.hpp): the formulas against values computed
// independently (mpmath, 30 digits) for the paper's parameters, the model file, how a customer's
// purchases are counted, the predictive functions in expressions, and the exact instant at which
// a condition on them changes.
#include "engine/model.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/engine.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine/value.hpp"
#include "engine_support.hpp"
#include "support/p_alive_crossing.hpp"

namespace je = journey::engine;
namespace jd = journey::dsl;

using journey::test::at;
using journey::test::build;
using journey::test::p_alive_crossing;

namespace {

constexpr je::Millis kDay = 86'400'000;
constexpr double kWeek = 7.0 * 86'400'000;

// The paper's CDNOW estimates (Fader, Hardie and Lee 2005, in weeks) and Fader and Hardie's
// Gamma-Gamma estimates on the same data (2013).
je::PurchaseModel paper_model() {
  je::PurchaseModel m;
  m.event = "order_completed";
  m.value_property = "amount";
  m.unit_days = 7;
  m.bgnbd = {0.243, 4.414, 0.793, 2.426};
  m.gamma_gamma = je::GammaGamma{6.25, 3.74, 15.44};
  return m;
}

// A customer's purchases counted from (timestamp, amount) orders.
std::optional<je::Purchases> count(const je::PurchaseModel& m,
                                   const std::vector<std::pair<std::string, double>>& orders) {
  std::optional<je::Purchases> out;
  for (const auto& [when, amount] : orders)
    je::count_purchase(m, out, at(when.c_str()), {{"amount", amount}});
  return out;
}

// The checks told that a model (with spend) is loaded.
jd::CheckOptions with_model() {
  jd::CheckOptions options;
  options.model = jd::ModelFacts{true};
  return options;
}

// An engine with the paper's model, running `program`.
std::unique_ptr<je::Engine> engine_with_model(const std::shared_ptr<const je::Program>& program) {
  je::EngineConfig config;
  config.consent_assumed = true;
  config.model = paper_model();
  auto engine = std::make_unique<je::Engine>(config);
  engine->deploy(program);
  return engine;
}

// A purchase of the model's event.
je::Event purchase(const std::string& customer, je::Millis when, double amount = 25) {
  je::Event e;
  e.type = je::Event::Type::Track;
  e.customer_id = customer;
  e.name = "order_completed";
  e.at = when;
  e.properties = {{"amount", amount}};
  return e;
}

}  // namespace

TEST_CASE("the formulas give the independently computed values for the paper's parameters",
          "[model]") {
  const auto m = paper_model();
  // The paper's example customer: x = 2, t_x = 30.43, T = 38.86 weeks; E[Y(39)] = 1.226.
  CHECK(je::p_alive(m.bgnbd, 2, 30.43, 38.86) == Approx(0.726578570080673).epsilon(1e-12));
  CHECK(je::expected_purchases(m.bgnbd, 2, 30.43, 38.86, 39) ==
        Approx(1.226028174767144).epsilon(1e-10));
  // No repeat purchase: BG/NBD counts the customer as active.
  CHECK(je::p_alive(m.bgnbd, 0, 0, 38.86) == 1);
  CHECK(je::expected_purchases(m.bgnbd, 0, 0, 38.86, 39) ==
        Approx(0.195098052011263).epsilon(1e-10));
  CHECK(je::expected_purchases(m.bgnbd, 39) == Approx(1.196723193320817).epsilon(1e-10));
  CHECK(je::expected_purchases(m.bgnbd, 78) == Approx(1.860519057942769).epsilon(1e-10));
  CHECK(je::expected_value(*m.gamma_gamma) == Approx(35.21897810218978).epsilon(1e-12));
  CHECK(je::expected_value(*m.gamma_gamma, 2, 30) == Approx(30.93832020997375).epsilon(1e-12));
}

TEST_CASE("the predictive functions fall as time passes with no purchase", "[model]") {
  const auto m = paper_model().bgnbd;
  for (const double x : {0.0, 1.0, 2.0, 7.0, 30.0}) {
    for (const double recency : {0.0, 5.0, 30.0}) {
      if (x == 0 && recency > 0) continue;
      double alive = 2;
      double orders = 1e9;
      for (double age = recency; age < recency + 500; age += 0.37) {
        const double a = je::p_alive(m, x, recency, age);
        const double e = je::expected_purchases(m, x, recency, age, 26);
        INFO("x " << x << " t_x " << recency << " T " << age);
        CHECK(a <= alive);
        CHECK(e < orders);
        alive = a;
        orders = e;
      }
    }
  }
}

TEST_CASE("purchases count one transaction per UTC day and the value of the later days",
          "[model]") {
  const auto m = paper_model();
  std::optional<je::Purchases> p;
  je::count_purchase(m, p, at("2026-03-01T10:00:00Z"), {{"amount", 20}});
  je::count_purchase(m, p, at("2026-03-01T23:00:00Z"), {{"amount", 5}});  // the same day
  REQUIRE(p);
  CHECK(p->days == 1);
  CHECK(p->repeat_value == 0);  // the first day's purchases are not repeat transactions
  CHECK(p->first_day == je::purchase_day(at("2026-03-01T00:00:00Z")));
  je::count_purchase(m, p, at("2026-03-03T01:00:00Z"), {{"amount", 30}});
  je::count_purchase(m, p, at("2026-03-03T02:00:00Z"), {{"amount", 10}});
  CHECK(p->days == 2);
  CHECK(p->repeat_value == 40);
  CHECK(p->valued_days == 1);
  je::count_purchase(m, p, at("2026-03-06T09:00:00Z"), {{"other", 1}});  // no value
  je::count_purchase(m, p, at("2026-03-07T09:00:00Z"), {{"amount", -3}});
  je::count_purchase(m, p, at("2026-03-07T10:00:00Z"), {{"amount", "12"}});
  CHECK(p->days == 4);
  CHECK(p->valued_days == 1);  // neither day has a number of 0 or more
  je::count_purchase(m, p, at("2026-03-07T11:00:00Z"), {{"amount", 7}});
  CHECK(p->days == 4);
  CHECK(p->valued_days == 2);
  CHECK(p->repeat_value == 47);
  CHECK(p->last_day == je::purchase_day(at("2026-03-07T00:00:00Z")));
  // A model of another event starts the count anew.
  auto other = m;
  other.event = "subscription_renewed";
  je::count_purchase(other, p, at("2026-03-08T11:00:00Z"), {});
  CHECK(p->model == je::model_key(other));
  CHECK(p->model != je::model_key(m));
  CHECK(p->days == 1);
  // Before 1970, days still start at midnight UTC.
  CHECK(je::purchase_day(-1) == -1);
  CHECK(je::purchase_day(-kDay) == -1);
  CHECK(je::purchase_day(-kDay - 1) == -2);
}

TEST_CASE("predictions read the customer's frequency, recency and age in the model's unit",
          "[model]") {
  const auto m = paper_model();
  // First purchase day 1997-01-01, repeat purchases 70 and 210 days later: x = 2, t_x = 30.
  const auto p = count(
      m,
      {{"1997-01-01T15:00:00Z", 10}, {"1997-03-12T09:00:00Z", 20}, {"1997-07-30T18:00:00Z", 40}});
  REQUIRE(p);
  const je::Millis now = at("1997-10-01T06:00:00Z");
  const double age = static_cast<double>(now - at("1997-01-01T00:00:00Z")) / kWeek;
  const auto horizon = static_cast<std::int64_t>(39 * kWeek);
  using P = je::Prediction;
  CHECK(*je::predict(m, p, P::PAlive, 0, now) == Approx(je::p_alive(m.bgnbd, 2, 30, age)));
  const double orders = je::expected_purchases(m.bgnbd, 2, 30, age, 39);
  CHECK(*je::predict(m, p, P::ExpectedOrders, horizon, now) == Approx(orders));
  CHECK(*je::predict(m, p, P::PredictedValue, horizon, now) ==
        Approx(orders * je::expected_value(*m.gamma_gamma, 2, 30)));
  // In days the same customer gives the same answers with alpha seven times larger.
  auto days = m;
  days.unit_days = 1;
  days.bgnbd.alpha *= 7;
  const auto p_days = count(
      days,
      {{"1997-01-01T15:00:00Z", 10}, {"1997-03-12T09:00:00Z", 20}, {"1997-07-30T18:00:00Z", 40}});
  CHECK(*je::predict(days, p_days, P::PAlive, 0, now) ==
        Approx(*je::predict(m, p, P::PAlive, 0, now)).epsilon(1e-12));
  CHECK(*je::predict(days, p_days, P::ExpectedOrders, horizon, now) ==
        Approx(orders).epsilon(1e-9));
  // Nothing for a customer who never bought, for a count of another model's event, and for
  // predicted value without Gamma-Gamma.
  CHECK_FALSE(je::predict(m, std::nullopt, P::PAlive, 0, now));
  auto other = m;
  other.event = "renewal";
  CHECK_FALSE(je::predict(other, p, P::PAlive, 0, now));
  auto no_spend = m;
  no_spend.gamma_gamma.reset();
  no_spend.value_property.reset();
  const auto p_no_spend = count(no_spend, {{"1997-01-01T15:00:00Z", 10}});
  CHECK_FALSE(je::predict(no_spend, p_no_spend, P::PredictedValue, horizon, now));
  CHECK(je::predict(no_spend, p_no_spend, P::ExpectedOrders, horizon, now));
}

TEST_CASE("the model file's parameters read back, and a bad field is named by its path",
          "[model]") {
  const auto m = paper_model();
  auto file = je::to_json(m);
  file["bg_nbd"]["log_likelihood"] = -9582.4;  // the fit's statistics are beside, ignored
  const auto read = je::read_model(file);
  REQUIRE(read.model);
  CHECK(read.model->event == "order_completed");
  CHECK(read.model->value_property == "amount");
  CHECK(read.model->unit_days == 7);
  CHECK(read.model->bgnbd.alpha == 4.414);
  CHECK(read.model->gamma_gamma->q == 3.74);
  const auto problem = [&file](const std::function<void(nlohmann::json&)>& change) {
    auto bad = file;
    change(bad);
    const auto r = je::read_model(bad);
    CHECK_FALSE(r.model);
    return r.problem;
  };
  CHECK(je::read_model(nlohmann::json::array()).problem.rfind("$: expected a JSON object", 0) == 0);
  CHECK(problem([](auto& j) { j["format"] = "lifetimes"; }).rfind("$.format: ", 0) == 0);
  CHECK(problem([](auto& j) { j["version"] = 2; }) ==
        "$.version: version 2 is newer than this build reads (1)");
  CHECK(problem([](auto& j) { j.erase("event"); }) == "$.event: missing");
  CHECK(problem([](auto& j) { j["unit_days"] = 0; }) == "$.unit_days: expected a positive number");
  CHECK(problem([](auto& j) { j["bg_nbd"]["alpha"] = -1; }) ==
        "$.bg_nbd.alpha: expected a positive number");
  CHECK(problem([](auto& j) { j["bg_nbd"]["b"] = "2.4"; }) ==
        "$.bg_nbd.b: expected a positive number");
  CHECK(problem([](auto& j) { j["bg_nbd"].erase("r"); }) ==
        "$.bg_nbd.r: missing (a positive number)");
  CHECK(problem([](auto& j) { j["bg_nbd"]["a"] = 1; }).rfind("$.bg_nbd.a: 1 is a singular", 0) ==
        0);
  CHECK(problem([](auto& j) {
          j["gamma_gamma"]["q"] = 0.5;
        }).rfind("$.gamma_gamma.q: must be", 0) == 0);
  CHECK(problem([](auto& j) { j["gamma_gamma"]["property"] = ""; }) ==
        "$.gamma_gamma.property: expected a non-empty string");
  // Without Gamma-Gamma: no value property.
  file.erase("gamma_gamma");
  const auto bgnbd_only = je::read_model(file);
  REQUIRE(bgnbd_only.model);
  CHECK_FALSE(bgnbd_only.model->gamma_gamma);
  CHECK_FALSE(bgnbd_only.model->value_property);
}

TEST_CASE("falls_to gives the first millisecond at which the function is at or below the level",
          "[model]") {
  const auto m = paper_model();
  std::mt19937_64 rng(14);
  const je::Millis start = at("2026-01-01T00:00:00Z");
  int found = 0;
  for (int i = 0; i < 200; ++i) {
    // A customer with a few purchases on random days and times, seen a little after the last.
    std::optional<je::Purchases> p;
    je::Millis t = start + static_cast<je::Millis>(rng() % kDay);
    const int orders = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < orders; ++k) {
      je::count_purchase(m, p, t, {{"amount", static_cast<double>(rng() % 100)}});
      t += static_cast<je::Millis>(rng() % (60 * kDay));
    }
    const je::Millis now = t;
    const auto what = static_cast<je::Prediction>(rng() % 3);
    const std::int64_t horizon = (1 + static_cast<std::int64_t>(rng() % 52)) * 7 * kDay;
    const auto value = je::predict(m, p, what, horizon, now);
    REQUIRE(value);
    const double level = *value * std::uniform_real_distribution<double>(0.05, 0.999)(rng);
    const auto when = je::falls_to(m, p, what, horizon, now, level);
    INFO("customer " << i << ", function " << static_cast<int>(what) << ", level " << level);
    if (what == je::Prediction::PAlive && p->days == 1) {
      CHECK_FALSE(when);  // P(alive) stays 1 until a repeat purchase
      continue;
    }
    REQUIRE(when);
    ++found;
    CHECK(*when > now);
    CHECK(*je::predict(m, p, what, horizon, *when) <= level);
    CHECK(*je::predict(m, p, what, horizon, *when - 1) > level);
    if (what == je::Prediction::PAlive) {
      const double x = static_cast<double>(p->days - 1);
      const double recency = static_cast<double>(p->last_day - p->first_day) / 7;
      CHECK(*when == p_alive_crossing(m.bgnbd, x, recency, p->first_day * kDay, level));
    }
    // Already below: nothing to wait for; at the level exactly: the first instant below it.
    CHECK_FALSE(je::falls_to(m, p, what, horizon, *when, *value));
    const double at_when = *je::predict(m, p, what, horizon, *when);
    const auto below = je::falls_to(m, p, what, horizon, *when, at_when);
    REQUIRE(below);
    CHECK(*je::predict(m, p, what, horizon, *below) < at_when);
    CHECK(*je::predict(m, p, what, horizon, *below - 1) == at_when);
  }
  CHECK(found > 100);
}

TEST_CASE("entry when p_alive() < 0.3 enters at the instant the probability crosses 0.3",
          "[model][engine]") {
  const auto program = build(R"(segment churn_risk_high = p_alive() < 0.3
journey win_back {
  entry when customer is churn_risk_high
  exit on order_completed
  reentry always
  offer: send email "winback" with { p: p_alive(), orders: expected_orders(4w) }
}
)",
                             true, with_model());
  const auto engine = engine_with_model(program);
  const auto& model = *engine->config().model;
  auto state = je::new_customer("c1");
  const auto buy = [&](const char* when) { engine->on_event(*state, purchase("c1", at(when))); };
  // Days 0, 7 and 21 of the customer: x = 2, t_x = 3 weeks.
  buy("2026-01-01T10:00:00Z");
  buy("2026-01-08T15:00:00Z");
  buy("2026-01-22T09:30:00Z");
  const je::Millis expected = p_alive_crossing(model.bgnbd, 2, 3, at("2026-01-01T00:00:00Z"), 0.3);
  CHECK(engine->next_wakeup(*state) == expected);
  auto out = engine->on_time(*state, expected - 1);
  CHECK(out.actions.empty());
  out = engine->on_time(*state, at("2027-01-01T00:00:00Z"));
  REQUIRE(out.actions.size() == 1);
  CHECK(out.actions[0].at == expected);
  CHECK(out.actions[0].params["p"].get<double>() < 0.3);
  // A new purchase lifts the probability; the condition must fall again before a new entry.
  buy("2027-01-05T12:00:00Z");
  const auto again = engine->next_wakeup(*state);
  REQUIRE(again);
  const je::Millis expected_again =
      p_alive_crossing(model.bgnbd, 3,
                       static_cast<double>(je::purchase_day(at("2027-01-05T00:00:00Z")) -
                                           je::purchase_day(at("2026-01-01T00:00:00Z"))) /
                           7,
                       at("2026-01-01T00:00:00Z"), 0.3);
  CHECK(*again == expected_again);
}

TEST_CASE("exit when p_alive() < 0.5 leaves at the instant the probability crosses 0.5",
          "[model][engine]") {
  const auto program = build(R"(journey after_order {
  entry on order_completed
  exit when p_alive() < 0.5
  wait 1000d
  send email "never"
}
)",
                             true, with_model());
  const auto engine = engine_with_model(program);
  auto state = je::new_customer("c1");
  for (const char* when : {"2026-01-01T10:00:00Z", "2026-01-15T15:00:00Z"})
    engine->on_event(*state, purchase("c1", at(when)));
  // x = 1, t_x = 2 weeks: P(alive) starts at 1 / (1 + a / b) = 0.75 and falls.
  const je::Millis expected =
      p_alive_crossing(paper_model().bgnbd, 1, 2, at("2026-01-01T00:00:00Z"), 0.5);
  const auto out = engine->on_time(*state, at("2027-01-01T00:00:00Z"));
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0].kind == je::Record::Kind::Exited);
  CHECK(out.records[0].detail == "exit when");
  CHECK(out.records[0].at == expected);
  CHECK(state->runs.empty());
}

TEST_CASE("the instant next_change gives for a predictive condition is the first where it holds",
          "[model][engine]") {
  // Through segments, `not`, both sides of a comparison and every function.
  const auto program = build(R"(segment risky = p_alive() <= 0.4
segment fading = not (expected_orders(8w) > 0.2)
segment small = 30 >= predicted_value(26w)
journey j {
  entry when customer is risky
  entry when customer is fading
  entry when customer is small
  send email "x"
}
)",
                             true, with_model());
  const auto engine = engine_with_model(program);
  const auto& model = *engine->config().model;
  std::mt19937_64 rng(19);
  for (int i = 0; i < 60; ++i) {
    auto state = je::new_customer("c" + std::to_string(i));
    je::Millis t = at("2026-01-01T00:00:00Z") + static_cast<je::Millis>(rng() % kDay);
    const int orders = 2 + static_cast<int>(rng() % 5);
    for (int k = 0; k < orders; ++k) {
      engine->on_event(*state,
                       purchase(state->customer_id, t, static_cast<double>(5 + rng() % 60)));
      t += kDay + static_cast<je::Millis>(rng() % (20 * kDay));
    }
    for (const auto* name : {"risky", "fading", "small"}) {
      const auto& condition = program->segments.at(name).condition;
      const je::Millis now = state->clock;
      const je::Evaluator here(*program, *state, now, nullptr, &model);
      const bool before = here.eval(condition, {}).truthy();
      const auto next = here.next_change(condition, {});
      INFO("customer " << i << ", segment " << name);
      if (before) {
        CHECK_FALSE(next);  // it only falls further until the next purchase
        continue;
      }
      REQUIRE(next);
      const je::Evaluator just_before(*program, *state, *next - 1, nullptr, &model);
      const je::Evaluator then(*program, *state, *next, nullptr, &model);
      CHECK_FALSE(just_before.eval(condition, {}).truthy());
      CHECK(then.eval(condition, {}).truthy());
    }
  }
}

TEST_CASE("without a model or a purchase the predictive functions are none", "[model][engine]") {
  const auto program =
      build("segment s = p_alive() < 0.5 or p_alive() >= 0.5\n", true, with_model());
  const auto& condition = program->segments.at("s").condition;
  const auto model = paper_model();
  auto state = je::new_customer("c1");
  const je::Millis now = at("2026-01-01T00:00:00Z");
  CHECK_FALSE(je::Evaluator(*program, *state, now, nullptr, &model).eval(condition, {}).truthy());
  je::count_purchase(model, state->purchases, now, {});
  CHECK(je::Evaluator(*program, *state, now, nullptr, &model).eval(condition, {}).truthy());
  CHECK_FALSE(je::Evaluator(*program, *state, now).eval(condition, {}).truthy());
  CHECK_FALSE(je::Evaluator(*program, *state, now, nullptr, &model).next_change(condition, {}));
}
