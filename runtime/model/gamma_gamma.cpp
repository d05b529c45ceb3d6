#include "runtime/model/gamma_gamma.hpp"

#include <cmath>
#include <vector>

#include "runtime/model/maximum.hpp"

namespace journey::runtime::model {

double log_likelihood(const GammaGamma& m, double x, double mean) {
  const double px = m.p * x;
  return std::lgamma(px + m.q) - std::lgamma(px) - std::lgamma(m.q) + m.q * std::log(m.v) +
         (px - 1) * std::log(mean) + px * std::log(x) - (px + m.q) * std::log(m.v + x * mean);
}

GammaGammaFit fit_gamma_gamma(std::span<const CustomerSummary> customers) {
  GammaGammaFit out;
  std::vector<std::pair<double, double>> rows;  // (x, mean value)
  double mean = 0;
  for (const auto& c : customers) {
    if (c.frequency > 0 && c.mean_value > 0) {
      rows.emplace_back(c.frequency, c.mean_value);
      mean += c.mean_value;
    }
  }
  out.customers = rows.size();
  if (rows.size() < 2) {
    out.problem = "fewer than two customers with a repeat transaction of some value";
    return out;
  }
  mean /= static_cast<double>(rows.size());
  const LogLikelihood f = [&rows](const std::vector<double>& p) {
    const GammaGamma m{p[0], p[1], p[2]};
    double sum = 0;
    for (const auto& [x, value] : rows) sum += log_likelihood(m, x, value);
    return sum;
  };
  // Start where the implied mean value p v / (q - 1) is the sample's.
  const Maximum best = maximise(f, {1.0, 2.0, mean});
  out.evaluations = best.evaluations;
  if (!best.ok) {
    out.problem = best.problem;
    return out;
  }
  const auto& p = best.parameters;
  out.model = {p[0], p[1], p[2]};
  out.log_likelihood = best.log_likelihood;
  if (const auto se = standard_errors(f, p))
    out.standard_errors = GammaGamma{(*se)[0], (*se)[1], (*se)[2]};
  out.ok = true;
  return out;
}

}  // namespace journey::runtime::model
