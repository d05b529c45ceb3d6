// Checking a fitted BG/NBD model against what happened after the calibration period: repeat
// purchases in a holdout period, predicted against actual, in total and by how often the
// customers bought in the calibration period; and the cumulative tracking curve of the paper.
#pragma once

#include <string>
#include <vector>

#include "runtime/model/bgnbd.hpp"
#include "runtime/model/history.hpp"

namespace journey::runtime::model {

/// The customers who made the same number of repeat purchases in the calibration period.
struct HoldoutBucket {
  std::string label;  // "0" .. "6", "7+"
  std::size_t customers = 0;
  double actual = 0;     // their purchases in the holdout
  double predicted = 0;  // E[Y(t) | x, t_x, T] summed over them
};

/// Predicted against actual purchases in the holdout [from, to].
struct HoldoutCheck {
  Day from = 0;
  Day to = 0;
  std::vector<HoldoutBucket> buckets;  // by calibration repeat purchases: 0 .. 6, 7+
  HoldoutBucket total;
};

/// The holdout check of the calibration cohort `customers` (summaries of `history`).
HoldoutCheck check_holdout(const BgNbd& model, const PurchaseHistory& history,
                           const std::vector<CustomerSummary>& customers,
                           const Calibration& calibration, Day from, Day to);

/// One point of the tracking curve: repeat purchases of the cohort up to and including `day`.
struct TrackingPoint {
  Day day = 0;
  double actual = 0;
  double predicted = 0;  // the sum of E[X(t)] over the cohort, t each customer's age that day
};

/// The cumulative repeat purchases of the cohort, actual and predicted, every `step` days from
/// the cohort's first purchase to `to`.
std::vector<TrackingPoint> track_cumulative(const BgNbd& model, const PurchaseHistory& history,
                                            const std::vector<CustomerSummary>& customers,
                                            const Calibration& calibration, Day to, Day step);

/// An SVG chart of the tracking curve, with a line at the end of the calibration period.
std::string tracking_svg(const std::vector<TrackingPoint>& points, const Calibration& calibration,
                         const std::string& title);

}  // namespace journey::runtime::model
