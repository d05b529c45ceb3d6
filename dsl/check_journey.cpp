// Journey checks: entry (E100), header clauses (E110, E117, E118), labels and gotos (E101,
// E102, E107, W101), steps (E106, E109, E110, E113, W104), calendar dates and offsets (E120,
// W102), transactional sends and journeys (E121, W103) and the event scope of each expression.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "dsl/check_context.hpp"
#include "dsl/print.hpp"
#include "dsl/suggest.hpp"

namespace journey::dsl::checks {

namespace {

/// The span of the keyword that starts a step (after its label), for errors about the step.
Span keyword_span(const FileRef& file, const Step& step) {
  const std::string_view text = file.source.text();
  std::uint32_t at = step.span.begin;
  if (!step.label.empty() && step.label_span.end > at) {
    at = step.label_span.end;
    while (at < text.size() && (text[at] == ':' || text[at] == ' ' || text[at] == '\t')) ++at;
  }
  std::uint32_t end = at;
  while (end < text.size() && end < step.span.end &&
         (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) {
    ++end;
  }
  return end > at ? Span{at, end} : step.span;
}

/// Visits every step of a block, depth first, in source order.
void for_each_step(const Block& block, const std::function<void(const Step&)>& visit) {
  for (const auto& step : block) {
    visit(step);
    for (const auto& b : step.branches) for_each_step(b.body, visit);
    for_each_step(step.timeout, visit);
    for (const auto& arm : step.arms) for_each_step(arm.body, visit);
    for_each_step(step.else_body, visit);
    for (const auto& v : step.variants) for_each_step(v.body, visit);
  }
}

bool is_wait(const Step& step) {
  return step.kind == StepKind::Wait || step.kind == StepKind::WaitUntil ||
         step.kind == StepKind::WaitUntilDate || step.kind == StepKind::WaitUpTo;
}

/// E120 when the tracking plan says the customer attribute of a calendar clause is not a date.
void check_date_attribute(Context& ctx, const FileRef& file, const std::vector<std::string>& path,
                          Span span, const std::string& clause) {
  if (!ctx.options.plan) return;
  std::string joined;
  for (const auto& part : path) joined += (joined.empty() ? "" : ".") + part;
  const auto it = ctx.options.plan->customer.find(joined);
  if (it == ctx.options.plan->customer.end()) return;
  const std::string& type = it->second;
  if (type == "date" || type == "timestamp" || type == "string") return;
  ctx.report("E120", file.path(), span,
             "`customer." + joined + "` is " + type + " in the tracking plan, not a date: `" +
                 clause + "` needs a date (\"YYYY-MM-DD\") or a timestamp")
      .help = "use an attribute that holds a date, or correct its type in the tracking plan";
}

/// W102 for an offset longer than a year: a date that far from its attribute is likely a mistake.
void check_offset(Context& ctx, const FileRef& file, std::int64_t offset, Span span) {
  constexpr std::int64_t kYear = 366LL * 86400;
  if (offset <= kYear && offset >= -kYear) return;
  ctx.report("W102", file.path(), span, "offset " + offset_text(offset) + " is longer than a year",
             Severity::Warning)
      .help = "an offset moves the date by at most a year; check the unit (`7d`, not `700d`)";
}

/// The steps of a journey as a graph, to find loops that never wait (E107).
class StepGraph {
 public:
  explicit StepGraph(const Block& steps) {
    number(steps);
    edges_.resize(nodes_.size());
    link(steps, kEnd);
  }

  /// Reports each `goto` that can come back to itself without passing a wait.
  void report_loops(Context& ctx, const FileRef& file) const {
    for (std::size_t g = 0; g < nodes_.size(); ++g) {
      const Step& step = *nodes_[g];
      if (step.kind != StepKind::Goto) continue;
      const auto target = label_nodes_.find(step.text);
      if (target == label_nodes_.end()) continue;
      if (reaches(target->second, g)) {
        ctx.report("E107", file.path(), step.span,
                   "loop with no wait: `goto " + step.text +
                       "` can come back here without passing a `wait`");
      }
    }
  }

 private:
  static constexpr std::size_t kEnd = static_cast<std::size_t>(-1);

  void number(const Block& block) {
    for (const auto& step : block) {
      index_[&step] = nodes_.size();
      if (!step.label.empty()) label_nodes_.emplace(step.label, nodes_.size());  // first wins
      nodes_.push_back(&step);
      for (const auto& b : step.branches) number(b.body);
      number(step.timeout);
      for (const auto& arm : step.arms) number(arm.body);
      number(step.else_body);
      for (const auto& v : step.variants) number(v.body);
    }
  }

  std::size_t first_of(const Block& block, std::size_t then) const {
    return block.empty() ? then : index_.at(&block.front());
  }

  /// Adds the edges of every step in `block`; `then` is where control goes after the block.
  void link(const Block& block, std::size_t then) {
    for (std::size_t i = 0; i < block.size(); ++i) {
      const Step& step = block[i];
      const std::size_t self = index_.at(&step);
      const std::size_t next = i + 1 < block.size() ? index_.at(&block[i + 1]) : then;
      auto add = [&](std::size_t to) {
        if (to != kEnd) edges_[self].push_back(to);
      };
      switch (step.kind) {
        case StepKind::Exit:
        case StepKind::Goto:  // goto edges are followed through the label map
          break;
        case StepKind::WaitUpTo:
          for (const auto& b : step.branches) {
            add(first_of(b.body, next));
            link(b.body, next);
          }
          add(first_of(step.timeout, next));
          link(step.timeout, next);
          break;
        case StepKind::If:
          for (const auto& arm : step.arms) {
            add(first_of(arm.body, next));
            link(arm.body, next);
          }
          add(first_of(step.else_body, next));
          link(step.else_body, next);
          break;
        case StepKind::Split:
          for (const auto& v : step.variants) {
            add(first_of(v.body, next));
            link(v.body, next);
          }
          if (step.variants.empty()) add(next);
          break;
        default: add(next); break;
      }
    }
  }

  /// Can control go from node `from` to node `to` without passing a wait?
  bool reaches(std::size_t from, std::size_t to) const {
    std::vector<bool> seen(nodes_.size(), false);
    std::vector<std::size_t> stack{from};
    while (!stack.empty()) {
      const std::size_t n = stack.back();
      stack.pop_back();
      if (n == to) return true;
      if (seen[n]) continue;
      seen[n] = true;
      const Step& step = *nodes_[n];
      if (is_wait(step)) continue;
      for (std::size_t m : edges_[n]) stack.push_back(m);
      if (step.kind == StepKind::Goto) {
        if (auto t = label_nodes_.find(step.text); t != label_nodes_.end())
          stack.push_back(t->second);
      }
    }
    return false;
  }

  std::vector<const Step*> nodes_;
  std::map<const Step*, std::size_t> index_;
  std::map<std::string, std::size_t> label_nodes_;
  std::vector<std::vector<std::size_t>> edges_;
};

/// Walks a journey's steps in order, tracking which event is in scope.
class StepWalker {
 public:
  StepWalker(Context& ctx, const FileRef& file, std::vector<std::string> labels,
             std::set<std::string> goto_targets, bool journey_broken)
      : ctx_(ctx),
        file_(file),
        labels_(std::move(labels)),
        goto_targets_(std::move(goto_targets)),
        journey_broken_(journey_broken) {}

  /// Checks a block; `scope` is updated to what holds after it.
  void walk(const Block& block, Scope& scope) {
    bool dead = false;      // no path in sequence reaches this step (after `exit` or `goto`)
    bool reported = false;  // the current run of dead steps has been reported
    for (std::size_t i = 0; i < block.size(); ++i) {
      const Step& step = block[i];
      if (!step.label.empty() && goto_targets_.count(step.label) != 0) {
        dead = false;
        reported = false;
      }
      if (dead && !reported) {
        ctx_.report("W101", file_.path(), step.span,
                    block[i - 1].kind == StepKind::Exit ? "unreachable step: it follows an `exit`"
                                                        : "unreachable step: it follows a `goto`",
                    Severity::Warning);
        reported = true;
      }
      check_step(step, scope);
      if (step.kind == StepKind::Exit || step.kind == StepKind::Goto) dead = true;
    }
  }

 private:
  static Scope merge(const Scope& a, const Scope& b) {
    Scope s = a;
    s.event_in_scope = a.event_in_scope || b.event_in_scope;
    if (!a.event_in_scope)
      s.event_name = b.event_name;
    else if (b.event_in_scope && a.event_name != b.event_name)
      s.event_name.reset();
    return s;
  }

  void fields(const std::vector<Field>& with, const Scope& scope) {
    for (const auto& f : with) check_expr(ctx_, file_, f.value, scope);
  }

  /// A name of a send that is not among the configured ones: "did you mean" the nearest, else
  /// `help` lists them after `listed` (and `after` follows the list).
  static void suggest_or_list(Diagnostic& d, const std::string& name, Span span,
                              const std::vector<std::string>& configured, const std::string& listed,
                              const std::string& after = "") {
    if (auto s = suggest(name, configured)) {
      did_you_mean(d, *s, span);
      return;
    }
    std::string list;
    for (const auto& c : configured) list += (list.empty() ? "" : ", ") + c;
    d.help = listed + list + after;
  }

  /// W104: a topic the configuration does not declare (opt-in, so most often a misspelling).
  void check_topic(const Step& step) {
    const auto& declared = ctx_.options.topics;
    if (std::find(declared.begin(), declared.end(), step.topic) != declared.end()) return;
    auto& d =
        ctx_.report("W104", file_.path(), step.topic_span,
                    "topic `" + step.topic + "` is not declared in [topics]", Severity::Warning);
    suggest_or_list(d, step.topic, step.topic_span, declared, "the declared topics are: ",
                    "; an undeclared topic is opt-in (only customers who subscribed to it get it)");
  }

  void check_step(const Step& step, Scope& scope) {
    switch (step.kind) {
      case StepKind::Send:
        if (!ctx_.options.channels.empty() &&
            std::find(ctx_.options.channels.begin(), ctx_.options.channels.end(), step.channel) ==
                ctx_.options.channels.end()) {
          auto& d = ctx_.report("E113", file_.path(), step.channel_span,
                                "unknown channel `" + step.channel + "`");
          suggest_or_list(d, step.channel, step.channel_span, ctx_.options.channels,
                          "the configured channels are: ");
        }
        if (!step.topic.empty() && !ctx_.options.topics.empty()) check_topic(step);
        fields(step.with, scope);
        break;
      case StepKind::Wait:
        if (step.seconds <= 0) {
          ctx_.report("E110", file_.path(), step.span, "`wait 0s` does not wait: remove it");
        }
        break;
      case StepKind::WaitUntil: break;
      case StepKind::WaitUntilDate: {
        const Typed value = check_expr(ctx_, file_, step.value, scope);
        if (value.type != Type::Unknown && value.type != Type::Timestamp &&
            value.type != Type::String) {
          ctx_.report("E108", file_.path(), step.value.span,
                      "`wait until` needs a date or a timestamp, found " +
                          std::string(describe(value.type)));
        }
        if (step.value.kind == ExprKind::Customer)
          check_date_attribute(ctx_, file_, step.value.path, step.value.span, "wait until");
        check_offset(ctx_, file_, step.offset, step.span);
        break;
      }
      case StepKind::WaitUpTo: {
        if (step.seconds <= 0) {
          ctx_.report("E110", file_.path(), keyword_span(file_, step),
                      "`wait up to 0s` ends at once: no event can arrive in time");
        }
        if (step.branches.empty() && !ctx_.broken(file_.path(), step.span)) {
          ctx_.report("E109", file_.path(), keyword_span(file_, step),
                      "`wait up to` has no `on` branch, so it can only time out")
              .help = "add `on EVENT { ... }`, or use a plain `wait`";
        }
        Scope after = scope;
        bool first = true;
        for (const auto& b : step.branches) {
          check_event_name(ctx_, file_, b.event.name, b.event.span);
          Scope inner = scope;
          inner.event_in_scope = true;
          inner.event_name = b.event.name;
          if (b.where) check_condition(ctx_, file_, *b.where, inner);
          walk(b.body, inner);
          after = first ? inner : merge(after, inner);
          first = false;
        }
        if (step.has_timeout || step.branches.empty()) {
          Scope timeout = scope;
          walk(step.timeout, timeout);
          after = first ? timeout : merge(after, timeout);
        }
        scope = after;
        break;
      }
      case StepKind::If: {
        Scope after;
        bool first = true;
        for (const auto& arm : step.arms) {
          check_condition(ctx_, file_, arm.condition, scope);
          Scope inner = scope;
          walk(arm.body, inner);
          after = first ? inner : merge(after, inner);
          first = false;
        }
        Scope inner = scope;
        walk(step.else_body, inner);
        scope = first ? inner : merge(after, inner);
        break;
      }
      case StepKind::Split: {
        double total = 0;
        std::map<std::string, const SplitArm*> names;
        for (const auto& v : step.variants) {
          total += v.percent;
          auto [it, fresh] = names.emplace(v.name, &v);
          if (!fresh) {
            ctx_.report("E118", file_.path(), v.name_span,
                        "duplicate variant name `" + v.name + "` in this split")
                .notes.push_back({file_.path(), it->second->name_span, "first used here"});
          }
        }
        if (std::fabs(total - 100.0) > 1e-9 && !ctx_.broken(file_.path(), step.span)) {
          std::ostringstream sum;
          sum << total;
          ctx_.report("E106", file_.path(), keyword_span(file_, step),
                      "split percentages sum to " + sum.str() + "%, not 100%");
        }
        Scope after;
        bool first = true;
        for (const auto& v : step.variants) {
          Scope inner = scope;
          walk(v.body, inner);
          after = first ? inner : merge(after, inner);
          first = false;
        }
        if (!first) scope = after;
        break;
      }
      case StepKind::Set: check_expr(ctx_, file_, step.value, scope); break;
      case StepKind::Tag:
      case StepKind::Untag: break;
      case StepKind::Emit: fields(step.with, scope); break;
      case StepKind::Goto:
        // In a journey with syntax errors, the label may be on a step that did not parse.
        if (std::find(labels_.begin(), labels_.end(), step.text) == labels_.end() &&
            !journey_broken_) {
          auto& d = ctx_.report("E101", file_.path(), step.text_span,
                                "undefined label `" + step.text + "`");
          if (auto s = suggest(step.text, labels_)) did_you_mean(d, *s, step.text_span);
        }
        break;
      case StepKind::Exit: break;
    }
  }

  Context& ctx_;
  const FileRef& file_;
  std::vector<std::string> labels_;
  std::set<std::string> goto_targets_;
  bool journey_broken_ = false;
};

}  // namespace

void check_journey(Context& ctx, const FileRef& file, const Journey& j) {
  const bool broken = ctx.broken(file.path(), j.span);
  if (j.entries.empty() && !broken) {
    ctx.report("E100", file.path(), j.name_span, "journey `" + j.name + "` has no entry clause")
        .help = "add `entry on EVENT`, `entry when CONDITION` or `entry every day at HH:MM`";
  }

  // Header clauses that may appear once.
  std::map<std::string, Span> once;
  for (const auto& clause : j.once_clauses) {
    auto [it, fresh] = once.emplace(clause.keyword, clause.span);
    if (!fresh) {
      ctx.report("E117", file.path(), clause.span,
                 "`" + clause.keyword + "` is given more than once in journey `" + j.name + "`")
          .notes.push_back({file.path(), it->second, "first given here"});
    }
  }
  if (j.cap && j.cap->count <= 0) {
    ctx.report("E110", file.path(), j.cap->span, "`cap 0` would suppress every send");
  }
  if (j.cap && j.cap->per <= 0) {
    ctx.report("E110", file.path(), j.cap->span, "a cap window of 0s counts no sends");
  }
  if (j.quiet_hours && j.quiet_hours->start == j.quiet_hours->end) {
    ctx.report("E110", file.path(), j.quiet_hours->span,
               "quiet hours start and end at the same time");
  }
  if (j.send_window && j.send_window->start >= j.send_window->end) {
    ctx.report("E110", file.path(), j.send_window->span,
               "the send window closes before it opens: it must start and end on the same day")
        .help = "write the opening time first, as in `send window mon-fri 09:00-18:00`";
  }

  // Which event `event.` and `trigger.` mean.
  std::optional<std::string> entry_event;
  bool has_entry_on = false;
  bool single_entry_event = true;
  bool only_on = true;
  for (const auto& e : j.entries) {
    if (e.kind != EntryKind::On) {
      only_on = false;
      continue;
    }
    if (has_entry_on && entry_event != e.event.name) single_entry_event = false;
    has_entry_on = true;
    entry_event = e.event.name;
  }
  if (!single_entry_event) entry_event.reset();

  Scope header;
  header.trigger_allowed = has_entry_on;
  header.trigger_name = entry_event;
  header.no_trigger_reason = "in journey `" + j.name + "`, which has no `entry on` clause";

  auto with_event = [&](const std::string& event) {
    Scope s = header;
    s.event_in_scope = true;
    s.event_name = event;
    return s;
  };
  auto without_event = [&](std::string reason) {
    Scope s = header;
    s.no_event_reason = std::move(reason);
    return s;
  };

  for (const auto& e : j.entries) {
    switch (e.kind) {
      case EntryKind::On:
        check_event_name(ctx, file, e.event.name, e.event.span);
        if (e.where) check_condition(ctx, file, *e.where, with_event(e.event.name));
        break;
      case EntryKind::When:
        check_condition(ctx, file, e.condition, without_event("`entry when` has no event"));
        break;
      case EntryKind::Every:
        if (e.where)
          check_condition(ctx, file, *e.where, without_event("`entry every` has no event"));
        break;
      case EntryKind::Yearly:
      case EntryKind::OnDate: {
        const std::string clause =
            e.kind == EntryKind::Yearly ? "entry every year on" : "entry on date";
        check_date_attribute(ctx, file, e.path, e.path_span, clause);
        check_offset(ctx, file, e.offset, e.span);
        if (e.where)
          check_condition(ctx, file, *e.where, without_event("`" + clause + "` has no event"));
        break;
      }
      case EntryKind::At:
        if (e.where) check_condition(ctx, file, *e.where, without_event("`entry at` has no event"));
        break;
    }
  }
  for (const auto& x : j.exits) {
    if (x.kind == ExitKind::On) {
      check_event_name(ctx, file, x.event.name, x.event.span);
      if (x.where) check_condition(ctx, file, *x.where, with_event(x.event.name));
    } else {
      check_condition(ctx, file, x.condition, without_event("`exit when` has no event"));
    }
  }
  std::map<std::string, Span> goals;
  for (const auto& g : j.goals) {
    auto [it, fresh] = goals.emplace(g.name, g.name_span);
    if (!fresh) {
      ctx.report("E118", file.path(), g.name_span,
                 "duplicate goal name `" + g.name + "` in journey `" + j.name + "`")
          .notes.push_back({file.path(), it->second, "first used here"});
    }
    check_event_name(ctx, file, g.event.name, g.event.span);
    if (g.where) check_condition(ctx, file, *g.where, with_event(g.event.name));
    if (g.within <= 0) {
      ctx.report("E110", file.path(), g.span,
                 "goal `" + g.name + "` has `within 0s`: it can never be reached");
    }
  }

  // Transactional sends (E121) and transactional journeys that experiment (W103).
  if (j.transactional) {
    const std::string why =
        " in transactional journey `" + j.name +
        "`: transactional messages go to everyone who needs them, so there is nothing to test";
    for (const auto& g : j.goals)
      ctx.report("W103", file.path(), g.span, "goal `" + g.name + "`" + why, Severity::Warning);
  }
  for_each_step(j.steps, [&](const Step& step) {
    if (step.kind == StepKind::Split && j.transactional) {
      ctx.report("W103", file.path(), step.span,
                 "split in transactional journey `" + j.name +
                     "`: a holdout or variant would withhold a message the customer needs",
                 Severity::Warning);
    }
    if (step.kind == StepKind::Send && !step.topic.empty() &&
        (step.transactional || j.transactional)) {
      ctx.report("E121", file.path(), step.topic_span,
                 "a transactional send has no subscription topic: it skips topic checks")
          .help = step.transactional ? "remove `topic " + step.topic +
                                           "`, or `transactional` if this is a marketing message"
                                     : "remove `topic " + step.topic +
                                           "`, or move the send to a marketing journey";
    }
  });

  // Labels (E102) and goto targets.
  std::vector<std::string> labels;
  std::map<std::string, const Step*> label_steps;
  std::set<std::string> goto_targets;
  for_each_step(j.steps, [&](const Step& step) {
    if (step.kind == StepKind::Goto) goto_targets.insert(step.text);
    if (step.label.empty()) return;
    auto [it, fresh] = label_steps.emplace(step.label, &step);
    if (fresh) {
      labels.push_back(step.label);
    } else {
      ctx.report("E102", file.path(), step.label_span, "duplicate label `" + step.label + "`")
          .notes.push_back({file.path(), it->second->label_span, "first defined here"});
    }
  });

  Scope steps_scope = header;
  steps_scope.event_in_scope = has_entry_on;
  steps_scope.event_name = only_on ? entry_event : std::nullopt;
  steps_scope.no_event_reason =
      "journey `" + j.name + "` has no `entry on` and no `on` branch before here";
  StepWalker walker(ctx, file, labels, goto_targets, broken);
  walker.walk(j.steps, steps_scope);

  StepGraph(j.steps).report_loops(ctx, file);
}

}  // namespace journey::dsl::checks
