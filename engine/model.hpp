// The customer-base models: BG/NBD (Fader, Hardie and Lee, "Counting Your
// Customers the Easy Way", Marketing Science 2005) and Gamma-Gamma (Fader, Hardie and Lee, "RFM
// and CLV", JMR 2005; Fader and Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).
//
// The one home of their formulas, where the engine can evaluate them for a customer at an
// instant; `journey model fit` (runtime/model) fits and checks the models with the same functions.
#pragma once

#include <cstdint>

#include "engine/time.hpp"

namespace journey::engine {

/// The four BG/NBD parameters, in the time unit of the data they were fitted on.
struct BgNbd {
  double r = 1;      // shape of the purchase rates: small r, customers differ much
  double alpha = 1;  // scale of the purchase rates: mean rate r / alpha per unit
  double a = 1;      // with b: the chance of dropping out after a purchase, mean a / (a + b)
  double b = 1;
};

/// The three Gamma-Gamma parameters (v is the paper's gamma).
struct GammaGamma {
  double p = 1;  // shape of the values around a customer's own mean
  double q = 1;  // with v: how the customers' means are spread
  double v = 1;
};

/// P(alive | x, t_x, T): the probability that a customer with x repeat purchases, the last at
/// t_x, observed until T (times from the first purchase) is still a customer. 1 when x = 0.
double p_alive(const BgNbd& model, double frequency, double recency, double age);

/// E[X(t)]: the purchases a new customer makes in their first `t` units, after the first one.
double expected_purchases(const BgNbd& model, double t);

/// E[Y(t) | x, t_x, T]: the purchases a customer with this history makes in the next `t` units.
/// NaN where the hypergeometric series does not converge.
double expected_purchases(const BgNbd& model, double frequency, double recency, double age,
                          double t);

/// E[M | x, mean value]: the value to expect from a customer's next transactions, from x
/// transactions of this mean value (x = 0: the population mean).
double expected_value(const GammaGamma& model, double frequency, double mean_value);

/// The mean transaction value the model implies for a customer about whom nothing is known.
double expected_value(const GammaGamma& model);

/// The UTC day of an instant, in days since 1970-01-01: purchases on one day are one transaction.
std::int64_t purchase_day(Millis at);

}  // namespace journey::engine
