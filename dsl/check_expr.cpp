// Expression checks: static types (E108, E116), segments (E104), event scope (E111, E112),
// tracking plan events and properties (E114, E115), zero windows (E110), predictive functions
// without a purchase model (E119).
#include <algorithm>
#include <string_view>

#include "dsl/check_context.hpp"
#include "dsl/print.hpp"
#include "dsl/suggest.hpp"

namespace journey::dsl::checks {

namespace {

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& part : path) {
    if (!out.empty()) out += '.';
    out += part;
  }
  return out;
}

/// The span of `word` in the source at or after `from` and before `limit`, or `fallback`.
Span find_word(const FileRef& file, std::uint32_t from, std::uint32_t limit, std::string_view word,
               Span fallback) {
  const std::string_view text = file.source.text();
  if (word.empty() || from >= text.size()) return fallback;
  limit = std::min<std::uint32_t>(limit, static_cast<std::uint32_t>(text.size()));
  const auto at = text.substr(0, limit).find(word, from);
  if (at == std::string_view::npos) return fallback;
  return Span{static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(at + word.size())};
}

/// Looks a property up in a plan event. Returns the plan's type name, or nothing.
const PlanProperty* find_property(const std::vector<PlanProperty>& props, const std::string& name) {
  for (const auto& p : props) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

/// Checks `EVENT.PROP...` against the tracking plan; returns the type the plan gives it.
Typed plan_property(Context& ctx, const FileRef& file, const std::string& event,
                    const std::vector<std::string>& path, Span span) {
  Typed typed;
  if (path.empty()) return typed;
  const auto* props = ctx.plan_event(event);
  if (props == nullptr) return typed;
  const PlanProperty* prop = find_property(*props, path.front());
  if (prop == nullptr) {
    auto& d = ctx.report("E115", file.path(), span,
                         "unknown property `" + path.front() + "` of event `" + event + "`");
    std::vector<std::string> names;
    names.reserve(props->size());
    for (const auto& p : *props) names.push_back(p.name);
    if (auto s = suggest(path.front(), names)) {
      // The span may hold the whole path (`event.ammount`): the fix replaces the property only.
      const std::string_view text = file.source.text();
      const auto dot = text.substr(0, span.end).find('.', span.begin);
      const std::uint32_t from =
          dot == std::string_view::npos ? span.begin : static_cast<std::uint32_t>(dot);
      did_you_mean(d, *s, find_word(file, from, span.end, path.front(), span));
    }
    return typed;
  }
  if (path.size() == 1) {
    typed.type = plan_type(prop->type);
    if (typed.type != Type::Unknown) {
      typed.plan_origin = "`" + event + "." + prop->name + "` is " +
                          std::string(describe(typed.type)) + " in the tracking plan";
    }
  }
  return typed;
}

/// Reports a type rule's error, as E116 when a tracking plan gave one of the types.
void report_type(Context& ctx, const FileRef& file, Span span, const TypeRule& rule,
                 std::initializer_list<const Typed*> operands) {
  if (rule.error.empty()) return;
  for (const Typed* t : operands) {
    if (!t->plan_origin.empty()) {
      ctx.report("E116", file.path(), span, rule.error + " (" + t->plan_origin + ")");
      return;
    }
  }
  ctx.report("E108", file.path(), span, rule.error);
}

/// Operand `i` of a node, or a `none` literal when error recovery left it out.
const Expr& arg(const Expr& e, std::size_t i) {
  static const Expr missing;
  return i < e.operands.size() ? e.operands[i] : missing;
}

/// The type of a literal, Unknown for anything else.
Type literal_type(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Number: return Type::Number;
    case ExprKind::String: return Type::String;
    case ExprKind::Bool: return Type::Bool;
    case ExprKind::Duration: return Type::Duration;
    case ExprKind::List: return Type::List;
    default: return Type::Unknown;
  }
}

Typed check_aggregate(Context& ctx, const FileRef& file, const Expr& e, const Scope& scope) {
  check_event_name(ctx, file, e.text, e.name_span);
  if (e.within && *e.within <= 0) {
    ctx.report("E110", file.path(), e.span,
               "`within 0s` is an empty window: no event can ever be counted");
  }
  Scope inner = scope;
  inner.event_in_scope = true;
  inner.event_name = e.text;
  for (const auto& w : e.where) check_condition(ctx, file, w, inner);

  Typed result;
  switch (e.kind) {
    case ExprKind::Count: result.type = Type::Number; break;
    case ExprKind::SinceEvent: result.type = Type::Duration; break;
    case ExprKind::Last: {
      const Span prop_span =
          find_word(file, e.name_span.end, e.span.end + 1,
                    e.path.empty() ? std::string_view{} : e.path.front(), e.span);
      result = plan_property(ctx, file, e.text, e.path, prop_span);
      break;
    }
    default: {  // Sum, Avg, Min, Max
      const Span prop_span =
          find_word(file, e.name_span.end, e.span.end,
                    e.path.empty() ? std::string_view{} : e.path.front(), e.span);
      const Typed prop = plan_property(ctx, file, e.text, e.path, prop_span);
      if (prop.type != Type::Unknown && prop.type != Type::Number) {
        ctx.report("E116", file.path(), prop_span,
                   "an aggregate needs a number property, but " + prop.plan_origin);
      }
      result.type = Type::Number;
      break;
    }
  }
  return result;
}

/// `p_alive()`, `expected_orders(D)`, `predicted_value(D)`: a horizon, and a model to read.
void check_prediction(Context& ctx, const FileRef& file, const Expr& e) {
  const std::string call(file.source.text().substr(e.span.begin, e.span.end - e.span.begin));
  if (e.kind != ExprKind::PAlive && e.seconds <= 0) {
    ctx.report("E110", file.path(), e.span, "`" + call + "` looks no time ahead: it is always 0");
  }
  if (!ctx.options.model) {
    ctx.report("E119", file.path(), e.span, "`" + call + "` needs a purchase model").help =
        "fit one with `journey model fit --events FILE --out model.json` and give it with "
        "`--model model.json` (`[model] file` in journey.toml)";
  } else if (e.kind == ExprKind::PredictedValue && !ctx.options.model->spend) {
    ctx.report("E119", file.path(), e.span,
               "`" + call + "` needs the spend model (Gamma-Gamma), which the model file lacks")
        .help = "fit the model with `journey model fit --value PROPERTY` (e.g. `--value amount`)";
  }
}

}  // namespace

Diagnostic& Context::report(std::string code, const std::string& file, Span span,
                            std::string message, Severity severity) {
  Diagnostic d;
  d.severity = severity;
  d.code = std::move(code);
  d.file = file;
  d.span = span;
  d.message = std::move(message);
  found.push_back(std::move(d));
  return found.back();
}

const std::vector<PlanProperty>* Context::plan_event(const std::string& event) const {
  if (!options.plan) return nullptr;
  const auto it = options.plan->events.find(event);
  return it == options.plan->events.end() ? nullptr : &it->second;
}

bool Context::broken(const std::string& file, Span span) const {
  const auto it = syntax_errors.find(file);
  if (it == syntax_errors.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](std::uint32_t at) { return at >= span.begin && at <= span.end; });
}

void check_event_name(Context& ctx, const FileRef& file, const std::string& name, Span span) {
  if (!ctx.options.plan || ctx.known_event_set.count(name) != 0) return;
  const std::string_view text = file.source.text();
  const bool quoted = span.begin < text.size() && text[span.begin] == '"';
  auto& d = ctx.report("E114", file.path(), span,
                       "unknown event `" + name + "`: it is not in the tracking plan");
  if (auto s = suggest(name, ctx.known_events))
    did_you_mean(d, *s, span, quoted ? string_text(*s) : event_name_text(*s));
}

void check_condition(Context& ctx, const FileRef& file, const Expr& expr, const Scope& scope) {
  const Typed t = check_expr(ctx, file, expr, scope);
  report_type(ctx, file, expr.span, condition_type(t.type), {&t});
}

Typed check_expr(Context& ctx, const FileRef& file, const Expr& e, const Scope& scope) {
  Typed result;
  switch (e.kind) {
    case ExprKind::Number: result.type = Type::Number; break;
    case ExprKind::String: result.type = Type::String; break;
    case ExprKind::Bool: result.type = Type::Bool; break;
    case ExprKind::None: result.type = Type::None; break;
    case ExprKind::Duration: result.type = Type::Duration; break;
    case ExprKind::TimeOfDay: break;
    case ExprKind::Now: result.type = Type::Timestamp; break;
    case ExprKind::List:
      for (const auto& item : e.operands) check_expr(ctx, file, item, scope);
      result.type = Type::List;
      break;
    case ExprKind::Customer:
      if (e.path.size() == 1 && e.path.front() == "id") result.type = Type::String;
      break;
    case ExprKind::Event:
      if (!scope.event_in_scope) {
        ctx.report("E111", file.path(), e.span,
                   "`event." + join_path(e.path) + "` used where no event is in scope (" +
                       scope.no_event_reason + ")");
      } else if (scope.event_name) {
        result = plan_property(ctx, file, *scope.event_name, e.path, e.span);
      }
      break;
    case ExprKind::Trigger:
      if (!scope.trigger_allowed) {
        ctx.report("E112", file.path(), e.span,
                   "`trigger." + join_path(e.path) + "` used " + scope.no_trigger_reason);
      } else if (scope.trigger_name) {
        result = plan_property(ctx, file, *scope.trigger_name, e.path, e.span);
      }
      break;
    case ExprKind::Not: {
      const Typed operand = check_expr(ctx, file, arg(e, 0), scope);
      const TypeRule rule = not_type(operand.type);
      report_type(ctx, file, e.span, rule, {&operand});
      result.type = rule.error.empty() ? rule.result : Type::Unknown;
      break;
    }
    case ExprKind::Negate: {
      const Typed operand = check_expr(ctx, file, arg(e, 0), scope);
      const TypeRule rule = negate_type(operand.type);
      report_type(ctx, file, e.span, rule, {&operand});
      result.type = rule.result;
      break;
    }
    case ExprKind::Binary: {
      const Typed lhs = check_expr(ctx, file, arg(e, 0), scope);
      const Typed rhs = check_expr(ctx, file, arg(e, 1), scope);
      const TypeRule rule = binary_type(e.op, lhs.type, rhs.type);
      report_type(ctx, file, e.span, rule, {&lhs, &rhs});
      // `x in [a, b]`: each item is compared with x.
      if (rule.error.empty() && e.op == BinaryOp::In && arg(e, 1).kind == ExprKind::List) {
        for (const auto& item : arg(e, 1).operands) {
          const TypeRule eq = binary_type(BinaryOp::Eq, lhs.type, literal_type(item));
          if (!eq.error.empty()) {
            report_type(ctx, file, item.span, eq, {&lhs});
            break;
          }
        }
      }
      result.type = rule.error.empty() ? rule.result : Type::Unknown;
      break;
    }
    case ExprKind::IsSegment:
      if (ctx.segment_set.count(e.text) == 0) {
        auto& d = ctx.report("E104", file.path(), e.name_span, "unknown segment `" + e.text + "`");
        if (auto s = suggest(e.text, ctx.segment_names)) did_you_mean(d, *s, e.name_span);
      }
      result.type = Type::Bool;
      break;
    case ExprKind::Count:
    case ExprKind::Sum:
    case ExprKind::Avg:
    case ExprKind::Min:
    case ExprKind::Max:
    case ExprKind::SinceEvent:
    case ExprKind::Last: result = check_aggregate(ctx, file, e, scope); break;
    case ExprKind::SinceValue: {
      const Typed operand = check_expr(ctx, file, arg(e, 0), scope);
      if (operand.type != Type::Unknown && operand.type != Type::Timestamp &&
          operand.type != Type::String) {
        TypeRule rule;
        rule.error =
            "`since` needs an event or a timestamp, found " + std::string(describe(operand.type));
        report_type(ctx, file, e.span, rule, {&operand});
      }
      result.type = Type::Duration;
      break;
    }
    case ExprKind::Has:
      for (const auto& operand : e.operands) check_expr(ctx, file, operand, scope);
      result.type = Type::Bool;
      break;
    case ExprKind::InHoldout: result.type = Type::Bool; break;
    case ExprKind::PAlive:
    case ExprKind::ExpectedOrders:
    case ExprKind::PredictedValue:
      check_prediction(ctx, file, e);
      result.type = Type::Number;
      break;
    case ExprKind::IsHoliday: {
      const Typed operand = check_expr(ctx, file, arg(e, 0), scope);
      if (operand.type != Type::Unknown && operand.type != Type::Timestamp &&
          operand.type != Type::String) {
        TypeRule rule;
        rule.error = "`is_holiday` needs a timestamp, such as `now`, found " +
                     std::string(describe(operand.type));
        report_type(ctx, file, e.span, rule, {&operand});
      }
      result.type = Type::Bool;
      break;
    }
  }
  return result;
}

}  // namespace journey::dsl::checks
