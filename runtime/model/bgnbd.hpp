// The BG/NBD model (Fader, Hardie and Lee, "Counting Your Customers the Easy Way", Marketing
// Science 2005): while alive, a customer buys at a steady rate of their own (gamma across
// customers: r, alpha); after each purchase they may drop out for good (beta across customers:
// a, b). Fitted by maximum likelihood on each customer's (frequency, recency, age).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "engine/model.hpp"
#include "runtime/model/history.hpp"

namespace journey::runtime::model {

// The parameters and the formulas live with the engine, which evaluates them for the language.
using engine::BgNbd;
using engine::expected_purchases;
using engine::p_alive;

/// A fitted BG/NBD model.
struct BgNbdFit {
  bool ok = false;
  std::string problem;  // why not ok
  BgNbd model;
  std::optional<BgNbd> standard_errors;  // nullopt when the Hessian gives none
  double log_likelihood = 0;
  std::size_t customers = 0;
  int evaluations = 0;
};

/// The log-likelihood of one customer's (x, t_x, T).
double log_likelihood(const BgNbd& model, double frequency, double recency, double age);

/// The log-likelihood of a calibration cohort.
double log_likelihood(const BgNbd& model, std::span<const CustomerSummary> customers);

/// The maximum likelihood fit. Identical summaries are counted once with a weight.
BgNbdFit fit_bgnbd(std::span<const CustomerSummary> customers);

}  // namespace journey::runtime::model
