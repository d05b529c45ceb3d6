// Maximum likelihood for the models: NLopt's BOBYQA over the logarithms of the (positive)
// parameters, and standard errors from a finite-difference Hessian of the log-likelihood.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace journey::runtime::model {

/// A log-likelihood of positive parameters.
using LogLikelihood = std::function<double(const std::vector<double>& parameters)>;

/// Where the log-likelihood is largest.
struct Maximum {
  bool ok = false;
  std::vector<double> parameters;
  double log_likelihood = 0;
  int evaluations = 0;
  std::string problem;  // why not ok
};

/// Maximises `f` over positive parameters, starting from `start`.
Maximum maximise(const LogLikelihood& f, const std::vector<double>& start);

/// The standard errors at a maximum: the square roots of the diagonal of the inverse of the
/// negative Hessian. nullopt when a variance is not positive (a flat or odd likelihood).
std::optional<std::vector<double>> standard_errors(const LogLikelihood& f,
                                                   const std::vector<double>& at);

}  // namespace journey::runtime::model
