// The customer-base models behind the language's predictive functions (`p_alive()`,
// `expected_orders(D)`, `predicted_value(D)`): BG/NBD (Fader, Hardie and Lee, "Counting Your
// Customers the Easy Way", Marketing Science 2005) and Gamma-Gamma (Fader, Hardie and Lee, "RFM
// and CLV", JMR 2005; Fader and Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).
//
// The one home of their formulas: the engine evaluates them for a customer at an instant, and
// `journey model fit` (runtime/model) fits and checks the models with the same functions. Also
// the parameters' part of the model file, and a customer's purchases as the models count them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/state.hpp"
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

/// What the predictive functions read: the fitted parameters and what they count. The parameters'
/// part of the model file `journey model fit --out` writes (docs/models.md).
struct PurchaseModel {
  std::string event = "order_completed";      // the purchase event
  std::optional<std::string> value_property;  // with Gamma-Gamma: the purchase's value
  double unit_days = 7;                       // the parameters' time unit, in days
  BgNbd bgnbd;
  std::optional<GammaGamma> gamma_gamma;
};

/// The model file's format name and the highest version this build reads and writes.
inline constexpr const char* kModelFormat = "journey-model";
inline constexpr int kModelVersion = 1;

/// The parameters' part of a model file: format, version, event, unit, `bg_nbd` and
/// `gamma_gamma` with their parameters (the fit adds its statistics beside them).
nlohmann::json to_json(const PurchaseModel& model);

/// A model file read: the model, or what is wrong with it, naming the JSON path.
struct ModelRead {
  std::optional<PurchaseModel> model;
  std::string problem;  // e.g. "$.bg_nbd.alpha: expected a positive number"
};

/// Reads and checks a model file's JSON (unknown keys are ignored: the fit's statistics).
ModelRead read_model(const nlohmann::json& file);

/// What a model counts, as a stable hash of its event and value property: a customer's Purchases
/// counted under another model are not read, and a purchase starts them anew.
std::uint64_t model_key(const PurchaseModel& model);

/// Counts a purchase event at `at` (one per UTC day), with its properties for the value.
void count_purchase(const PurchaseModel& model, std::optional<Purchases>& purchases, Millis at,
                    const nlohmann::json& properties);

/// A predictive function of the language.
enum class Prediction : std::uint8_t {
  PAlive,          // p_alive()
  ExpectedOrders,  // expected_orders(D)
  PredictedValue,  // predicted_value(D)
};

/// The function's value for a customer at `now`, over `horizon_ms` (expected orders and value);
/// nothing for a customer without purchases (of the model's event and value property), for
/// predicted_value without Gamma-Gamma, or where the formula has no finite value.
std::optional<double> predict(const PurchaseModel& model, const std::optional<Purchases>& purchases,
                              Prediction what, std::int64_t horizon_ms, Millis now);

/// The next instant after `now` at which a comparison of the function with `level` can change
/// with no new purchase: the function falls as time passes, so this is the first instant at
/// which it is at or below `level` (below it, when it equals `level` now). Nothing when it is
/// below already, never falls that far, or would take more than 1000 years. Boost.Math's TOMS 748
/// root finder finds the crossing on the model's time; the instant is then checked against
/// predict() at the millisecond (a few steps either way), so that one millisecond before it the
/// comparison still has its value at `now`.
std::optional<Millis> falls_to(const PurchaseModel& model,
                               const std::optional<Purchases>& purchases, Prediction what,
                               std::int64_t horizon_ms, Millis now, double level);

}  // namespace journey::engine
