#include "engine/model.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

// Boost 1.74's pFq header uses lgamma and expm1 without including their headers.
#include <boost/math/special_functions/expm1.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/hypergeometric_pFq.hpp>

namespace journey::engine {
namespace {

constexpr Millis kDayMillis = 86'400'000;

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

std::int64_t purchase_day(Millis at) {
  return at >= 0 ? at / kDayMillis : -((-at + kDayMillis - 1) / kDayMillis);
}

}  // namespace journey::engine
