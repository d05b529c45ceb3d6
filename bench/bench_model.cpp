// bench_model: the time `journey model fit` spends fitting, without reading events, and the
// cost of the language's predictive functions per evaluation.
//
// Customer bases are simulated from the BG/NBD model itself with the CDNOW parameters (r 0.243,
// alpha 4.414, a 0.793, b 2.426, weeks): first purchases spread over 12 weeks, purchase times
// rounded to days, a 39-week calibration period, as in the paper's data. Sizes: the CDNOW
// sample's 2,357 customers and 1,000,000 (or N). With a path, also the whole command's work on
// that NDJSON file (tests/data/cdnow/to_ndjson.sh makes the CDNOW one): read, summarise, fit.
//
// Predictions: the CDNOW-sized base as engine states (their purchases counted as the engine
// counts them), each function evaluated for every customer at instants spread over the year
// after calibration: through the engine's Evaluator on a compiled condition (what an `entry
// when` or a segment costs), directly (engine::predict), and the crossing instant of a
// threshold (engine::falls_to, what setting the timer costs). Best of 5 rounds.
//
//   bench_model [--customers N] [--predictions-only] [EVENTS.ndjson]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dsl/workspace.hpp"
#include "engine/engine.hpp"
#include "engine/model.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine/value.hpp"
#include "runtime/model/bgnbd.hpp"
#include "runtime/model/history.hpp"

using namespace journey::runtime::model;
namespace dsl = journey::dsl;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// N customers drawn from the model: a buying rate and a drop-out chance each.
std::vector<CustomerSummary> simulate_base(std::size_t n, const BgNbd& m, unsigned seed) {
  std::mt19937_64 rng(seed);
  constexpr int kUntilDay = 272;  // 1997-01-01 to 1997-09-30
  std::vector<CustomerSummary> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double rate = std::gamma_distribution<double>(m.r, 1 / m.alpha)(rng);  // per week
    const double ga = std::gamma_distribution<double>(m.a, 1)(rng);
    const double gb = std::gamma_distribution<double>(m.b, 1)(rng);
    const double drop = ga / (ga + gb);
    const int first = static_cast<int>(rng() % 84);
    int last = first;
    int repeats = 0;
    double at = first;  // days
    std::exponential_distribution<double> gap(rate / 7);
    // Alive at the first purchase; may drop out right after each repeat purchase.
    for (;;) {
      at += gap(rng);
      const int day = static_cast<int>(at);
      if (day > kUntilDay) break;
      if (day > last) ++repeats;
      last = day;
      if (std::uniform_real_distribution<double>(0, 1)(rng) < drop) break;
    }
    CustomerSummary c;
    c.first_day = first;
    c.frequency = repeats;
    c.recency = (last - first) / 7.0;
    c.age = (kUntilDay - first) / 7.0;
    out.push_back(c);
  }
  return out;
}

void fit_and_print(const char* what, const std::vector<CustomerSummary>& customers) {
  const auto start = std::chrono::steady_clock::now();
  const BgNbdFit fit = fit_bgnbd(customers);
  const double took = seconds_since(start);
  std::printf(
      "%-28s %9zu customers  fit %8.3f s  %5d evaluations  r %.3f alpha %.3f a %.3f b %.3f  ll "
      "%.1f%s\n",
      what, customers.size(), took, fit.evaluations, fit.model.r, fit.model.alpha, fit.model.a,
      fit.model.b, fit.log_likelihood, fit.ok ? "" : "  (not fitted)");
}

constexpr journey::engine::Millis kDayMillis = 86'400'000;

// Nanoseconds per call of `f` over `calls` calls, best of 5 rounds.
double nanoseconds_per_call(std::size_t calls, const std::function<void()>& f) {
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, seconds_since(start));
  }
  return best * 1e9 / static_cast<double>(calls);
}

void bench_predictions(const std::vector<CustomerSummary>& base) {
  namespace je = journey::engine;
  je::PurchaseModel model;
  model.value_property = "amount";
  model.bgnbd = {0.243, 4.414, 0.793, 2.426};
  model.gamma_gamma = je::GammaGamma{6.25, 3.74, 15.44};
  // Each customer as an engine state: their purchase days as the engine counts them (the
  // simulated base keeps x, t_x and the first day; an order of 35 on each day).
  std::vector<std::unique_ptr<je::CustomerState>> states;
  for (const auto& c : base) {
    auto state = je::new_customer("c" + std::to_string(states.size()));
    const auto first = static_cast<je::Millis>(c.first_day) * kDayMillis;
    const auto last = first + std::llround(c.recency * 7) * kDayMillis;
    je::count_purchase(model, state->purchases, first, {{"amount", 35}});
    for (int k = 0; k < static_cast<int>(c.frequency); ++k) {
      const je::Millis day =
          k + 1 == static_cast<int>(c.frequency)
              ? last
              : first + (last - first) * (k + 1) / static_cast<je::Millis>(c.frequency);
      je::count_purchase(model, state->purchases, day, {{"amount", 35}});
    }
    states.push_back(std::move(state));
  }
  // Instants over the year after the calibration period (day 272), 16 per customer.
  std::vector<je::Millis> instants;
  for (int i = 0; i < 16; ++i) instants.push_back((273 + i * 23) * kDayMillis + i * 3'600'000);
  const std::size_t calls = states.size() * instants.size();
  dsl::Workspace ws;
  dsl::add_source(ws, "bench.journey",
                  "segment a = p_alive() < 0.3\nsegment e = expected_orders(52w) < 1\n"
                  "segment v = predicted_value(52w) < 50\n");
  dsl::CheckOptions options;
  options.model = je::model_facts(model);
  dsl::check(ws, options);
  const auto program = je::compile(ws).program;
  if (!program) {
    std::fprintf(stderr, "bench_model: the conditions do not compile\n");
    return;
  }
  std::size_t holds = 0;  // used, so that the calls are not optimised away
  double sum = 0;
  std::printf("\npredictions over %zu customers x %zu instants (ns per evaluation, best of 5)\n",
              states.size(), instants.size());
  for (const auto& [name, what] :
       {std::pair{"a", je::Prediction::PAlive}, std::pair{"e", je::Prediction::ExpectedOrders},
        std::pair{"v", je::Prediction::PredictedValue}}) {
    const auto& condition = program->segments.at(name).condition;
    const double through_evaluator = nanoseconds_per_call(calls, [&] {
      for (const auto& state : states) {
        for (const auto now : instants) {
          const je::Evaluator ev(*program, *state, now, nullptr, &model);
          holds += ev.eval(condition, {}).truthy() ? 1 : 0;
        }
      }
    });
    const std::int64_t horizon = 364 * kDayMillis;
    const double direct = nanoseconds_per_call(calls, [&] {
      for (const auto& state : states) {
        for (const auto now : instants)
          sum += *je::predict(model, state->purchases, what, horizon, now);
      }
    });
    const double level = what == je::Prediction::PAlive           ? 0.3
                         : what == je::Prediction::ExpectedOrders ? 1
                                                                  : 50;
    std::size_t found = 0;
    const double crossing = nanoseconds_per_call(states.size(), [&] {
      for (const auto& state : states) {
        found += je::falls_to(model, state->purchases, what, horizon, instants[0], level) ? 1 : 0;
      }
    });
    std::printf(
        "  %-28s evaluator %8.0f ns  direct %8.0f ns  crossing instant %9.0f ns (%zu of %zu "
        "customers cross)\n",
        je::expr_text(condition).c_str(), through_evaluator, direct, crossing, found / 5,
        states.size());
  }
  std::printf("  (checksum %zu %.3f)\n", holds, sum);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t large = 1'000'000;
  std::string events;
  bool predictions_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--customers" && i + 1 < argc) {
      large = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--predictions-only") {
      predictions_only = true;
    } else {
      events = arg;
    }
  }
  const BgNbd cdnow{0.243, 4.414, 0.793, 2.426};
  if (predictions_only) {
    bench_predictions(simulate_base(2357, cdnow, 1));
    return 0;
  }
  if (!events.empty()) {
    const auto start = std::chrono::steady_clock::now();
    const PurchaseRead read = read_purchases(events, PurchaseReading{});
    const double read_s = seconds_since(start);
    if (!read.opened) {
      std::fprintf(stderr, "bench_model: cannot read %s\n", events.c_str());
      return 2;
    }
    const auto customers = summarise(read.history, Calibration{*parse_day("1997-09-30"), 7});
    std::printf("read %s: %llu lines in %.3f s\n", events.c_str(),
                static_cast<unsigned long long>(read.history.lines), read_s);
    fit_and_print("events file, until 1997-09-30", customers);
  }
  fit_and_print("simulated, CDNOW size", simulate_base(2357, cdnow, 1));
  const auto start = std::chrono::steady_clock::now();
  const auto base = simulate_base(large, cdnow, 2);
  std::printf("(simulating %zu customers took %.2f s)\n", large, seconds_since(start));
  fit_and_print("simulated, large", base);
  bench_predictions(simulate_base(2357, cdnow, 1));
  return 0;
}
