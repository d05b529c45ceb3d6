// The closed form of the instant P(alive) falls below a level, for the tests that check the
// engine's root finder against it (tests/engine/model_test.cpp, tests/cli/predict_test.cpp).
#pragma once

#include <cmath>

#include "engine/model.hpp"

namespace journey::test {

/// The first whole millisecond at which P(alive) is below `level`, for a customer with x > 0
/// repeat purchase days, the last `recency` weeks after the first purchase day, which starts at
/// `first_day`, under a BG/NBD model in weeks: P(alive) = level solved for T,
/// T = (alpha + t_x) ((1 / level - 1) (b + x - 1) / a)^(1 / (r + x)) - alpha.
inline engine::Millis p_alive_crossing(const engine::BgNbd& m, double x, double recency,
                                       engine::Millis first_day, double level) {
  constexpr long double kWeek = 7.0L * 86'400'000;
  const long double weeks =
      (m.alpha + recency) *
          std::pow((1 / static_cast<long double>(level) - 1) * (m.b + x - 1) / m.a, 1 / (m.r + x)) -
      m.alpha;
  return static_cast<engine::Millis>(
             std::floor(static_cast<long double>(first_day) + weeks * kWeek)) +
         1;
}

}  // namespace journey::test
