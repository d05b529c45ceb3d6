#include "runtime/model/holdout.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>

namespace journey::runtime::model {
namespace {

constexpr std::size_t kBuckets = 8;  // 0 .. 6 and 7+, as in the paper's conditional expectations

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

}  // namespace

HoldoutCheck check_holdout(const BgNbd& model, const PurchaseHistory& history,
                           const std::vector<CustomerSummary>& customers,
                           const Calibration& calibration, Day from, Day to) {
  HoldoutCheck out;
  out.from = from;
  out.to = to;
  out.buckets.resize(kBuckets);
  for (std::size_t i = 0; i < kBuckets; ++i)
    out.buckets[i].label = i + 1 < kBuckets ? std::to_string(i) : "7+";
  out.total.label = "all";
  // The holdout is (T + start, T + end] in model time, T the end of the calibration period.
  const double start = static_cast<double>(from - calibration.until - 1) / calibration.unit_days;
  const double end = static_cast<double>(to - calibration.until) / calibration.unit_days;
  std::map<std::tuple<double, double, double>, double> predicted;  // by (x, t_x, T): computed once
  for (const auto& c : customers) {
    const auto [it, fresh] = predicted.try_emplace({c.frequency, c.recency, c.age}, 0.0);
    if (fresh) {
      it->second = expected_purchases(model, c.frequency, c.recency, c.age, end) -
                   expected_purchases(model, c.frequency, c.recency, c.age, start);
    }
    const auto actual =
        static_cast<double>(transactions_between(history.customers[c.customer], from, to));
    auto& bucket = out.buckets[std::min(static_cast<std::size_t>(c.frequency), kBuckets - 1)];
    for (HoldoutBucket* b : {&bucket, &out.total}) {
      ++b->customers;
      b->actual += actual;
      b->predicted += it->second;
    }
  }
  return out;
}

std::vector<TrackingPoint> track_cumulative(const BgNbd& model, const PurchaseHistory& history,
                                            const std::vector<CustomerSummary>& customers,
                                            const Calibration& calibration, Day to, Day step) {
  std::vector<TrackingPoint> out;
  if (customers.empty() || step <= 0) return out;
  std::map<Day, double> cohort_by_first_day;  // customers by the day of their first purchase
  std::map<Day, double> repeats_by_day;
  for (const auto& c : customers) {
    cohort_by_first_day[c.first_day] += 1;
    const auto& t = history.customers[c.customer].transactions;
    for (std::size_t i = 1; i < t.size() && t[i].day <= to; ++i) repeats_by_day[t[i].day] += 1;
  }
  const Day first = cohort_by_first_day.begin()->first;
  std::unordered_map<Day, double> expected_at_age;  // E[X(t)] by age in days
  const auto expected = [&](Day age) {
    const auto [it, fresh] = expected_at_age.try_emplace(age, 0.0);
    if (fresh)
      it->second = expected_purchases(model, static_cast<double>(age) / calibration.unit_days);
    return it->second;
  };
  double actual = 0;
  auto next_repeat = repeats_by_day.begin();
  for (Day day = first; day <= to + step - 1; day += step) {
    const Day at = std::min(day, to);
    for (; next_repeat != repeats_by_day.end() && next_repeat->first <= at; ++next_repeat)
      actual += next_repeat->second;
    double predicted = 0;
    for (const auto& [first_day, count] : cohort_by_first_day) {
      if (first_day < at) predicted += count * expected(at - first_day);
    }
    out.push_back({at, actual, predicted});
    if (at == to) break;
  }
  return out;
}

std::string tracking_svg(const std::vector<TrackingPoint>& points, const Calibration& calibration,
                         const std::string& title) {
  constexpr double kWidth = 720, kHeight = 440, kLeft = 70, kRight = 20, kTop = 40, kBottom = 60;
  std::ostringstream svg;
  svg << R"(<svg xmlns="http://www.w3.org/2000/svg" width=")" << kWidth << R"(" height=")"
      << kHeight << R"(" font-family="sans-serif" font-size="12">)"
      << "\n";
  svg << R"(<rect width="100%" height="100%" fill="white"/>)"
      << "\n";
  if (points.empty()) {
    svg << "</svg>\n";
    return svg.str();
  }
  const Day first = points.front().day;
  const double unit = calibration.unit_days;
  const double x_max = std::max(static_cast<double>(points.back().day - first) / unit, 1.0);
  double y_max = 1;
  for (const auto& p : points) y_max = std::max({y_max, p.actual, p.predicted});
  // A round top for the vertical axis: 1, 2 or 5 times a power of ten, five ticks or so.
  const double raw = y_max / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double tick = raw / power <= 1   ? power
                      : raw / power <= 2 ? 2 * power
                      : raw / power <= 5 ? 5 * power
                                         : 10 * power;
  const double top = std::ceil(y_max / tick) * tick;
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kHeight - kTop - kBottom;
  const auto px = [&](double x) { return kLeft + x / x_max * plot_w; };
  const auto py = [&](double y) { return kTop + plot_h - y / top * plot_h; };
  const auto unit_x = [&](Day day) { return static_cast<double>(day - first) / unit; };
  const std::string unit_name = unit == 1 ? "days" : "weeks";
  svg << R"(<text x=")" << kWidth / 2 << R"(" y="22" text-anchor="middle" font-size="14">)" << title
      << "</text>\n";
  // Axes, ticks and grid.
  svg << R"(<g stroke="#ccc">)";
  for (double y = 0; y <= top + tick / 2; y += tick) {
    svg << R"(<line x1=")" << kLeft << R"(" x2=")" << kLeft + plot_w << R"(" y1=")"
        << fixed(py(y), 1) << R"(" y2=")" << fixed(py(y), 1) << R"("/>)";
  }
  svg << "</g>\n";
  for (double y = 0; y <= top + tick / 2; y += tick) {
    svg << R"(<text x=")" << kLeft - 6 << R"(" y=")" << fixed(py(y) + 4, 1)
        << R"(" text-anchor="end">)" << fixed(y, 0) << "</text>\n";
  }
  const double x_tick = x_max > 200 ? 50 : x_max > 80 ? 20 : 10;
  for (double x = 0; x <= x_max + 1e-9; x += x_tick) {
    svg << R"(<text x=")" << fixed(px(x), 1) << R"(" y=")" << kTop + plot_h + 18
        << R"(" text-anchor="middle">)" << fixed(x, 0) << "</text>\n";
  }
  svg << R"(<line x1=")" << kLeft << R"(" y1=")" << kTop + plot_h << R"(" x2=")" << kLeft + plot_w
      << R"(" y2=")" << kTop + plot_h << R"(" stroke="black"/>)"
      << "\n";
  svg << R"(<line x1=")" << kLeft << R"(" y1=")" << kTop << R"(" x2=")" << kLeft << R"(" y2=")"
      << kTop + plot_h << R"(" stroke="black"/>)"
      << "\n";
  svg << R"(<text x=")" << kLeft + plot_w / 2 << R"(" y=")" << kHeight - 18
      << R"(" text-anchor="middle">)" << unit_name << " since " << format_day(first) << "</text>\n";
  svg << R"svg(<text transform="translate(18 )svg" << kTop + plot_h / 2
      << R"svg() rotate(-90)" text-anchor="middle">cumulative repeat purchases</text>)svg"
      << "\n";
  // The end of the calibration period.
  const double cut = px(std::min(unit_x(calibration.until), x_max));
  svg << R"(<line x1=")" << fixed(cut, 1) << R"(" y1=")" << kTop << R"(" x2=")" << fixed(cut, 1)
      << R"(" y2=")" << kTop + plot_h << R"(" stroke="#888" stroke-dasharray="2 3"/>)"
      << "\n";
  svg << R"(<text x=")" << fixed(cut + 4, 1) << R"(" y=")" << kTop + 12
      << R"(" fill="#555">end of calibration</text>)"
      << "\n";
  const auto polyline = [&](auto value, const char* style) {
    svg << R"(<polyline fill="none" )" << style << R"( points=")";
    for (const auto& p : points)
      svg << fixed(px(unit_x(p.day)), 1) << "," << fixed(py(value(p)), 1) << " ";
    svg << R"("/>)"
        << "\n";
  };
  polyline([](const TrackingPoint& p) { return p.actual; }, R"(stroke="black" stroke-width="2")");
  polyline([](const TrackingPoint& p) { return p.predicted; },
           R"(stroke="#d62728" stroke-width="2" stroke-dasharray="6 4")");
  // The legend.
  svg << R"svg(<g transform="translate()svg" << kLeft + 16 << " " << kTop + 16 << R"svg()">)svg"
      << R"(<line x1="0" y1="0" x2="28" y2="0" stroke="black" stroke-width="2"/>)"
      << R"(<text x="34" y="4">actual</text>)"
      << R"(<line x1="0" y1="18" x2="28" y2="18" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>)"
      << R"(<text x="34" y="22">predicted (BG/NBD)</text></g>)"
      << "\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace journey::runtime::model
