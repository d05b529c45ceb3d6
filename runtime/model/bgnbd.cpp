#include "runtime/model/bgnbd.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

#include "runtime/model/maximum.hpp"

namespace journey::runtime::model {
namespace {

// log(exp(x) + exp(y)) without overflow.
double log_sum_exp(double x, double y) {
  const double high = std::max(x, y);
  if (!std::isfinite(high)) return high;
  return high + std::log(std::exp(x - high) + std::exp(y - high));
}

}  // namespace

double log_likelihood(const BgNbd& m, double x, double t_x, double age) {
  const double a1 = std::lgamma(m.r + x) - std::lgamma(m.r) + m.r * std::log(m.alpha);
  const double a2 =
      std::lgamma(m.a + m.b) + std::lgamma(m.b + x) - std::lgamma(m.b) - std::lgamma(m.a + m.b + x);
  const double a3 = -(m.r + x) * std::log(m.alpha + age);
  if (x <= 0) return a1 + a2 + a3;
  const double a4 = std::log(m.a) - std::log(m.b + x - 1) - (m.r + x) * std::log(m.alpha + t_x);
  return a1 + a2 + log_sum_exp(a3, a4);
}

double log_likelihood(const BgNbd& model, std::span<const CustomerSummary> customers) {
  double sum = 0;
  for (const auto& c : customers) sum += log_likelihood(model, c.frequency, c.recency, c.age);
  return sum;
}

BgNbdFit fit_bgnbd(std::span<const CustomerSummary> customers) {
  BgNbdFit out;
  out.customers = customers.size();
  if (customers.empty()) {
    out.problem = "no customers in the calibration period";
    return out;
  }
  if (std::none_of(customers.begin(), customers.end(),
                   [](const CustomerSummary& c) { return c.frequency > 0; })) {
    out.problem = "no customer bought twice in the calibration period";
    return out;
  }
  // Customers with the same (x, t_x, T) add the same term: each distinct one once, weighted.
  // The terms are sums of parts that depend on x alone, on T alone and on t_x alone: each part
  // is computed once per distinct value and evaluation, so that a row costs one exp and one log.
  std::map<std::tuple<double, double, double>, double> distinct;
  for (const auto& c : customers) distinct[{c.frequency, c.recency, c.age}] += 1;
  std::vector<double> xs, recencies, ages;
  for (const auto& c : customers) {
    xs.push_back(c.frequency);
    recencies.push_back(c.recency);
    ages.push_back(c.age);
  }
  for (auto* v : {&xs, &recencies, &ages}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const auto index_of = [](const std::vector<double>& v, double value) {
    return static_cast<std::size_t>(std::lower_bound(v.begin(), v.end(), value) - v.begin());
  };
  struct Row {
    std::size_t x, t_x, age;
    double weight;
  };
  std::vector<Row> rows;
  rows.reserve(distinct.size());
  for (const auto& [key, weight] : distinct) {
    rows.push_back({index_of(xs, std::get<0>(key)), index_of(recencies, std::get<1>(key)),
                    index_of(ages, std::get<2>(key)), weight});
  }
  const LogLikelihood f = [&](const std::vector<double>& p) {
    const BgNbd m{p[0], p[1], p[2], p[3]};
    // By x: the gamma and beta function terms, the rate exponent, and log(a / (b + x - 1)).
    std::vector<double> common(xs.size()), power(xs.size()), drop(xs.size());
    const double base =
        -std::lgamma(m.r) + m.r * std::log(m.alpha) + std::lgamma(m.a + m.b) - std::lgamma(m.b);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i];
      common[i] = base + std::lgamma(m.r + x) + std::lgamma(m.b + x) - std::lgamma(m.a + m.b + x);
      power[i] = m.r + x;
      drop[i] = x > 0 ? std::log(m.a) - std::log(m.b + x - 1) : 0;
    }
    std::vector<double> log_age(ages.size()), log_recency(recencies.size());
    for (std::size_t i = 0; i < ages.size(); ++i) log_age[i] = std::log(m.alpha + ages[i]);
    for (std::size_t i = 0; i < recencies.size(); ++i)
      log_recency[i] = std::log(m.alpha + recencies[i]);
    double sum = 0;
    for (const auto& row : rows) {
      const double a3 = -power[row.x] * log_age[row.age];
      const double term =
          xs[row.x] > 0 ? log_sum_exp(a3, drop[row.x] - power[row.x] * log_recency[row.t_x]) : a3;
      sum += row.weight * (common[row.x] + term);
    }
    return sum;
  };
  // The likelihood has a ridge towards a, b -> infinity (the NBD model, no dropping out) on
  // which a run can stall: three starts, the best kept.
  double mean_age = 0;
  for (const auto& c : customers) mean_age += c.age;
  mean_age = std::max(mean_age / static_cast<double>(customers.size()), 1e-3);
  Maximum best;
  int evaluations = 0;
  for (const auto& start :
       {std::vector<double>{1, 1, 1, 1}, std::vector<double>{0.1, 0.1, 0.1, 0.1},
        std::vector<double>{1, mean_age, 0.5, 3}}) {
    Maximum run = maximise(f, start);
    evaluations += run.evaluations;
    if (!best.ok || (run.ok && run.log_likelihood > best.log_likelihood)) best = std::move(run);
  }
  best.evaluations = evaluations;
  out.evaluations = best.evaluations;
  if (!best.ok) {
    out.problem = best.problem;
    return out;
  }
  const auto& p = best.parameters;
  out.model = {p[0], p[1], p[2], p[3]};
  out.log_likelihood = best.log_likelihood;
  if (const auto se = standard_errors(f, p))
    out.standard_errors = BgNbd{(*se)[0], (*se)[1], (*se)[2], (*se)[3]};
  out.ok = true;
  return out;
}

}  // namespace journey::runtime::model
