// Checked AST to the compiled Program: flat op code per journey, its state-machine view,
// the timeline data journeys read, and a version hash of each journey's canonical form.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "engine/engine.hpp"
#include "engine/hash.hpp"
#include "engine/program.hpp"

namespace journey::engine {
namespace {

// Walks an expression; `on_event` gets (event, property) pairs read from timelines
// (property empty when only the event is read), `on_customer` gets customer paths,
// `on_segment` gets segment names.
struct Reads {
  std::function<void(const std::string&, const std::string&)> on_event;
  std::function<void(const std::vector<std::string>&)> on_customer;
  std::function<void(const std::string&)> on_segment;

  void walk(const dsl::Expr& e, const std::string* aggregate_event) const {
    switch (e.kind) {
      case dsl::ExprKind::Customer:
        on_customer(e.path);
        break;
      case dsl::ExprKind::Event:
        if (aggregate_event != nullptr && !e.path.empty()) on_event(*aggregate_event, e.path.front());
        break;
      case dsl::ExprKind::IsSegment:
        on_segment(e.text);
        break;
      case dsl::ExprKind::Count:
      case dsl::ExprKind::Sum:
      case dsl::ExprKind::Avg:
      case dsl::ExprKind::Min:
      case dsl::ExprKind::Max:
      case dsl::ExprKind::SinceEvent:
      case dsl::ExprKind::Last:
        on_event(e.text, e.path.empty() ? std::string{} : e.path.front());
        for (const auto& w : e.where) walk(w, &e.text);
        return;
      default:
        break;
    }
    for (const auto& o : e.operands) walk(o, aggregate_event);
    for (const auto& w : e.where) walk(w, aggregate_event);
  }
};

class JourneyBuilder {
 public:
  JourneyBuilder(const dsl::SourceFile& source, Journey& journey) : source_(source), j_(journey) {}

  void build(const dsl::Block& steps) {
    block(steps);
    Op end;
    end.kind = OpKind::End;
    end.step_id = "end";
    j_.ops.push_back(std::move(end));
    for (const auto& [index, label] : gotos_) {
      const auto it = j_.labels.find(label);
      j_.ops[index].target = it == j_.labels.end() ? j_.ops.size() - 1 : it->second;
    }
  }

 private:
  std::string step_id(const dsl::Step& s) const {
    if (!s.label.empty()) return s.label;
    const auto lc = source_.locate(s.span.begin);
    return "L" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
  }

  std::size_t push(Op op) {
    j_.ops.push_back(std::move(op));
    return j_.ops.size() - 1;
  }

  Op glue(const Op& head, OpKind kind) const {
    Op op;
    op.kind = kind;
    op.step_id = head.step_id;
    op.line = head.line;
    op.column = head.column;
    return op;
  }

  void block(const dsl::Block& steps) {
    for (const auto& s : steps) step(s);
  }

  void step(const dsl::Step& s) {
    Op head;
    head.step_id = step_id(s);
    head.step_head = true;
    const auto lc = source_.locate(s.span.begin);
    head.line = lc.line;
    head.column = lc.column;
    if (!s.label.empty()) j_.labels[s.label] = j_.ops.size();
    switch (s.kind) {
      case dsl::StepKind::Send:
        head.kind = OpKind::Send;
        head.channel = s.channel;
        head.template_name = s.template_name;
        head.with = s.with;
        head.variant = variant_;
        push(std::move(head));
        break;
      case dsl::StepKind::Wait:
        head.kind = OpKind::Wait;
        head.millis = s.seconds * 1000;
        push(std::move(head));
        break;
      case dsl::StepKind::WaitUntil:
        head.kind = OpKind::WaitUntil;
        head.time_of_day = s.seconds;
        push(std::move(head));
        break;
      case dsl::StepKind::WaitUpTo: {
        head.kind = OpKind::WaitUpTo;
        head.millis = s.seconds * 1000;
        const Op proto = head;
        const std::size_t w = push(std::move(head));
        std::vector<std::size_t> ends;
        for (const auto& b : s.branches) {
          WaitArm arm;
          arm.event = b.event.name;
          arm.where = b.where;
          arm.target = j_.ops.size();
          j_.ops[w].arms.push_back(std::move(arm));
          block(b.body);
          ends.push_back(push(glue(proto, OpKind::Jump)));
        }
        j_.ops[w].timeout_target = j_.ops.size();
        if (s.has_timeout) block(s.timeout);
        const std::size_t end = j_.ops.size();
        if (!s.has_timeout) j_.ops[w].timeout_target = end;
        for (const auto e : ends) j_.ops[e].target = end;
        break;
      }
      case dsl::StepKind::If: {
        std::vector<std::size_t> ends;
        bool first = true;
        for (const auto& arm : s.arms) {
          Op br = glue(head, OpKind::Branch);
          br.step_head = first;
          first = false;
          br.condition = arm.condition;
          const std::size_t b = push(std::move(br));
          block(arm.body);
          ends.push_back(push(glue(head, OpKind::Jump)));
          j_.ops[b].target = j_.ops.size();
        }
        if (s.has_else) block(s.else_body);
        for (const auto e : ends) j_.ops[e].target = j_.ops.size();
        break;
      }
      case dsl::StepKind::Split: {
        head.kind = OpKind::Split;
        const Op proto = head;
        const std::size_t sp = push(std::move(head));
        std::vector<std::size_t> ends;
        const std::string outer = variant_;
        for (const auto& v : s.variants) {
          Variant var;
          var.name = v.name;
          var.percent = v.percent;
          var.target = j_.ops.size();
          j_.ops[sp].variants.push_back(var);
          variant_ = v.name;
          block(v.body);
          variant_ = outer;
          ends.push_back(push(glue(proto, OpKind::Jump)));
        }
        for (const auto e : ends) j_.ops[e].target = j_.ops.size();
        break;
      }
      case dsl::StepKind::Set:
        head.kind = OpKind::Set;
        head.path = s.path;
        head.value = s.value;
        push(std::move(head));
        break;
      case dsl::StepKind::Tag:
      case dsl::StepKind::Untag:
        head.kind = s.kind == dsl::StepKind::Tag ? OpKind::Tag : OpKind::Untag;
        head.text = s.text;
        push(std::move(head));
        break;
      case dsl::StepKind::Emit:
        head.kind = OpKind::Emit;
        head.text = s.event.name;
        head.with = s.with;
        push(std::move(head));
        break;
      case dsl::StepKind::Goto:
        head.kind = OpKind::Jump;
        head.text = s.text;
        gotos_.emplace_back(push(std::move(head)), s.text);
        break;
      case dsl::StepKind::Exit:
        head.kind = OpKind::Exit;
        head.text = s.has_reason ? s.text : std::string{};
        push(std::move(head));
        break;
    }
  }

  const dsl::SourceFile& source_;
  Journey& j_;
  std::string variant_;
  std::vector<std::pair<std::size_t, std::string>> gotos_;
};

// Derives the state-machine view from the op code: wait points and the paths between them.
class MachineBuilder {
 public:
  explicit MachineBuilder(Journey& j) : j_(j) {}

  void build() {
    j_.states.push_back({"start", StateKind::Start, 0});
    j_.states.push_back({"end", StateKind::End, j_.ops.size() - 1});
    for (std::size_t i = 0; i < j_.ops.size(); ++i) {
      const Op& op = j_.ops[i];
      if (op.kind == OpKind::Wait || op.kind == OpKind::WaitUntil || op.kind == OpKind::WaitUpTo) {
        const StateKind kind = op.kind == OpKind::Wait        ? StateKind::Wait
                               : op.kind == OpKind::WaitUntil ? StateKind::WaitUntil
                                                              : StateKind::WaitUpTo;
        state_of_op_[i] = j_.states.size();
        j_.states.push_back({op.step_id, kind, i});
      } else if (op.kind == OpKind::Send && j_.quiet_start) {
        hold_of_op_[i] = j_.states.size();
        j_.states.push_back({"hold:" + op.step_id, StateKind::QuietHold, i});
      }
    }
    for (std::size_t s = 0; s < j_.states.size(); ++s) {
      const State st = j_.states[s];
      Transition t;
      t.from = s;
      switch (st.kind) {
        case StateKind::Start:
          t.trigger = TriggerKind::Entry;
          walk(t, 0, {});
          break;
        case StateKind::Wait:
        case StateKind::WaitUntil:
          t.trigger = TriggerKind::Timer;
          walk(t, st.op + 1, {});
          break;
        case StateKind::QuietHold:
          t.trigger = TriggerKind::Timer;
          t.actions.push_back(st.op);
          walk(t, st.op + 1, {});
          break;
        case StateKind::WaitUpTo: {
          const Op& op = j_.ops[st.op];
          for (const auto& arm : op.arms) {
            Transition a = t;
            a.trigger = TriggerKind::Event;
            a.event = arm.event;
            a.where = arm.where;
            walk(a, arm.target, {});
          }
          t.trigger = TriggerKind::Timeout;
          walk(t, op.timeout_target, {});
          break;
        }
        case StateKind::End:
          break;
      }
    }
  }

 private:
  static constexpr std::size_t kMaxPathsPerTrigger = 64;

  void finish(Transition t, std::size_t to, std::string reason) {
    if (count_ >= kMaxPathsPerTrigger) return;
    ++count_;
    t.to = to;
    t.exit_reason = std::move(reason);
    j_.transitions.push_back(std::move(t));
  }

  void walk(Transition t, std::size_t pc, std::set<std::size_t> seen) {
    if (t.actions.empty() && t.guards.empty() && seen.empty()) count_ = 0;
    while (pc < j_.ops.size()) {
      if (!seen.insert(pc).second) return;  // a loop with no wait: a lint error, not drawn
      const Op& op = j_.ops[pc];
      switch (op.kind) {
        case OpKind::Send:
          if (j_.quiet_start) {
            const std::string window = time_of_day_text(*j_.quiet_start) + "-" + time_of_day_text(*j_.quiet_end);
            Transition held = t;
            held.guards.push_back({Guard::Kind::QuietHours, window, false});
            finish(std::move(held), hold_of_op_[pc], {});
            t.guards.push_back({Guard::Kind::QuietHours, window, true});
          }
          t.actions.push_back(pc);
          ++pc;
          break;
        case OpKind::Wait:
        case OpKind::WaitUntil:
        case OpKind::WaitUpTo:
          finish(std::move(t), state_of_op_[pc], {});
          return;
        case OpKind::Branch: {
          Transition yes = t;
          yes.guards.push_back({Guard::Kind::Condition, expr_text(*op.condition), false});
          walk(std::move(yes), pc + 1, seen);
          t.guards.push_back({Guard::Kind::Condition, expr_text(*op.condition), true});
          pc = op.target;
          break;
        }
        case OpKind::Jump:
          pc = op.target;
          break;
        case OpKind::Split:
          for (const auto& v : op.variants) {
            Transition arm = t;
            arm.guards.push_back({Guard::Kind::Variant, v.name, false});
            walk(std::move(arm), v.target, seen);
          }
          return;
        case OpKind::Set:
        case OpKind::Tag:
        case OpKind::Untag:
        case OpKind::Emit:
          t.actions.push_back(pc);
          ++pc;
          break;
        case OpKind::Exit:
          t.actions.push_back(pc);
          finish(std::move(t), 1, op.text.empty() ? "exit" : op.text);
          return;
        case OpKind::End:
          finish(std::move(t), 1, "end");
          return;
      }
    }
  }

  Journey& j_;
  std::map<std::size_t, std::size_t> state_of_op_;
  std::map<std::size_t, std::size_t> hold_of_op_;
  std::size_t count_ = 0;
};

nlohmann::json fields_json(const std::vector<dsl::Field>& with) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : with) out.push_back({{"key", f.key}, {"value", expr_text(f.value)}});
  return out;
}

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::Send: return "send";
    case OpKind::Wait: return "wait";
    case OpKind::WaitUntil: return "wait_until";
    case OpKind::WaitUpTo: return "wait_up_to";
    case OpKind::Branch: return "branch";
    case OpKind::Jump: return "jump";
    case OpKind::Split: return "split";
    case OpKind::Set: return "set";
    case OpKind::Tag: return "tag";
    case OpKind::Untag: return "untag";
    case OpKind::Emit: return "emit";
    case OpKind::Exit: return "exit";
    case OpKind::End: return "end";
  }
  return "?";
}

nlohmann::json ir_json(const Journey& j) {
  using nlohmann::json;
  json out;
  out["name"] = j.name;
  out["version"] = j.version;
  out["source"] = j.source_path;
  out["title"] = j.title;
  json entries = json::array();
  for (const auto& e : j.entries) {
    json x;
    x["kind"] = e.kind == dsl::EntryKind::On ? "on" : e.kind == dsl::EntryKind::When ? "when" : "every";
    if (e.kind == dsl::EntryKind::On) x["event"] = e.event;
    if (e.where) x[e.kind == dsl::EntryKind::Every ? "when" : "where"] = expr_text(*e.where);
    if (e.condition) x["condition"] = expr_text(*e.condition);
    if (e.kind == dsl::EntryKind::Every) {
      x["weekday"] = e.weekday;
      x["at"] = time_of_day_text(e.time_of_day);
    }
    entries.push_back(std::move(x));
  }
  out["entries"] = std::move(entries);
  out["reentry"] = j.reentry == dsl::ReentryKind::Never    ? "never"
                   : j.reentry == dsl::ReentryKind::Always ? "always"
                                                           : "after " + duration_text(j.reentry_after_ms / 1000);
  json exits = json::array();
  for (const auto& e : j.exits) {
    json x;
    x["kind"] = e.kind == dsl::ExitKind::On ? "on" : "when";
    if (e.kind == dsl::ExitKind::On) x["event"] = e.event;
    if (e.where) x["where"] = expr_text(*e.where);
    if (e.condition) x["condition"] = expr_text(*e.condition);
    exits.push_back(std::move(x));
  }
  out["exits"] = std::move(exits);
  json goals = json::array();
  for (const auto& g : j.goals) {
    json x{{"name", g.name}, {"event", g.event}, {"within", duration_text(g.within_ms / 1000)}};
    if (g.where) x["where"] = expr_text(*g.where);
    goals.push_back(std::move(x));
  }
  out["goals"] = std::move(goals);
  if (j.quiet_start) out["quiet_hours"] = time_of_day_text(*j.quiet_start) + "-" + time_of_day_text(*j.quiet_end);
  if (j.cap_count) out["cap"] = {{"count", *j.cap_count}, {"per", duration_text(j.cap_per_ms / 1000)}};
  json ops = json::array();
  for (std::size_t i = 0; i < j.ops.size(); ++i) {
    const Op& op = j.ops[i];
    json x{{"index", i}, {"op", op_kind_name(op.kind)}, {"step", op.step_id}};
    switch (op.kind) {
      case OpKind::Send:
        x["channel"] = op.channel;
        x["template"] = op.template_name;
        x["with"] = fields_json(op.with);
        if (!op.variant.empty()) x["variant"] = op.variant;
        break;
      case OpKind::Wait: x["duration"] = duration_text(op.millis / 1000); break;
      case OpKind::WaitUntil: x["at"] = time_of_day_text(op.time_of_day); break;
      case OpKind::WaitUpTo: {
        x["duration"] = duration_text(op.millis / 1000);
        json arms = json::array();
        for (const auto& a : op.arms) {
          json arm{{"event", a.event}, {"target", a.target}};
          if (a.where) arm["where"] = expr_text(*a.where);
          arms.push_back(std::move(arm));
        }
        x["arms"] = std::move(arms);
        x["timeout_target"] = op.timeout_target;
        break;
      }
      case OpKind::Branch:
        x["condition"] = expr_text(*op.condition);
        x["else_target"] = op.target;
        break;
      case OpKind::Jump: x["target"] = op.target; break;
      case OpKind::Split: {
        json vars = json::array();
        for (const auto& v : op.variants) vars.push_back({{"name", v.name}, {"percent", v.percent}, {"target", v.target}});
        x["variants"] = std::move(vars);
        break;
      }
      case OpKind::Set:
        x["path"] = op.path;
        x["value"] = expr_text(*op.value);
        break;
      case OpKind::Tag:
      case OpKind::Untag: x["tag"] = op.text; break;
      case OpKind::Emit:
        x["event"] = op.text;
        x["with"] = fields_json(op.with);
        break;
      case OpKind::Exit: x["reason"] = op.text; break;
      case OpKind::End: break;
    }
    ops.push_back(std::move(x));
  }
  out["ops"] = std::move(ops);
  json states = json::array();
  for (const auto& s : j.states) {
    static const char* const kKinds[] = {"start", "wait", "wait_until", "wait_up_to", "quiet_hold", "end"};
    states.push_back({{"id", s.id}, {"kind", kKinds[static_cast<int>(s.kind)]}, {"op", s.op}});
  }
  out["states"] = std::move(states);
  json transitions = json::array();
  for (const auto& t : j.transitions) {
    static const char* const kTriggers[] = {"entry", "timer", "event", "timeout"};
    json x{{"from", j.states[t.from].id}, {"to", j.states[t.to].id},
           {"trigger", kTriggers[static_cast<int>(t.trigger)]}};
    if (t.trigger == TriggerKind::Event) x["event"] = t.event;
    if (t.where) x["where"] = expr_text(*t.where);
    json guards = json::array();
    for (const auto& g : t.guards) {
      static const char* const kGuards[] = {"condition", "variant", "quiet_hours"};
      guards.push_back({{"kind", kGuards[static_cast<int>(g.kind)]}, {"text", g.text}, {"negated", g.negated}});
    }
    x["guards"] = std::move(guards);
    x["actions"] = t.actions;
    if (!t.exit_reason.empty()) x["exit_reason"] = t.exit_reason;
    transitions.push_back(std::move(x));
  }
  out["transitions"] = std::move(transitions);
  return out;
}

const Journey* Program::find_journey(const std::string& name) const {
  const auto it = std::lower_bound(journeys.begin(), journeys.end(), name,
                                   [](const Journey& j, const std::string& n) { return j.name < n; });
  return it != journeys.end() && it->name == name ? &*it : nullptr;
}

CompileResult compile(const dsl::Workspace& workspace) {
  CompileResult result;
  if (workspace.has_errors()) {
    result.diagnostics = workspace.diagnostics;
    return result;
  }
  auto program = std::make_shared<Program>();
  for (const auto& file : workspace.files) {
    for (const auto& s : file.module.segments) program->segments[s.name] = Segment{s.name, s.condition};
  }
  std::map<std::string, std::set<std::string>> timeline;
  const auto read_event = [&timeline](const std::string& event, const std::string& prop) {
    auto& props = timeline[event];
    if (!prop.empty()) props.insert(prop);
  };
  // Segments read timeline data too; their reads are added for every journey that uses them.
  std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> segment_reads;
  for (const auto& [name, seg] : program->segments) {
    auto& [events, customer] = segment_reads[name];
    Reads r{[&events = events, &read_event](const std::string& e, const std::string& p) {
              events.insert(e);
              read_event(e, p);
            },
            [&customer = customer](const std::vector<std::string>& p) {
              std::string joined;
              for (const auto& part : p) joined += (joined.empty() ? "" : ".") + part;
              customer.insert(joined);
            },
            [](const std::string&) {}};
    r.walk(seg.condition, nullptr);
  }
  for (const auto& file : workspace.files) {
    for (const auto& dj : file.module.journeys) {
      Journey j;
      j.name = dj.name;
      j.source_path = file.source->path();
      const auto lc = file.source->locate(dj.name_span.begin);
      j.line = lc.line;
      j.column = lc.column;
      j.title = dj.title.value_or("");
      for (const auto& e : dj.entries) {
        EntryRule r;
        r.kind = e.kind;
        r.event = e.event.name;
        r.where = e.where;
        if (e.kind == dsl::EntryKind::When) r.condition = e.condition;
        r.weekday = e.weekday;
        r.time_of_day = e.time_of_day;
        j.entries.push_back(std::move(r));
      }
      if (dj.reentry) {
        j.reentry = dj.reentry->kind;
        j.reentry_after_ms = dj.reentry->seconds * 1000;
      }
      for (const auto& x : dj.exits) {
        ExitCriterion c;
        c.kind = x.kind;
        c.event = x.event.name;
        c.where = x.where;
        if (x.kind == dsl::ExitKind::When) c.condition = x.condition;
        j.exits.push_back(std::move(c));
      }
      for (const auto& g : dj.goals) j.goals.push_back({g.name, g.event.name, g.where, g.within * 1000});
      if (dj.quiet_hours) {
        j.quiet_start = dj.quiet_hours->start;
        j.quiet_end = dj.quiet_hours->end;
      }
      if (dj.cap) {
        j.cap_count = dj.cap->count;
        j.cap_per_ms = dj.cap->per * 1000;
      }
      JourneyBuilder(*file.source, j).build(dj.steps);
      MachineBuilder(j).build();

      // What the journey reads.
      std::set<std::string> segments_used;
      Reads r{[&](const std::string& e, const std::string& p) {
                j.events_read.insert(e);
                read_event(e, p);
              },
              [&j](const std::vector<std::string>& p) {
                std::string joined;
                for (const auto& part : p) joined += (joined.empty() ? "" : ".") + part;
                j.properties_read.insert(joined);
              },
              [&segments_used](const std::string& s) { segments_used.insert(s); }};
      const auto walk = [&r](const std::optional<dsl::Expr>& e) {
        if (e) r.walk(*e, nullptr);
      };
      for (const auto& e : j.entries) {
        if (e.kind == dsl::EntryKind::On) j.events_read.insert(e.event);
        walk(e.where);
        walk(e.condition);
      }
      for (const auto& e : j.exits) {
        if (e.kind == dsl::ExitKind::On) j.events_read.insert(e.event);
        walk(e.where);
        walk(e.condition);
      }
      for (const auto& g : j.goals) {
        j.events_read.insert(g.event);
        walk(g.where);
      }
      for (const auto& op : j.ops) {
        walk(op.condition);
        walk(op.value);
        for (const auto& f : op.with) r.walk(f.value, nullptr);
        for (const auto& a : op.arms) {
          j.events_read.insert(a.event);
          walk(a.where);
        }
      }
      // Segments may use other segments: close over them (cycles are a lint error; guard anyway).
      std::vector<std::string> todo(segments_used.begin(), segments_used.end());
      while (!todo.empty()) {
        const std::string name = todo.back();
        todo.pop_back();
        const auto seg = program->segments.find(name);
        if (seg == program->segments.end()) continue;
        Reads inner{[&](const std::string& e, const std::string&) { j.events_read.insert(e); },
                    [&j](const std::vector<std::string>& p) {
                      std::string joined;
                      for (const auto& part : p) joined += (joined.empty() ? "" : ".") + part;
                      j.properties_read.insert(joined);
                    },
                    [&](const std::string& s) {
                      if (segments_used.insert(s).second) todo.push_back(s);
                    }};
        inner.walk(seg->second.condition, nullptr);
      }
      // The version: a hash of the canonical form, which includes the segments it uses.
      nlohmann::json canon = ir_json(j);
      canon.erase("version");
      canon.erase("source");
      for (const auto& s : segments_used) {
        const auto seg = program->segments.find(s);
        if (seg != program->segments.end()) canon["segments"][s] = expr_text(seg->second.condition);
      }
      j.version = hex16(stable_hash(canon.dump(), 0x6a6f75726e6579ULL));
      program->journeys.push_back(std::move(j));
    }
  }
  std::sort(program->journeys.begin(), program->journeys.end(),
            [](const Journey& a, const Journey& b) { return a.name < b.name; });
  program->timeline_events = std::move(timeline);
  result.program = std::move(program);
  return result;
}

std::vector<JourneyInfo> journeys_of(const Program& program) {
  std::vector<JourneyInfo> out;
  for (const auto& j : program.journeys) out.push_back({j.name, j.version});
  return out;
}

}  // namespace journey::engine
