// Runtime values and expression evaluation over one customer's state.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsl/ast.hpp"
#include "engine/model.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"

namespace date {
class time_zone;
}  // namespace date

namespace journey::engine {

/// What `is_holiday` reads: the holiday dates (days since 1970-01-01) and the customer's zone.
struct HolidayCalendar {
  const std::set<std::int64_t>* holidays = nullptr;
  const date::time_zone* zone = nullptr;
};

/// A runtime value of the journey language.
// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::json's noexcept move asserts its invariant
struct Value {
  enum class Type : std::uint8_t { None, Number, String, Bool, Duration, Timestamp, List, Object };
  Type type = Type::None;
  double number = 0;
  std::int64_t millis = 0;  // Duration, Timestamp
  bool never = false;       // Duration: `since` of an event that never happened
  bool boolean = false;
  std::string text;
  std::vector<Value> list;
  nlohmann::json object;  // Object

  static Value none() { return {}; }
  static Value of_number(double v);
  static Value of_string(std::string v);
  static Value of_bool(bool v);
  static Value of_duration(std::int64_t ms);
  static Value of_timestamp(Millis at);
  static Value never_duration();

  bool truthy() const { return type == Type::Bool && boolean; }
};

/// A JSON value as a runtime value (null -> none, arrays -> lists, objects -> objects).
Value from_json(const nlohmann::json& j);
/// A runtime value as JSON (durations as milliseconds, timestamps as ISO-8601 strings).
nlohmann::json to_json(const Value& v);
/// A short human-readable form for traces ("30d", "\"gold\"", "none", "never").
std::string value_text(const Value& v);
/// Language equality: same type and same value; none equals only none.
bool values_equal(const Value& a, const Value& b);

/// Where `event.` and `trigger.` read from.
struct Scope {
  const nlohmann::json* event = nullptr;
  const nlohmann::json* trigger = nullptr;
};

/// Evaluates expressions for one customer at one instant. Reads the state; writes only the
/// aggregate folds it is handed (the step function hands it the state's own, so it owns the
/// writes); without them every aggregate scans its timeline. The predictive functions read the
/// purchase model it is handed; without one they are `none`. `is_holiday` reads the calendar it
/// is handed; without one it is `false`. `in_holdout()` is what the caller says.
class Evaluator {
 public:
  Evaluator(const Program& program, const CustomerState& state, Millis now,
            AggregateCaches* aggregates = nullptr, const PurchaseModel* model = nullptr,
            HolidayCalendar calendar = {}, bool in_holdout = false)
      : program_(program),
        state_(state),
        now_(now),
        aggregates_(aggregates),
        model_(model),
        calendar_(calendar),
        in_holdout_(in_holdout) {}

  Value eval(const dsl::Expr& e, const Scope& scope) const;

  /// The earliest instant after `now` at which the expression's value may change with no new
  /// input (a `since` threshold, an event leaving a `within` window, a `now` comparison, a
  /// predictive function compared with a value crossing it).
  std::optional<Millis> next_change(const dsl::Expr& e, const Scope& scope) const;

  /// The values of the expression's leaf terms (calls, attribute reads), for traces.
  void terms(const dsl::Expr& e, const Scope& scope,
             std::vector<std::pair<std::string, std::string>>& out) const;

 private:
  Value eval_at(const dsl::Expr& e, const Scope& scope, int depth) const;
  Value aggregate(const dsl::Expr& e, const Scope& scope, int depth) const;
  void next_change_at(const dsl::Expr& e, const Scope& scope, int depth,
                      std::optional<Millis>& best) const;
  const std::vector<TimelineEntry>* entries(const std::string& event) const;

  const Program& program_;
  const CustomerState& state_;
  Millis now_;
  AggregateCaches* aggregates_;  // kept folds to extend, or nullptr
  const PurchaseModel* model_;   // what the predictive functions read, or nullptr
  HolidayCalendar calendar_;     // what `is_holiday` reads
  bool in_holdout_;              // what `in_holdout()` answers
};

/// The value at a property path in a JSON object, or nullptr.
const nlohmann::json* json_at(const nlohmann::json& root, const std::vector<std::string>& path);

}  // namespace journey::engine
