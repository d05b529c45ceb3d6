#include "engine/model.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>
#include <vector>

// Boost 1.74's pFq header uses lgamma and expm1 without including their headers.
#include <boost/math/special_functions/expm1.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/hypergeometric_pFq.hpp>
#include <boost/math/tools/toms748_solve.hpp>

#include "engine/hash.hpp"

namespace journey::engine {
namespace {

constexpr Millis kDayMillis = 86'400'000;
// How far ahead a crossing is looked for, in days.
constexpr double kHorizonDays = 1000 * 365.25;
// Millisecond steps allowed when the root finder's instant is checked against predict().
constexpr int kCheckSteps = 8;

// Gauss' 2F1(a, b; c; z) for 0 <= z < 1, where its series converges; NaN where it does not
// (the policy turns Boost's evaluation errors into NaN instead of exceptions).
double hypergeometric_2f1(double a, double b, double c, double z) {
  namespace policies = boost::math::policies;
  using Quiet = policies::policy<policies::evaluation_error<policies::ignore_error>,
                                 policies::overflow_error<policies::ignore_error>>;
  try {
    return boost::math::hypergeometric_pFq({a, b}, {c}, z, static_cast<double*>(nullptr), Quiet());
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

// A number at `key` of `object`, positive and finite; else the problem, naming the path.
std::optional<double> positive(const nlohmann::json& object, const std::string& path,
                               const char* key, std::string& problem) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number() || !std::isfinite(it->get<double>()) ||
      it->get<double>() <= 0) {
    problem =
        path + "." + key +
        (it == object.end() ? ": missing (a positive number)" : ": expected a positive number");
    return std::nullopt;
  }
  return it->get<double>();
}

// The positive finite numbers at `keys` of `object`, in order; else the first problem.
std::optional<std::vector<double>> positives(const nlohmann::json& object, const std::string& path,
                                             std::initializer_list<const char*> keys,
                                             std::string& problem) {
  std::vector<double> out;
  for (const char* key : keys) {
    const auto value = positive(object, path, key, problem);
    if (!value) return std::nullopt;
    out.push_back(*value);
  }
  return out;
}

// A non-empty string at `key` of `object`; else the problem, naming the path.
std::optional<std::string> name(const nlohmann::json& object, const std::string& path,
                                const char* key, std::string& problem) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    problem =
        path + "." + key + (it == object.end() ? ": missing" : ": expected a non-empty string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

// The purchase's value: the model's value property when it is a number of 0 or more.
std::optional<double> value_of(const PurchaseModel& model, const nlohmann::json& properties) {
  if (!model.value_property || !properties.is_object()) return std::nullopt;
  const auto it = properties.find(*model.value_property);
  if (it == properties.end() || !it->is_number()) return std::nullopt;
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0) return std::nullopt;
  return value;
}

// Whether the purchases were counted for this model's event and value property.
bool counted_for(const PurchaseModel& model, const Purchases& purchases) {
  return purchases.model == model_key(model);
}

// The function at the customer's age `age` (model units since the start of the first purchase
// day), their purchases otherwise as counted.
double value_at_age(const PurchaseModel& model, const Purchases& purchases, Prediction what,
                    double horizon, double age) {
  const double x = static_cast<double>(purchases.days - 1);
  const double t_x =
      static_cast<double>(purchases.last_day - purchases.first_day) / model.unit_days;
  const double t = std::max(age, t_x);
  switch (what) {
    case Prediction::PAlive: return p_alive(model.bgnbd, x, t_x, t);
    case Prediction::ExpectedOrders: return expected_purchases(model.bgnbd, x, t_x, t, horizon);
    case Prediction::PredictedValue: {
      if (!model.gamma_gamma) return std::numeric_limits<double>::quiet_NaN();
      const double n = static_cast<double>(purchases.valued_days);
      const double mean = purchases.valued_days > 0 ? purchases.repeat_value / n : 0;
      return expected_purchases(model.bgnbd, x, t_x, t, horizon) *
             expected_value(*model.gamma_gamma, n, mean);
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double p_alive(const BgNbd& m, double x, double t_x, double age) {
  if (x <= 0) return 1;
  const double log_odds = std::log(m.a) - std::log(m.b + x - 1) +
                          (m.r + x) * (std::log(m.alpha + age) - std::log(m.alpha + t_x));
  return 1 / (1 + std::exp(log_odds));
}

double expected_purchases(const BgNbd& m, double t) {
  if (t <= 0) return 0;
  const double z = t / (m.alpha + t);
  const double f = hypergeometric_2f1(m.r, m.b, m.a + m.b - 1, z);
  return (m.a + m.b - 1) / (m.a - 1) * (1 - std::pow(m.alpha / (m.alpha + t), m.r) * f);
}

double expected_purchases(const BgNbd& m, double x, double t_x, double age, double t) {
  if (t <= 0) return 0;
  const double z = t / (m.alpha + age + t);
  const double f = hypergeometric_2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z);
  const double head = (m.a + m.b + x - 1) / (m.a - 1) *
                      (1 - std::pow((m.alpha + age) / (m.alpha + age + t), m.r + x) * f);
  const double tail =
      x > 0 ? m.a / (m.b + x - 1) * std::pow((m.alpha + age) / (m.alpha + t_x), m.r + x) : 0;
  return head / (1 + tail);
}

double expected_value(const GammaGamma& m, double x, double mean) {
  return (m.v + x * mean) * m.p / (m.p * x + m.q - 1);
}

double expected_value(const GammaGamma& m) {
  return m.p * m.v / (m.q - 1);
}

std::uint64_t model_key(const PurchaseModel& model) {
  // Chained rather than over a joined key: no allocation, and ("ab", "c") still differs from
  // ("a", "bc") since the event's hash seeds the property's.
  const std::uint64_t event = stable_hash(model.event, 0x70757263686173ULL);
  return model.value_property ? stable_hash(*model.value_property, event) : event;
}

std::int64_t purchase_day(Millis at) {
  return at >= 0 ? at / kDayMillis : -((-at + kDayMillis - 1) / kDayMillis);
}

nlohmann::json to_json(const PurchaseModel& m) {
  nlohmann::json out;
  out["format"] = kModelFormat;
  out["version"] = kModelVersion;
  out["event"] = m.event;
  if (m.unit_days == 1 || m.unit_days == 7) out["unit"] = m.unit_days == 1 ? "day" : "week";
  out["unit_days"] = m.unit_days;
  out["bg_nbd"] = {{"r", m.bgnbd.r}, {"alpha", m.bgnbd.alpha}, {"a", m.bgnbd.a}, {"b", m.bgnbd.b}};
  if (m.gamma_gamma && m.value_property) {
    const auto& g = *m.gamma_gamma;
    out["gamma_gamma"] = {{"property", *m.value_property}, {"p", g.p}, {"q", g.q}, {"v", g.v}};
  }
  return out;
}

ModelRead read_model(const nlohmann::json& file) {
  ModelRead out;
  std::string& problem = out.problem;
  if (!file.is_object()) {
    problem = "$: expected a JSON object (a model file of `journey model fit --out`)";
    return out;
  }
  const auto format = file.find("format");
  if (format == file.end() || *format != kModelFormat) {
    problem = std::string("$.format: expected \"") + kModelFormat +
              "\" (a model file of `journey model fit --out`)";
    return out;
  }
  const auto version = file.find("version");
  if (version == file.end() || !version->is_number_integer() || version->get<std::int64_t>() < 1) {
    problem = "$.version: expected a whole number from 1";
    return out;
  }
  if (version->get<std::int64_t>() > kModelVersion) {
    problem = "$.version: version " + version->dump() + " is newer than this build reads (" +
              std::to_string(kModelVersion) + ")";
    return out;
  }
  PurchaseModel model;
  const auto event = name(file, "$", "event", problem);
  const auto unit_days = positive(file, "$", "unit_days", problem);
  if (!event || !unit_days) return out;
  model.event = *event;
  model.unit_days = *unit_days;
  const auto bg = file.find("bg_nbd");
  if (bg == file.end() || !bg->is_object()) {
    problem = "$.bg_nbd: expected an object with r, alpha, a and b";
    return out;
  }
  const auto bgnbd = positives(*bg, "$.bg_nbd", {"r", "alpha", "a", "b"}, problem);
  if (!bgnbd) return out;
  model.bgnbd = {(*bgnbd)[0], (*bgnbd)[1], (*bgnbd)[2], (*bgnbd)[3]};
  if (model.bgnbd.a == 1) {
    problem = "$.bg_nbd.a: 1 is a singular point of the expected purchases (refit the model)";
    return out;
  }
  if (const auto gg = file.find("gamma_gamma"); gg != file.end()) {
    if (!gg->is_object()) {
      problem = "$.gamma_gamma: expected an object with property, p, q and v";
      return out;
    }
    const auto property = name(*gg, "$.gamma_gamma", "property", problem);
    const auto pqv =
        property ? positives(*gg, "$.gamma_gamma", {"p", "q", "v"}, problem) : std::nullopt;
    if (!pqv) return out;
    if ((*pqv)[1] <= 1) {
      problem = "$.gamma_gamma.q: must be above 1, else the mean value p v / (q - 1) is infinite";
      return out;
    }
    model.value_property = *property;
    model.gamma_gamma = GammaGamma{(*pqv)[0], (*pqv)[1], (*pqv)[2]};
  }
  out.model = std::move(model);
  return out;
}

void count_purchase(const PurchaseModel& model, std::optional<Purchases>& purchases, Millis at,
                    const nlohmann::json& properties) {
  const std::int64_t day = purchase_day(at);
  if (!purchases || !counted_for(model, *purchases)) {
    // The first purchase, or the first this model counts: the count starts. The first day's
    // value is not a repeat transaction's.
    purchases = Purchases{};
    purchases->model = model_key(model);
    purchases->first_day = day;
    purchases->last_day = day;
    purchases->days = 1;
    return;
  }
  const auto value = value_of(model, properties);
  Purchases& p = *purchases;
  if (day > p.last_day) {
    p.last_day = day;
    ++p.days;
    p.last_day_valued = false;
  }
  if (!value || p.last_day == p.first_day) return;
  p.repeat_value += *value;
  if (!p.last_day_valued) {
    ++p.valued_days;
    p.last_day_valued = true;
  }
}

std::optional<double> predict(const PurchaseModel& model, const std::optional<Purchases>& purchases,
                              Prediction what, std::int64_t horizon_ms, Millis now) {
  if (!purchases || !counted_for(model, *purchases) || purchases->days < 1) return std::nullopt;
  const double unit_ms = model.unit_days * kDayMillis;
  const double age = static_cast<double>(now - purchases->first_day * kDayMillis) / unit_ms;
  const double v =
      value_at_age(model, *purchases, what, static_cast<double>(horizon_ms) / unit_ms, age);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<Millis> falls_to(const PurchaseModel& model,
                               const std::optional<Purchases>& purchases, Prediction what,
                               std::int64_t horizon_ms, Millis now, double level) {
  const auto now_value = predict(model, purchases, what, horizon_ms, now);
  if (!now_value || !(*now_value >= level)) return std::nullopt;
  // At the level now: the comparison changes when the value falls below it.
  const bool strictly = *now_value == level;
  const auto past = [&](Millis t) {
    const auto v = predict(model, purchases, what, horizon_ms, t);
    return v && (strictly ? *v < level : *v <= level);
  };
  const double unit_ms = model.unit_days * kDayMillis;
  const Millis anchor = purchases->first_day * kDayMillis;
  const double horizon = static_cast<double>(horizon_ms) / unit_ms;
  const auto gap = [&](double age) {
    return value_at_age(model, *purchases, what, horizon, age) - level;
  };
  const double from = static_cast<double>(now - anchor) / unit_ms;
  const double to = from + kHorizonDays / model.unit_days;
  const double gap_from = gap(from);
  const double gap_to = gap(to);
  if (!std::isfinite(gap_from) || !std::isfinite(gap_to) || gap_to > 0 || (gap_to == 0 && strictly))
    return std::nullopt;
  double root = from;
  if (gap_from > 0) {
    // Stop when the bracket is a hundredth of a millisecond wide.
    const double width = 0.01 / unit_ms;
    boost::uintmax_t iterations = 200;
    try {
      const auto bracket = boost::math::tools::toms748_solve(
          gap, from, to, gap_from, gap_to,
          [width](double lo, double hi) { return hi - lo <= width; }, iterations);
      root = bracket.second;
    } catch (const std::exception&) {
      return std::nullopt;  // a NaN on the way: no instant can be told
    }
  }
  Millis at = std::max(
      now + 1, static_cast<Millis>(std::ceil(static_cast<double>(anchor) + root * unit_ms)));
  for (int i = 0; i < kCheckSteps && at - 1 > now && past(at - 1); ++i) --at;
  for (int i = 0; i < kCheckSteps && !past(at); ++i) ++at;
  return at;
}

}  // namespace journey::engine
