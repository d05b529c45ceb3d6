// The BG/NBD model (Fader, Hardie and Lee, "Counting Your Customers the Easy Way", Marketing
// Science 2005): while alive, a customer buys at a steady rate of their own (gamma across
// customers: r, alpha); after each purchase they may drop out for good (beta across customers:
// a, b). Fitted by maximum likelihood on each customer's (frequency, recency, age).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "runtime/model/history.hpp"

namespace journey::runtime::model {

/// The four BG/NBD parameters, in the time unit of the data they were fitted on.
struct BgNbd {
  double r = 1;      // shape of the purchase rates: small r, customers differ much
  double alpha = 1;  // scale of the purchase rates: mean rate r / alpha per unit
  double a = 1;      // with b: the chance of dropping out after a purchase, mean a / (a + b)
  double b = 1;
};

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

/// The probability that a customer with this history is still a customer at its end.
double p_alive(const BgNbd& model, double frequency, double recency, double age);

/// E[X(t)]: the purchases a new customer makes in their first `t` units, after the first one.
double expected_purchases(const BgNbd& model, double t);

/// E[Y(t) | x, t_x, T]: the purchases a customer with this history makes in the next `t` units.
double expected_purchases(const BgNbd& model, double frequency, double recency, double age,
                          double t);

}  // namespace journey::runtime::model
