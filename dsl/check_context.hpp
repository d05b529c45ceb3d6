// Private to the checks (check*.cpp): what they share while walking a workspace.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/types.hpp"
#include "dsl/workspace.hpp"

namespace journey::dsl::checks {

/// The state of one `check()` run: lookup tables built once, and the findings so far.
struct Context {
  const CheckOptions& options;
  std::vector<std::string> segment_names;  // every declared segment, source order
  std::set<std::string, std::less<>> segment_set;
  std::vector<std::string> known_events;  // with a plan: plan events and emitted events
  std::set<std::string, std::less<>> known_event_set;
  std::vector<Diagnostic> found;
  std::map<std::string, std::vector<std::uint32_t>, std::less<>>
      syntax_errors;  // offsets, per file

  explicit Context(const CheckOptions& opts) : options(opts) {}

  /// Adds a finding; returns it so that notes and help can be attached.
  Diagnostic& report(std::string code, const std::string& file, Span span, std::string message,
                     Severity severity = Severity::Error);

  /// The properties of an event in the tracking plan, or null when there is no plan or the
  /// event is not in it (e.g. only emitted by a journey).
  const std::vector<PlanProperty>* plan_event(const std::string& event) const;

  /// Whether a syntax error lies inside `span`: the parser then left the construct incomplete,
  /// and checks that would only repeat the damage (no entry, no variants...) stay quiet.
  bool broken(const std::string& file, Span span) const;
};

/// What `event.` and `trigger.` refer to at one place in a script.
struct Scope {
  bool event_in_scope = false;
  std::optional<std::string> event_name;  // the event, when one single event is known
  std::string no_event_reason;            // why there is none, for E111 ("in a segment", ...)
  bool trigger_allowed = false;
  std::optional<std::string> trigger_name;
  std::string no_trigger_reason;  // for E112
};

/// A type as inferred, with where it came from when a tracking plan said so.
struct Typed {
  Type type = Type::Unknown;
  std::string plan_origin;  // e.g. "`order_completed.amount` is a number in the tracking plan"
};

/// One file being checked: its source (for spans of names inside expressions) and path.
struct FileRef {
  const SourceFile& source;
  const std::string& path() const { return source.path(); }
};

/// Checks one expression and everything in it; returns its static type.
Typed check_expr(Context& ctx, const FileRef& file, const Expr& expr, const Scope& scope);

/// Checks an expression used as a condition: as check_expr, and it must be a bool.
void check_condition(Context& ctx, const FileRef& file, const Expr& expr, const Scope& scope);

/// Reports E114 for an event name not in the tracking plan (when one is given).
void check_event_name(Context& ctx, const FileRef& file, const std::string& name, Span span);

/// Journey checks (check_journey.cpp).
void check_journey(Context& ctx, const FileRef& file, const Journey& journey);

}  // namespace journey::dsl::checks
