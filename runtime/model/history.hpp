// Purchase histories for the customer-base models: the purchase events of a Segment NDJSON file,
// one transaction per customer and UTC day (same-day purchases are one transaction, as in Fader,
// Hardie and Lee 2005), and each customer's (frequency, recency, age, mean value) summary.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace journey::runtime::model {

/// Days since 1970-01-01 (UTC).
using Day = std::int64_t;

/// One transaction: a day on which the customer bought, and what they spent that day.
struct Transaction {
  Day day = 0;
  double value = 0;  // the sum of the day's `--value` property; 0 without one
};

/// One customer's transactions, in day order, one per day.
struct CustomerPurchases {
  std::string customer_id;
  std::vector<Transaction> transactions;
};

/// Every customer who bought, in customer id order.
struct PurchaseHistory {
  std::vector<CustomerPurchases> customers;
  std::optional<Day> first_day;  // of any transaction
  std::optional<Day> last_day;
  std::uint64_t lines = 0;      // input lines read
  std::uint64_t purchases = 0;  // purchase events taken (before same-day merging)
};

/// Which events are purchases, and what they are worth.
struct PurchaseReading {
  std::string event = "order_completed";      // track events of this name
  std::optional<std::string> value_property;  // a number in `properties` (`amount`)
};

/// A line that could not be taken: its line number (from 1) and why.
struct InputProblem {
  std::uint64_t line = 0;
  std::string message;
};

/// What reading a file gave: the history, the lines refused, or that the file cannot be read.
struct PurchaseRead {
  bool opened = false;
  PurchaseHistory history;
  std::vector<InputProblem> problems;  // at most `kMaxProblems`, then `more_problems` counts
  std::uint64_t more_problems = 0;
};

/// Refused lines kept in a PurchaseRead; the rest are only counted.
inline constexpr std::size_t kMaxProblems = 20;

/// Reads Segment NDJSON events (the simulator's scanner, the engine's parser for the rest) and
/// keeps the purchases. With a value property, a purchase without a number there is refused.
PurchaseRead read_purchases(const std::string& path, const PurchaseReading& reading);

/// The same from a stream of NDJSON lines; `opened` is true.
PurchaseRead read_purchases(std::istream& in, const PurchaseReading& reading);

/// A customer as the models see them at the end of the calibration period, in model time units.
struct CustomerSummary {
  std::size_t customer = 0;  // index in PurchaseHistory::customers
  Day first_day = 0;
  double frequency = 0;   // x: repeat transactions (all but the first) in the calibration period
  double recency = 0;     // t_x: from the first to the last transaction; 0 when x = 0
  double age = 0;         // T: from the first transaction to the end of the calibration period
  double mean_value = 0;  // mean value of the repeat transactions; 0 when x = 0
};

/// The calibration period and the time unit of the summaries.
struct Calibration {
  Day until = 0;         // its last day (inclusive); ages are counted to this day
  double unit_days = 7;  // 7: weeks, 1: days
};

/// One summary per customer whose first transaction is on or before `calibration.until`, in the
/// history's order (customers who first bought later are not part of the calibration cohort).
std::vector<CustomerSummary> summarise(const PurchaseHistory& history,
                                       const Calibration& calibration);

/// The transactions of one customer on days in [from, to], for holdout checks.
std::size_t transactions_between(const CustomerPurchases& customer, Day from, Day to);

/// The UTC day of an ISO-8601 timestamp, or of a plain date (YYYY-MM-DD).
std::optional<Day> parse_day(const std::string& text);

/// YYYY-MM-DD.
std::string format_day(Day day);

}  // namespace journey::runtime::model
