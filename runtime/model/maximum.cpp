#include "runtime/model/maximum.hpp"

#include <nlopt.h>

#include <cmath>
#include <limits>

namespace journey::runtime::model {
namespace {

struct Objective {
  const LogLikelihood* f = nullptr;
  int evaluations = 0;
  std::vector<double> natural;
};

// NLopt's callback: the log-likelihood at exp(x); no gradient (BOBYQA needs none).
double objective(unsigned n, const double* x, double* gradient, void* data) {
  (void)gradient;
  auto& o = *static_cast<Objective*>(data);
  ++o.evaluations;
  o.natural.resize(n);
  for (unsigned i = 0; i < n; ++i) o.natural[i] = std::exp(x[i]);
  const double value = (*o.f)(o.natural);
  // A finite floor keeps the trust region method working where the likelihood underflows.
  return std::isfinite(value) ? value : -1e300;
}

// One local run from `x`, which holds the result.
nlopt_result run(nlopt_opt opt, std::vector<double>& x, double& best) {
  return nlopt_optimize(opt, x.data(), &best);
}

}  // namespace

Maximum maximise(const LogLikelihood& f, const std::vector<double>& start) {
  Maximum out;
  const auto n = static_cast<unsigned>(start.size());
  std::vector<double> x(n);
  for (unsigned i = 0; i < n; ++i) x[i] = std::log(start[i]);
  Objective o{&f, 0, {}};
  nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, n);
  if (opt == nullptr) {
    out.problem = "the optimiser could not start";
    return out;
  }
  const std::vector<double> lower(n, -30.0);
  const std::vector<double> upper(n, 30.0);
  nlopt_set_lower_bounds(opt, lower.data());
  nlopt_set_upper_bounds(opt, upper.data());
  nlopt_set_max_objective(opt, objective, &o);
  nlopt_set_xtol_abs1(opt, 1e-10);
  nlopt_set_ftol_abs(opt, 1e-12);
  nlopt_set_maxeval(opt, 20000);
  double best = 0;
  // A second run from the first one's answer, with a fresh trust region, confirms the maximum.
  nlopt_result result = run(opt, x, best);
  if (result > 0) result = run(opt, x, best);
  nlopt_destroy(opt);
  out.evaluations = o.evaluations;
  if (result < 0 || !std::isfinite(best) || best <= -1e300) {
    out.problem = result < 0 ? "the optimiser failed (NLopt code " +
                                   std::to_string(static_cast<int>(result)) + ")"
                             : "the likelihood is zero everywhere it looked";
    return out;
  }
  out.parameters.resize(n);
  for (unsigned i = 0; i < n; ++i) out.parameters[i] = std::exp(x[i]);
  out.log_likelihood = f(out.parameters);
  out.ok = true;
  if (result == NLOPT_MAXEVAL_REACHED) {
    out.ok = false;
    out.problem =
        "the optimiser did not converge in " + std::to_string(out.evaluations) + " evaluations";
  }
  return out;
}

std::optional<std::vector<double>> standard_errors(const LogLikelihood& f,
                                                   const std::vector<double>& at) {
  const std::size_t n = at.size();
  std::vector<double> h(n);
  for (std::size_t i = 0; i < n; ++i) h[i] = 1e-4 * std::max(std::abs(at[i]), 1e-3);
  const auto value = [&](std::size_t i, double di, std::size_t j, double dj) {
    std::vector<double> p = at;
    p[i] += di * h[i];
    p[j] += dj * h[j];
    return f(p);
  };
  // The information matrix (minus the Hessian), by central differences, beside an identity
  // matrix that Gauss-Jordan elimination turns into its inverse.
  const double centre = f(at);
  std::vector<std::vector<double>> m(n, std::vector<double>(2 * n, 0.0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) {
      double second = 0;
      if (i == j) {
        second = (value(i, 1, i, 1) - 2 * centre + value(i, -1, i, -1)) / (4 * h[i] * h[i]);
      } else {
        second =
            (value(i, 1, j, 1) - value(i, 1, j, -1) - value(i, -1, j, 1) + value(i, -1, j, -1)) /
            (4 * h[i] * h[j]);
      }
      m[i][j] = m[j][i] = -second;
    }
    m[i][n + i] = 1;
  }
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r) {
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    }
    if (!(std::abs(m[pivot][col]) > 0)) return std::nullopt;
    std::swap(m[col], m[pivot]);
    const double d = m[col][col];
    for (auto& v : m[col]) v /= d;
    for (std::size_t r = 0; r < n; ++r) {
      if (r == col) continue;
      const double factor = m[r][col];
      for (std::size_t c = 0; c < 2 * n; ++c) m[r][c] -= factor * m[col][c];
    }
  }
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double variance = m[i][n + i];
    if (!(variance > 0) || !std::isfinite(variance)) return std::nullopt;
    out[i] = std::sqrt(variance);
  }
  return out;
}

}  // namespace journey::runtime::model
