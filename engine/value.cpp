#include "engine/value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/calendar.hpp"

namespace journey::engine {
namespace {

constexpr int kMaxSegmentDepth = 64;

std::string number_text(double v) {
  char buf[40];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.15g", v);
  }
  return buf;
}

bool is_comparison(dsl::BinaryOp op) {
  return op == dsl::BinaryOp::Eq || op == dsl::BinaryOp::Ne || op == dsl::BinaryOp::Lt ||
         op == dsl::BinaryOp::Le || op == dsl::BinaryOp::Gt || op == dsl::BinaryOp::Ge;
}

// -1, 0, 1 for ordered types of the same kind; nullopt when not comparable.
std::optional<int> order(const Value& a, const Value& b) {
  if (a.type != b.type) return std::nullopt;
  const auto cmp = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (a.type) {
    case Value::Type::Number:
      if (std::isnan(a.number) || std::isnan(b.number)) return std::nullopt;
      return cmp(a.number, b.number);
    case Value::Type::String: return cmp(a.text, b.text);
    case Value::Type::Duration:
      if (a.never || b.never) return cmp(a.never ? 1 : 0, b.never ? 1 : 0);
      return cmp(a.millis, b.millis);
    case Value::Type::Timestamp: return cmp(a.millis, b.millis);
    default: return std::nullopt;
  }
}

Value arithmetic(dsl::BinaryOp op, const Value& a, const Value& b) {
  using T = Value::Type;
  const auto num = [](double v) { return std::isfinite(v) ? Value::of_number(v) : Value::none(); };
  switch (op) {
    case dsl::BinaryOp::Add:
      if (a.type == T::Number && b.type == T::Number) return num(a.number + b.number);
      if (a.type == T::Duration && b.type == T::Duration && !a.never && !b.never)
        return Value::of_duration(a.millis + b.millis);
      if (a.type == T::Timestamp && b.type == T::Duration && !b.never)
        return Value::of_timestamp(a.millis + b.millis);
      if (a.type == T::Duration && b.type == T::Timestamp && !a.never)
        return Value::of_timestamp(a.millis + b.millis);
      if (a.type == T::String && b.type == T::String) return Value::of_string(a.text + b.text);
      return Value::none();
    case dsl::BinaryOp::Sub:
      if (a.type == T::Number && b.type == T::Number) return num(a.number - b.number);
      if (a.type == T::Duration && b.type == T::Duration && !a.never && !b.never)
        return Value::of_duration(a.millis - b.millis);
      if (a.type == T::Timestamp && b.type == T::Duration && !b.never)
        return Value::of_timestamp(a.millis - b.millis);
      if (a.type == T::Timestamp && b.type == T::Timestamp)
        return Value::of_duration(a.millis - b.millis);
      return Value::none();
    case dsl::BinaryOp::Mul:
      if (a.type == T::Number && b.type == T::Number) return num(a.number * b.number);
      if (a.type == T::Duration && b.type == T::Number && !a.never)
        return Value::of_duration(
            static_cast<std::int64_t>(std::llround(static_cast<double>(a.millis) * b.number)));
      if (a.type == T::Number && b.type == T::Duration && !b.never)
        return Value::of_duration(
            static_cast<std::int64_t>(std::llround(a.number * static_cast<double>(b.millis))));
      return Value::none();
    case dsl::BinaryOp::Div:
      if (b.type == T::Number && b.number == 0) return Value::none();
      if (a.type == T::Number && b.type == T::Number) return num(a.number / b.number);
      if (a.type == T::Duration && b.type == T::Number && !a.never)
        return Value::of_duration(
            static_cast<std::int64_t>(std::llround(static_cast<double>(a.millis) / b.number)));
      return Value::none();
    default: return Value::none();
  }
}

void consider(std::optional<Millis>& best, Millis candidate, Millis now) {
  if (candidate > now && (!best || candidate < *best)) best = candidate;
}

// The model function a predictive node computes.
Prediction prediction_of(dsl::ExprKind kind) {
  switch (kind) {
    case dsl::ExprKind::ExpectedOrders: return Prediction::ExpectedOrders;
    case dsl::ExprKind::PredictedValue: return Prediction::PredictedValue;
    default: return Prediction::PAlive;
  }
}

}  // namespace

Value Value::of_number(double v) {
  Value x;
  x.type = Type::Number;
  x.number = v;
  return x;
}
Value Value::of_string(std::string v) {
  Value x;
  x.type = Type::String;
  x.text = std::move(v);
  return x;
}
Value Value::of_bool(bool v) {
  Value x;
  x.type = Type::Bool;
  x.boolean = v;
  return x;
}
Value Value::of_duration(std::int64_t ms) {
  Value x;
  x.type = Type::Duration;
  x.millis = ms;
  return x;
}
Value Value::of_timestamp(Millis at) {
  Value x;
  x.type = Type::Timestamp;
  x.millis = at;
  return x;
}
Value Value::never_duration() {
  Value x;
  x.type = Type::Duration;
  x.never = true;
  x.millis = std::numeric_limits<std::int64_t>::max();
  return x;
}

Value from_json(const nlohmann::json& j) {
  if (j.is_boolean()) return Value::of_bool(j.get<bool>());
  if (j.is_number()) return Value::of_number(j.get<double>());
  if (j.is_string()) return Value::of_string(j.get<std::string>());
  if (j.is_array()) {
    Value v;
    v.type = Value::Type::List;
    for (const auto& item : j) v.list.push_back(from_json(item));
    return v;
  }
  if (j.is_object()) {
    Value v;
    v.type = Value::Type::Object;
    v.object = j;
    return v;
  }
  return Value::none();
}

nlohmann::json to_json(const Value& v) {
  switch (v.type) {
    case Value::Type::None: return nullptr;
    case Value::Type::Number:
      if (v.number == std::floor(v.number) && std::fabs(v.number) < 9e15)
        return static_cast<std::int64_t>(v.number);
      return v.number;
    case Value::Type::String: return v.text;
    case Value::Type::Bool: return v.boolean;
    case Value::Type::Duration: return v.never ? nlohmann::json(nullptr) : nlohmann::json(v.millis);
    case Value::Type::Timestamp: return format_timestamp(v.millis);
    case Value::Type::List: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : v.list) out.push_back(to_json(item));
      return out;
    }
    case Value::Type::Object: return v.object;
  }
  return nullptr;
}

std::string value_text(const Value& v) {
  switch (v.type) {
    case Value::Type::None: return "none";
    case Value::Type::Number: return number_text(v.number);
    case Value::Type::String:
      return nlohmann::json(v.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    case Value::Type::Bool: return v.boolean ? "true" : "false";
    case Value::Type::Duration: {
      if (v.never) return "never";
      const std::string sign = v.millis < 0 ? "-" : "";
      const std::int64_t abs = v.millis < 0 ? -v.millis : v.millis;
      std::string out = sign + duration_text(abs / 1000);
      if (abs % 1000 != 0) out = (abs >= 1000 ? out : sign) + std::to_string(abs % 1000) + "ms";
      return out;
    }
    case Value::Type::Timestamp: return format_timestamp(v.millis);
    case Value::Type::List: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.list.size(); ++i)
        out += (i ? ", " : "") + value_text(v.list[i]);
      return out + "]";
    }
    case Value::Type::Object:
      return v.object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return "?";
}

bool values_equal(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Type::None: return true;
    case Value::Type::Number: return a.number == b.number;
    case Value::Type::String: return a.text == b.text;
    case Value::Type::Bool: return a.boolean == b.boolean;
    case Value::Type::Duration: return a.never == b.never && a.millis == b.millis;
    case Value::Type::Timestamp: return a.millis == b.millis;
    case Value::Type::List:
      return a.list.size() == b.list.size() &&
             std::equal(a.list.begin(), a.list.end(), b.list.begin(), values_equal);
    case Value::Type::Object: return a.object == b.object;
  }
  return false;
}

const nlohmann::json* json_at(const nlohmann::json& root, const std::vector<std::string>& path) {
  const nlohmann::json* cur = &root;
  for (const auto& key : path) {
    if (!cur->is_object()) return nullptr;
    const auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

const std::vector<TimelineEntry>* Evaluator::entries(const std::string& event) const {
  const auto it = state_.timeline.find(event);
  return it == state_.timeline.end() ? nullptr : &it->second;
}

Value Evaluator::eval(const dsl::Expr& e, const Scope& scope) const {
  return eval_at(e, scope, 0);
}

Value Evaluator::eval_at(const dsl::Expr& e, const Scope& scope, int depth) const {
  using K = dsl::ExprKind;
  switch (e.kind) {
    case K::Number: return Value::of_number(e.number);
    case K::String: return Value::of_string(e.text);
    case K::Bool: return Value::of_bool(e.boolean);
    case K::None: return Value::none();
    case K::Duration:
    case K::TimeOfDay:  // seconds since midnight, as a duration
      return Value::of_duration(e.seconds * 1000);
    case K::List: {
      Value v;
      v.type = Value::Type::List;
      for (const auto& o : e.operands) v.list.push_back(eval_at(o, scope, depth));
      return v;
    }
    case K::Customer: {
      if (e.path.size() == 1 && e.path[0] == "id") return Value::of_string(state_.customer_id);
      const auto* j = json_at(state_.profile, e.path);
      return j ? from_json(*j) : Value::none();
    }
    case K::Event:
    case K::Trigger: {
      const nlohmann::json* root = e.kind == K::Event ? scope.event : scope.trigger;
      if (root == nullptr) return Value::none();
      const auto* j = json_at(*root, e.path);
      return j ? from_json(*j) : Value::none();
    }
    case K::Now: return Value::of_timestamp(now_);
    case K::Not: return Value::of_bool(!eval_at(e.operands.at(0), scope, depth).truthy());
    case K::Negate: {
      const Value v = eval_at(e.operands.at(0), scope, depth);
      if (v.type == Value::Type::Number) return Value::of_number(-v.number);
      if (v.type == Value::Type::Duration && !v.never) return Value::of_duration(-v.millis);
      return Value::none();
    }
    case K::Binary: {
      if (e.op == dsl::BinaryOp::Or) {
        return Value::of_bool(eval_at(e.operands[0], scope, depth).truthy() ||
                              eval_at(e.operands[1], scope, depth).truthy());
      }
      if (e.op == dsl::BinaryOp::And) {
        return Value::of_bool(eval_at(e.operands[0], scope, depth).truthy() &&
                              eval_at(e.operands[1], scope, depth).truthy());
      }
      const Value a = eval_at(e.operands[0], scope, depth);
      const Value b = eval_at(e.operands[1], scope, depth);
      switch (e.op) {
        case dsl::BinaryOp::Eq: return Value::of_bool(values_equal(a, b));
        case dsl::BinaryOp::Ne:
          // none compares false with anything but none; different types compare false.
          if (a.type != b.type || a.type == Value::Type::None) return Value::of_bool(false);
          return Value::of_bool(!values_equal(a, b));
        case dsl::BinaryOp::Lt:
        case dsl::BinaryOp::Le:
        case dsl::BinaryOp::Gt:
        case dsl::BinaryOp::Ge: {
          const auto o = order(a, b);
          if (!o) return Value::of_bool(false);
          const bool r = e.op == dsl::BinaryOp::Lt   ? *o < 0
                         : e.op == dsl::BinaryOp::Le ? *o <= 0
                         : e.op == dsl::BinaryOp::Gt ? *o > 0
                                                     : *o >= 0;
          return Value::of_bool(r);
        }
        case dsl::BinaryOp::In:
          if (b.type != Value::Type::List || a.type == Value::Type::None)
            return Value::of_bool(false);
          return Value::of_bool(std::any_of(b.list.begin(), b.list.end(), [&a](const Value& item) {
            return values_equal(a, item);
          }));
        default: return arithmetic(e.op, a, b);
      }
    }
    case K::IsSegment: {
      const auto it = program_.segments.find(e.text);
      bool member = false;
      if (it != program_.segments.end() && depth < kMaxSegmentDepth) {
        member = eval_at(it->second.condition, Scope{}, depth + 1).truthy();
      }
      return Value::of_bool(e.boolean ? !member : member);
    }
    case K::Count:
    case K::Sum:
    case K::Avg:
    case K::Min:
    case K::Max: return aggregate(e, scope, depth);
    case K::SinceEvent: {
      const auto* list = entries(e.text);
      if (list == nullptr) return Value::never_duration();
      const auto hi = std::upper_bound(list->begin(), list->end(), now_,
                                       [](Millis t, const TimelineEntry& x) { return t < x.at; });
      if (hi == list->begin()) return Value::never_duration();
      return Value::of_duration(now_ - std::prev(hi)->at);
    }
    case K::SinceValue: {
      const Value v = eval_at(e.operands.at(0), scope, depth);
      if (v.type == Value::Type::Timestamp) return Value::of_duration(now_ - v.millis);
      if (v.type == Value::Type::String) {
        if (const auto at = parse_timestamp(v.text)) return Value::of_duration(now_ - *at);
      }
      return Value::none();
    }
    case K::Last: {
      const auto* list = entries(e.text);
      if (list == nullptr) return Value::none();
      const auto hi = std::upper_bound(list->begin(), list->end(), now_,
                                       [](Millis t, const TimelineEntry& x) { return t < x.at; });
      if (hi == list->begin()) return Value::none();
      const auto* j = json_at(std::prev(hi)->properties, e.path);
      return j ? from_json(*j) : Value::none();
    }
    case K::Has: {
      const Value v = eval_at(e.operands.at(0), scope, depth);
      return Value::of_bool(v.type != Value::Type::None);
    }
    case K::PAlive:
    case K::ExpectedOrders:
    case K::PredictedValue: {
      if (model_ == nullptr) return Value::none();
      const auto v =
          predict(*model_, state_.purchases, prediction_of(e.kind), e.seconds * 1000, now_);
      return v ? Value::of_number(*v) : Value::none();
    }
    case K::InHoldout: return Value::of_bool(in_holdout_);
    case K::IsHoliday: {
      if (calendar_.holidays == nullptr || calendar_.zone == nullptr) return Value::of_bool(false);
      const Value v = eval_at(e.operands.at(0), scope, depth);
      if (v.type == Value::Type::Timestamp)
        return Value::of_bool(is_holiday(calendar_.zone, v.millis, *calendar_.holidays));
      if (v.type != Value::Type::String) return Value::none();
      const auto date = parse_date_value(v.text);
      if (!date) return Value::none();
      if (date->instant)
        return Value::of_bool(is_holiday(calendar_.zone, *date->instant, *calendar_.holidays));
      return Value::of_bool(
          calendar_.holidays->count(date::sys_days{date->day}.time_since_epoch().count()) > 0);
    }
  }
  return Value::none();
}

Value Evaluator::aggregate(const dsl::Expr& e, const Scope& scope, int depth) const {
  const auto* list = entries(e.text);
  double count = 0;
  double sum = 0;
  std::optional<double> lo;
  std::optional<double> hi_value;
  if (list != nullptr) {
    const auto by_time = [](Millis t, const TimelineEntry& x) { return t < x.at; };
    const auto hi = std::upper_bound(list->begin(), list->end(), now_, by_time);
    auto begin = list->begin();
    if (e.within) begin = std::upper_bound(list->begin(), hi, now_ - *e.within * 1000, by_time);
    // The compiler gave a slot to the aggregates whose fold can be kept (see compile.cpp).
    AggregateCache* kept = nullptr;
    if (aggregates_ != nullptr && e.slot >= 0 &&
        static_cast<std::size_t>(e.slot) < program_.aggregate_keys.size()) {
      kept = &(*aggregates_)[program_.aggregate_keys[static_cast<std::size_t>(e.slot)]];
    }
    if (e.kind == dsl::ExprKind::Count && e.where.empty()) {
      count = static_cast<double>(hi - begin);
    } else if (kept != nullptr && kept->consumed <= static_cast<std::size_t>(hi - list->begin())) {
      // Timelines only grow at the end, so the fold so far stays valid: extend it.
      AggregateCache& cache = *kept;
      for (auto it = list->begin() + static_cast<std::ptrdiff_t>(cache.consumed); it != hi; ++it) {
        const Scope inner{&it->properties, nullptr};
        if (!eval_at(e.where.front(), inner, depth).truthy()) continue;
        if (e.kind == dsl::ExprKind::Count) {
          ++cache.count;
          continue;
        }
        const auto* j = json_at(it->properties, e.path);
        if (j == nullptr || !j->is_number()) continue;
        const double v = j->get<double>();
        ++cache.count;
        cache.sum += v;
        cache.min = cache.min ? std::min(*cache.min, v) : v;
        cache.max = cache.max ? std::max(*cache.max, v) : v;
      }
      cache.consumed = static_cast<std::size_t>(hi - list->begin());
      count = cache.count;
      sum = cache.sum;
      lo = cache.min;
      hi_value = cache.max;
    } else {
      for (auto it = begin; it != hi; ++it) {
        if (!e.where.empty()) {
          const Scope inner{&it->properties, scope.trigger};
          if (!eval_at(e.where.front(), inner, depth).truthy()) continue;
        }
        if (e.kind == dsl::ExprKind::Count) {
          ++count;
          continue;
        }
        const auto* j = json_at(it->properties, e.path);
        if (j == nullptr || !j->is_number()) continue;
        const double v = j->get<double>();
        ++count;
        sum += v;
        lo = lo ? std::min(*lo, v) : v;
        hi_value = hi_value ? std::max(*hi_value, v) : v;
      }
    }
  }
  switch (e.kind) {
    case dsl::ExprKind::Count: return Value::of_number(count);
    case dsl::ExprKind::Sum: return Value::of_number(sum);
    case dsl::ExprKind::Avg: return count > 0 ? Value::of_number(sum / count) : Value::none();
    case dsl::ExprKind::Min: return lo ? Value::of_number(*lo) : Value::none();
    default: return hi_value ? Value::of_number(*hi_value) : Value::none();
  }
}

std::optional<Millis> Evaluator::next_change(const dsl::Expr& e, const Scope& scope) const {
  std::optional<Millis> best;
  next_change_at(e, scope, 0, best);
  return best;
}

void Evaluator::next_change_at(const dsl::Expr& e, const Scope& scope, int depth,
                               std::optional<Millis>& best) const {
  using K = dsl::ExprKind;
  if (e.kind == K::Binary && is_comparison(e.op)) {
    for (int side = 0; side < 2; ++side) {
      const dsl::Expr& term = e.operands[side];
      const dsl::Expr& other = e.operands[1 - side];
      if (term.kind == K::SinceEvent || term.kind == K::SinceValue) {
        // since(..) = now - base: it crosses a duration d at base + d (and, for strict
        // comparisons, changes the answer 1ms later).
        const Value since = eval_at(term, scope, depth);
        const Value d = eval_at(other, scope, depth);
        if (since.type == Value::Type::Duration && !since.never &&
            d.type == Value::Type::Duration && !d.never) {
          const Millis base = now_ - since.millis;
          consider(best, base + d.millis, now_);
          consider(best, base + d.millis + 1, now_);
        }
      } else if (term.kind == K::Now) {
        const Value t = eval_at(other, scope, depth);
        if (t.type == Value::Type::Timestamp) {
          consider(best, t.millis, now_);
          consider(best, t.millis + 1, now_);
        }
      } else if (dsl::reads_of(term.kind) == dsl::ExprReads::Purchases && model_ != nullptr) {
        // The predictive functions fall as time passes with no purchase: the comparison can
        // change only where the function falls to the other side's value.
        const Value level = eval_at(other, scope, depth);
        if (level.type == Value::Type::Number) {
          if (const auto t = falls_to(*model_, state_.purchases, prediction_of(term.kind),
                                      term.seconds * 1000, now_, level.number))
            consider(best, *t, now_);
        }
      }
    }
  }
  switch (e.kind) {
    case K::Count:
    case K::Sum:
    case K::Avg:
    case K::Min:
    case K::Max:
      if (e.within) {
        if (const auto* list = entries(e.text)) {
          const auto by_time = [](Millis t, const TimelineEntry& x) { return t < x.at; };
          const auto hi = std::upper_bound(list->begin(), list->end(), now_, by_time);
          const auto first = std::upper_bound(list->begin(), hi, now_ - *e.within * 1000, by_time);
          if (first != hi) consider(best, first->at + *e.within * 1000, now_);
        }
      }
      return;
    case K::IsHoliday:
      // `is_holiday(now)` can change at the customer's next local midnight.
      if (calendar_.zone != nullptr) {
        const auto tomorrow = date::local_days{date::days{local_day(calendar_.zone, now_) + 1}};
        consider(best, local_instant(calendar_.zone, tomorrow, 0, 0), now_);
      }
      break;
    case K::IsSegment:
      if (depth < kMaxSegmentDepth) {
        const auto it = program_.segments.find(e.text);
        if (it != program_.segments.end())
          next_change_at(it->second.condition, Scope{}, depth + 1, best);
      }
      return;
    default: break;
  }
  for (const auto& o : e.operands) next_change_at(o, scope, depth, best);
}

void Evaluator::terms(const dsl::Expr& e, const Scope& scope,
                      std::vector<std::pair<std::string, std::string>>& out) const {
  // A term is a node that reads something (dsl::reads_of); literals and operators are looked into.
  if (dsl::reads_of(e.kind) == dsl::ExprReads::Nothing) {
    for (const auto& o : e.operands) terms(o, scope, out);
    return;
  }
  std::string text = expr_text(e);  // tracing only: the trace shows the term as written
  if (std::none_of(out.begin(), out.end(), [&text](const auto& p) { return p.first == text; })) {
    out.emplace_back(std::move(text), value_text(eval(e, scope)));
  }
  if (e.kind == dsl::ExprKind::IsSegment && out.size() < 32) {  // show what the segment is made of
    const auto it = program_.segments.find(e.text);
    if (it != program_.segments.end()) terms(it->second.condition, Scope{}, out);
  }
}

}  // namespace journey::engine
