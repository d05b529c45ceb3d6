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

#include "engine/model.hpp"
#include "runtime/model/history.hpp"

namespace journey::runtime::model {

// The parameters and the formulas live with the engine, which evaluates them for the language.
using engine::expected_value;
using engine::GammaGamma;

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

}  // namespace journey::runtime::model
