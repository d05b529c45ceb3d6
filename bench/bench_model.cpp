// bench_model: the time `journey model fit` spends fitting, without reading events.
//
// Customer bases are simulated from the BG/NBD model itself with the CDNOW parameters (r 0.243,
// alpha 4.414, a 0.793, b 2.426, weeks): first purchases spread over 12 weeks, purchase times
// rounded to days, a 39-week calibration period, as in the paper's data. Sizes: the CDNOW
// sample's 2,357 customers and 1,000,000 (or N). With a path, also the whole command's work on
// that NDJSON file (tests/data/cdnow/to_ndjson.sh makes the CDNOW one): read, summarise, fit.
//
//   bench_model [--customers N] [EVENTS.ndjson]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/model/bgnbd.hpp"
#include "runtime/model/history.hpp"

using namespace journey::runtime::model;

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

}  // namespace

int main(int argc, char** argv) {
  std::size_t large = 1'000'000;
  std::string events;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--customers" && i + 1 < argc) {
      large = std::strtoull(argv[++i], nullptr, 10);
    } else {
      events = arg;
    }
  }
  const BgNbd cdnow{0.243, 4.414, 0.793, 2.426};
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
  return 0;
}
