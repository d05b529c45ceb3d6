// The Gamma-Gamma spend model (Fader, Hardie and Lee, "RFM and CLV: Using Iso-Value Curves for
// Customer Base Analysis", JMR 2005; Fader and Hardie, "The Gamma-Gamma Model of Monetary Value",
// 2013): each customer's transaction values vary around a mean of their own, and those means
// vary across customers. Fitted on the customers with at least one repeat transaction, from the
// number and the mean value of their repeat transactions; independent of how often they buy.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "runtime/model/history.hpp"

namespace journey::runtime::model {

/// The three Gamma-Gamma parameters (v is the paper's gamma).
struct GammaGamma {
  double p = 1;  // shape of the values around a customer's own mean
  double q = 1;  // with v: how the customers' means are spread
  double v = 1;
};

/// A fitted Gamma-Gamma model.
struct GammaGammaFit {
  bool ok = false;
  std::string problem;  // why not ok
  GammaGamma model;
  std::optional<GammaGamma> standard_errors;
  double log_likelihood = 0;
  std::size_t customers = 0;  // those the fit used: a repeat transaction, a mean value above 0
  int evaluations = 0;
};

/// The log-likelihood of one customer's x repeat transactions of mean value `mean_value`.
double log_likelihood(const GammaGamma& model, double frequency, double mean_value);

/// The maximum likelihood fit on the customers with x > 0 and a mean value above 0.
GammaGammaFit fit_gamma_gamma(std::span<const CustomerSummary> customers);

/// E[M | x, mean value]: the value to expect from this customer's next transactions.
double expected_value(const GammaGamma& model, double frequency, double mean_value);

/// The mean transaction value the model implies for a customer about whom nothing is known.
double expected_value(const GammaGamma& model);

}  // namespace journey::runtime::model
