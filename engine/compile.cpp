// Checked AST to the compiled Program: flat op code per journey, its state-machine view,
// the timeline data journeys read, and a version hash of each journey's canonical form.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

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
    switch (dsl::reads_of(e.kind)) {
      case dsl::ExprReads::Customer: on_customer(e.path); break;
      case dsl::ExprReads::Event:
        if (aggregate_event != nullptr && !e.path.empty())
          on_event(*aggregate_event, e.path.front());
        break;
      case dsl::ExprReads::Segment: on_segment(e.text); break;
      case dsl::ExprReads::Timeline:
        on_event(e.text, e.path.empty() ? std::string{} : e.path.front());
        for (const auto& w : e.where) walk(w, &e.text);
        return;
      case dsl::ExprReads::Nothing:
      case dsl::ExprReads::Trigger:
      case dsl::ExprReads::Clock:
      case dsl::ExprReads::Presence:
      case dsl::ExprReads::Calendar:
      case dsl::ExprReads::Program:
      case dsl::ExprReads::Purchases: break;  // the state's count (Purchases), not a timeline
    }
    for (const auto& o : e.operands) walk(o, aggregate_event);
    for (const auto& w : e.where) walk(w, aggregate_event);
  }
};

// Calls `f` on every expression an op holds; every kind is listed, so a new one must say.
template <class F>
void each_expression(Op& op, const F& f) {
  const auto fields = [&f](std::vector<dsl::Field>& with) {
    for (auto& w : with) f(w.value);
  };
  std::visit(Cases{[&](SendOp& p) { fields(p.with); }, [](WaitOp&) {}, [](WaitUntilOp&) {},
                   [&](WaitUntilDateOp& p) { f(p.value); },
                   [&](WaitUpToOp& p) {
                     for (auto& a : p.arms) {
                       if (a.where) f(*a.where);
                     }
                   },
                   [&](BranchOp& p) { f(p.condition); }, [](JumpOp&) {}, [](SplitOp&) {},
                   [&](SetOp& p) { f(p.value); }, [](TagOp&) {}, [](UntagOp&) {},
                   [&](EmitOp& p) { fields(p.with); }, [](ExitOp&) {}, [](EndOp&) {}},
             op.payload);
}

// Calls `f` on every expression the engine evaluates for a journey: its rules and its ops.
template <class F>
void each_expression(Journey& j, const F& f) {
  const auto maybe = [&f](std::optional<dsl::Expr>& e) {
    if (e) f(*e);
  };
  for (auto& e : j.entries) {
    maybe(e.where);
    maybe(e.condition);
  }
  for (auto& e : j.exits) {
    maybe(e.where);
    maybe(e.condition);
  }
  for (auto& g : j.goals) maybe(g.where);
  for (auto& op : j.ops) each_expression(op, f);
}

// Whether a `where` reads anything besides the tested event and constants: `trigger.`, `now`,
// customer data, segments, timelines or purchases make a kept fold stale.
bool reads_beyond_event(const dsl::Expr& e) {
  switch (dsl::reads_of(e.kind)) {
    case dsl::ExprReads::Customer:
    case dsl::ExprReads::Trigger:
    case dsl::ExprReads::Clock:
    case dsl::ExprReads::Segment:
    case dsl::ExprReads::Timeline:
    case dsl::ExprReads::Purchases:
    case dsl::ExprReads::Calendar:
    case dsl::ExprReads::Program: return true;
    case dsl::ExprReads::Nothing:
    case dsl::ExprReads::Event:
    case dsl::ExprReads::Presence: break;
  }
  for (const auto& o : e.operands) {
    if (reads_beyond_event(o)) return true;
  }
  return false;
}

// Numbers the aggregates whose fold over the whole timeline a customer's state can keep and
// extend (a `where` that reads only the tested event, no `within`): each gets the slot of its
// key, the canonical text, so that equal aggregates share a fold, within and across programs.
// Formatting happens here, once; evaluation only reads the slot.
class FoldSlots {
 public:
  explicit FoldSlots(std::vector<std::string>& keys) : keys_(keys) {}

  void number(dsl::Expr& e) {
    const bool aggregate = e.kind == dsl::ExprKind::Count || e.kind == dsl::ExprKind::Sum ||
                           e.kind == dsl::ExprKind::Avg || e.kind == dsl::ExprKind::Min ||
                           e.kind == dsl::ExprKind::Max;
    if (aggregate && !e.within && !e.where.empty() && !reads_beyond_event(e.where.front())) {
      std::string key = expr_text(e);
      const auto [it, added] = slot_of_.try_emplace(key, static_cast<std::int32_t>(keys_.size()));
      if (added) keys_.push_back(std::move(key));
      e.slot = it->second;
    }
    for (auto& o : e.operands) number(o);
    for (auto& w : e.where) number(w);
  }

 private:
  std::vector<std::string>& keys_;
  std::map<std::string, std::int32_t> slot_of_;
};

std::string fields_text(const std::vector<dsl::Field>& with) {
  if (with.empty()) return {};
  std::string out = " with {";
  for (std::size_t i = 0; i < with.size(); ++i)
    out += (i ? ", " : " ") + with[i].key + ": " + expr_text(with[i].value);
  return out + " }";
}

std::string path_text(const std::vector<std::string>& path) {
  std::string out = "customer";
  for (const auto& part : path) out += "." + part;
  return out;
}

// Long conditions are cut in names (the signature keeps them whole).
constexpr std::size_t kNameTextMax = 48;

std::string shortened(std::string text) {
  if (text.size() <= kNameTextMax) return text;
  std::size_t cut = kNameTextMax - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return text.substr(0, cut) + "...";
}

// What a step does, as its name says it: the step as written, without its blocks, `with` values
// and conditions of later arms.
std::string summary_of(const dsl::Step& s) {
  switch (s.kind) {
    case dsl::StepKind::Send:
      return "send " + s.channel + " " + dsl::string_text(s.template_name) +
             (s.topic.empty() ? "" : " topic " + s.topic) +
             (s.transactional ? " transactional" : "");
    case dsl::StepKind::Wait: return "wait " + duration_text(s.seconds);
    case dsl::StepKind::WaitUntil:
      return "wait until " + dsl::until_time_text(s.weekdays, s.seconds);
    case dsl::StepKind::WaitUntilDate:
      return "wait until " + shortened(expr_text(s.value)) +
             (s.offset != 0 ? " offset " + dsl::offset_text(s.offset) : "");
    case dsl::StepKind::WaitUpTo: return "wait up to " + duration_text(s.seconds);
    case dsl::StepKind::If: return "if " + shortened(expr_text(s.arms.front().condition));
    case dsl::StepKind::Split: {
      std::string names;
      for (const auto& v : s.variants) names += (names.empty() ? "" : "/") + v.name;
      return "split " + names;
    }
    case dsl::StepKind::Set: return "set " + path_text(s.path);
    case dsl::StepKind::Tag: return "tag " + dsl::string_text(s.text);
    case dsl::StepKind::Untag: return "untag " + dsl::string_text(s.text);
    case dsl::StepKind::Emit: return "emit " + dsl::event_name_text(s.event.name);
    case dsl::StepKind::Goto: return "goto " + s.text;
    case dsl::StepKind::Exit: return s.has_reason ? "exit " + dsl::string_text(s.text) : "exit";
  }
  return {};
}

// A step's own behaviour in canonical text: everything it does when a run reaches it, nothing of
// its blocks (compared by `journey diff` and migrations, step by step).
std::string signature_of(const dsl::Step& s) {
  switch (s.kind) {
    case dsl::StepKind::Send: return summary_of(s) + fields_text(s.with);
    case dsl::StepKind::WaitUpTo: {
      std::string out = summary_of(s) + " {";
      for (const auto& b : s.branches) {
        out += " on " + dsl::event_name_text(b.event.name);
        if (b.where) out += " where " + expr_text(*b.where);
        out += ";";
      }
      return out + " }";
    }
    case dsl::StepKind::If: {
      std::string out;
      for (const auto& arm : s.arms)
        out += (out.empty() ? "if " : " else if ") + expr_text(arm.condition);
      return out;
    }
    case dsl::StepKind::Split: {
      std::string out = "split {";
      for (const auto& v : s.variants) {
        char percent[32];
        std::snprintf(percent, sizeof percent, "%g", v.percent);
        out += std::string(" ") + percent + "% " + v.name + ";";
      }
      return out + " }";
    }
    case dsl::StepKind::Set: return summary_of(s) + " = " + expr_text(s.value);
    case dsl::StepKind::WaitUntilDate:
      return "wait until " + expr_text(s.value) +
             (s.offset != 0 ? " offset " + dsl::offset_text(s.offset) : "");
    case dsl::StepKind::Emit: return summary_of(s) + fields_text(s.with);
    case dsl::StepKind::Wait:
    case dsl::StepKind::WaitUntil:
    case dsl::StepKind::Tag:
    case dsl::StepKind::Untag:
    case dsl::StepKind::Goto:
    case dsl::StepKind::Exit: return summary_of(s);
  }
  return {};
}

// The steps of the journey, in source order: ids, names and the step tree.
class StepTree {
 public:
  StepTree(const dsl::SourceFile& source, StepNaming naming, std::vector<Step>& steps)
      : source_(source), naming_(naming), steps_(steps) {}

  // One block of `parent` (kNoStep: the top), its key and its text: where its steps sit.
  struct Block {
    std::size_t parent = kNoStep;
    std::string key;
    std::string text;
  };

  // Adds the `index`-th (1-based) step of a block; `previous` is the step before it there.
  std::size_t add(const dsl::Step& s, const Block& block, std::size_t index, std::size_t previous) {
    Step step;
    const auto lc = source_.locate(s.span.begin);
    step.line = lc.line;
    step.column = lc.column;
    step.label = s.label;
    step.kind = s.kind;
    step.summary = summary_of(s);
    step.signature = signature_of(s);
    step.parent = block.parent;
    step.block = block.key;
    step.block_text = block.text;
    if (!s.label.empty()) {
      step.id = s.label;
    } else if (naming_ == StepNaming::Positions) {
      step.id = "L" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
    } else {
      step.id = (block.parent == kNoStep ? "" : steps_[block.parent].id + "." + block.key + ".") +
                std::to_string(index);
    }
    if (!s.label.empty()) {
      step.name = step.summary + " at " + s.label;
    } else if (previous != kNoStep) {
      step.name = step.summary + " after " + shortened(reference(steps_[previous]));
    } else if (block.parent != kNoStep) {
      // An `if` arm says its condition and a variant its name; a wait's blocks and an `else` say
      // whose they are.
      const bool owned =
          steps_[block.parent].kind == dsl::StepKind::WaitUpTo || block.key == "else";
      step.name = step.summary + " " + shortened(block.text) +
                  (owned ? " of " + shortened(reference(steps_[block.parent])) : "");
    } else {
      step.name = step.summary;
    }
    steps_.push_back(std::move(step));
    return steps_.size() - 1;
  }

  // Makes the names unique: a repeated name gets " (2)", " (3)"... in source order.
  void finish() {
    std::map<std::string, int> seen;
    for (auto& step : steps_) {
      const int n = ++seen[step.name];
      if (n > 1) step.name += " (" + std::to_string(n) + ")";
    }
  }

 private:
  static std::string reference(const Step& step) {
    return step.label.empty() ? step.summary : step.label;
  }

  const dsl::SourceFile& source_;
  StepNaming naming_;
  std::vector<Step>& steps_;
};

class JourneyBuilder {
 public:
  JourneyBuilder(const dsl::SourceFile& source, Journey& journey, StepNaming naming)
      : j_(journey), tree_(source, naming, journey.steps) {}

  void build(const dsl::Block& steps) {
    block(steps, {});
    tree_.finish();
    Op end;
    end.step_id = "end";
    end.payload = EndOp{};
    j_.ops.push_back(std::move(end));
    for (const auto& [index, label] : gotos_) {
      const auto it = j_.labels.find(label);
      jump(index).target = it == j_.labels.end() ? j_.ops.size() - 1 : it->second;
    }
  }

 private:
  std::size_t push(Op op) {
    j_.ops.push_back(std::move(op));
    return j_.ops.size() - 1;
  }

  // An op the step needs besides its head (an `if` arm's branch, a jump), of the same step.
  static Op glue(const Op& head, OpPayload payload) {
    Op op;
    op.step_id = head.step_id;
    op.step = head.step;
    op.line = head.line;
    op.column = head.column;
    op.payload = std::move(payload);
    return op;
  }

  JumpOp& jump(std::size_t index) { return std::get<JumpOp>(j_.ops[index].payload); }

  void block(const dsl::Block& steps, const StepTree::Block& where) {
    std::size_t previous = kNoStep;
    for (std::size_t i = 0; i < steps.size(); ++i)
      previous = step(steps[i], where, i + 1, previous);
  }

  // Compiles one step; returns its index in Journey::steps.
  std::size_t step(const dsl::Step& s, const StepTree::Block& where, std::size_t index,
                   std::size_t previous) {
    const std::size_t me = tree_.add(s, where, index, previous);
    Op head;
    head.step_id = j_.steps[me].id;
    head.step = me;
    head.step_head = true;
    head.line = j_.steps[me].line;
    head.column = j_.steps[me].column;
    j_.steps[me].op = j_.ops.size();
    if (!s.label.empty()) j_.labels[s.label] = j_.ops.size();
    switch (s.kind) {
      case dsl::StepKind::Send:
        head.payload = SendOp{s.channel, s.template_name, s.with,
                              variant_,  s.topic,         s.transactional || j_.transactional};
        push(std::move(head));
        break;
      case dsl::StepKind::Wait:
        head.payload = WaitOp{s.seconds * 1000};
        push(std::move(head));
        break;
      case dsl::StepKind::WaitUntil:
        head.payload = WaitUntilOp{s.seconds, s.weekdays};
        push(std::move(head));
        break;
      case dsl::StepKind::WaitUntilDate:
        head.payload = WaitUntilDateOp{s.value, s.offset * 1000};
        push(std::move(head));
        break;
      case dsl::StepKind::WaitUpTo: {
        head.payload = WaitUpToOp{s.seconds * 1000, {}, 0};
        const Op proto = head;
        const std::size_t w = push(std::move(head));
        const auto wait = [this, w]() -> WaitUpToOp& {
          return std::get<WaitUpToOp>(j_.ops[w].payload);
        };
        std::vector<std::size_t> ends;
        for (std::size_t b = 0; b < s.branches.size(); ++b) {
          const auto& branch = s.branches[b];
          WaitArm arm;
          arm.event = branch.event.name;
          arm.where = branch.where;
          arm.target = j_.ops.size();
          wait().arms.push_back(std::move(arm));
          block(branch.body, {me, "on" + std::to_string(b + 1),
                              "on " + dsl::event_name_text(branch.event.name)});
          ends.push_back(push(glue(proto, JumpOp{})));
        }
        wait().timeout_target = j_.ops.size();
        if (s.has_timeout) block(s.timeout, {me, "timeout", "on timeout"});
        const std::size_t end = j_.ops.size();
        if (!s.has_timeout) wait().timeout_target = end;
        for (const auto e : ends) jump(e).target = end;
        break;
      }
      case dsl::StepKind::If: {
        std::vector<std::size_t> ends;
        for (std::size_t a = 0; a < s.arms.size(); ++a) {
          const auto& arm = s.arms[a];
          Op br = glue(head, BranchOp{arm.condition, 0});
          br.step_head = a == 0;
          const std::size_t b = push(std::move(br));
          block(arm.body, {me, "if" + std::to_string(a + 1),
                           (a == 0 ? "if " : "else if ") + expr_text(arm.condition)});
          ends.push_back(push(glue(head, JumpOp{})));
          std::get<BranchOp>(j_.ops[b].payload).else_target = j_.ops.size();
        }
        if (s.has_else) block(s.else_body, {me, "else", "in else"});
        for (const auto e : ends) jump(e).target = j_.ops.size();
        break;
      }
      case dsl::StepKind::Split: {
        head.payload = SplitOp{};
        const Op proto = head;
        const std::size_t sp = push(std::move(head));
        std::vector<std::size_t> ends;
        const std::string outer = variant_;
        for (const auto& v : s.variants) {
          Variant var;
          var.name = v.name;
          var.percent = v.percent;
          var.target = j_.ops.size();
          std::get<SplitOp>(j_.ops[sp].payload).variants.push_back(var);
          variant_ = v.name;
          block(v.body, {me, v.name, "in variant " + v.name});
          variant_ = outer;
          ends.push_back(push(glue(proto, JumpOp{})));
        }
        for (const auto e : ends) jump(e).target = j_.ops.size();
        break;
      }
      case dsl::StepKind::Set:
        head.payload = SetOp{s.path, s.value};
        push(std::move(head));
        break;
      case dsl::StepKind::Tag:
        head.payload = TagOp{s.text};
        push(std::move(head));
        break;
      case dsl::StepKind::Untag:
        head.payload = UntagOp{s.text};
        push(std::move(head));
        break;
      case dsl::StepKind::Emit:
        head.payload = EmitOp{s.event.name, s.with};
        push(std::move(head));
        break;
      case dsl::StepKind::Goto:
        head.payload = JumpOp{};  // the target is set once every label is known
        gotos_.emplace_back(push(std::move(head)), s.text);
        break;
      case dsl::StepKind::Exit:
        head.payload = ExitOp{s.has_reason ? s.text : std::string{}};
        push(std::move(head));
        break;
    }
    return me;
  }

  Journey& j_;
  StepTree tree_;
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
      const auto wait_state = [&](StateKind kind) {
        state_of_op_[i] = j_.states.size();
        j_.states.push_back({op.step_id, kind, i});
      };
      const auto none = [](const auto&) {};
      std::visit(Cases{[&](const WaitOp&) { wait_state(StateKind::Wait); },
                       [&](const WaitUntilOp&) { wait_state(StateKind::WaitUntil); },
                       [&](const WaitUntilDateOp&) { wait_state(StateKind::WaitUntil); },
                       [&](const WaitUpToOp&) { wait_state(StateKind::WaitUpTo); },
                       [&](const SendOp&) {
                         if (!j_.quiet_start && !j_.send_window) return;
                         hold_of_op_[i] = j_.states.size();
                         j_.states.push_back({"hold:" + op.step_id, StateKind::QuietHold, i});
                       },
                       none},
                 op.payload);
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
          const auto& op = std::get<WaitUpToOp>(j_.ops[st.op].payload);
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
        case StateKind::End: break;
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
      // The op after this one along the path, or nullopt when the path ends here.
      const std::optional<std::size_t> next = std::visit(
          Cases{[&](const SendOp&) -> std::optional<std::size_t> {
                  if (j_.quiet_start) {
                    const std::string window =
                        time_of_day_text(*j_.quiet_start) + "-" + time_of_day_text(*j_.quiet_end);
                    Transition held = t;
                    held.guards.push_back({Guard::Kind::QuietHours, window, false});
                    finish(std::move(held), hold_of_op_[pc], {});
                    t.guards.push_back({Guard::Kind::QuietHours, window, true});
                  }
                  if (j_.send_window) {
                    const SendWindowRule& w = *j_.send_window;
                    const std::string window =
                        dsl::send_window_text(w.weekdays, w.start, w.end, w.except_holidays);
                    Transition held = t;
                    held.guards.push_back({Guard::Kind::SendWindow, window, true});
                    finish(std::move(held), hold_of_op_[pc], {});
                    t.guards.push_back({Guard::Kind::SendWindow, window, false});
                  }
                  t.actions.push_back(pc);
                  return pc + 1;
                },
                [&](const WaitOp&) { return wait(t, pc); },
                [&](const WaitUntilOp&) { return wait(t, pc); },
                [&](const WaitUntilDateOp&) { return wait(t, pc); },
                [&](const WaitUpToOp&) { return wait(t, pc); },
                [&](const BranchOp& op) -> std::optional<std::size_t> {
                  Transition yes = t;
                  yes.guards.push_back({Guard::Kind::Condition, expr_text(op.condition), false});
                  walk(std::move(yes), pc + 1, seen);
                  t.guards.push_back({Guard::Kind::Condition, expr_text(op.condition), true});
                  return op.else_target;
                },
                [&](const JumpOp& op) -> std::optional<std::size_t> { return op.target; },
                [&](const SplitOp& op) -> std::optional<std::size_t> {
                  for (const auto& v : op.variants) {
                    Transition arm = t;
                    arm.guards.push_back({Guard::Kind::Variant, v.name, false});
                    walk(std::move(arm), v.target, seen);
                  }
                  return std::nullopt;
                },
                [&](const SetOp&) { return action(t, pc); },
                [&](const TagOp&) { return action(t, pc); },
                [&](const UntagOp&) { return action(t, pc); },
                [&](const EmitOp&) { return action(t, pc); },
                [&](const ExitOp& op) -> std::optional<std::size_t> {
                  t.actions.push_back(pc);
                  finish(std::move(t), 1, op.reason.empty() ? "exit" : op.reason);
                  return std::nullopt;
                },
                [&](const EndOp&) -> std::optional<std::size_t> {
                  finish(std::move(t), 1, "end");
                  return std::nullopt;
                }},
          j_.ops[pc].payload);
      if (!next) return;
      pc = *next;
    }
  }

  // A wait ends the path at its state.
  std::optional<std::size_t> wait(Transition& t, std::size_t pc) {
    finish(std::move(t), state_of_op_[pc], {});
    return std::nullopt;
  }

  // An action other than a send joins the path, which goes on.
  static std::optional<std::size_t> action(Transition& t, std::size_t pc) {
    t.actions.push_back(pc);
    return pc + 1;
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

std::string exit_reason(const ExitCriterion& exit) {
  return exit.kind == dsl::ExitKind::When ? "exit when" : "exit on " + exit.event;
}

std::string entry_text(const EntryRule& rule, bool with_where) {
  static constexpr const char* kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                              "thursday", "friday", "saturday"};
  switch (rule.kind) {
    case dsl::EntryKind::On:
      return "on " + rule.event +
             (with_where && rule.where ? " where " + expr_text(*rule.where) : "");
    case dsl::EntryKind::When: return "when " + expr_text(*rule.condition);
    case dsl::EntryKind::Every:
      return std::string("every ") + (rule.weekday < 0 ? "day" : kWeekdays[rule.weekday]) + " at " +
             time_of_day_text(rule.time_of_day) +
             (rule.where ? " when " + expr_text(*rule.where) : "");
    case dsl::EntryKind::Yearly:
    case dsl::EntryKind::OnDate:
    case dsl::EntryKind::At:
      return dsl::calendar_entry_text(
                 rule.kind, rule.path,
                 {rule.time_of_day, rule.offset_ms / 1000, rule.at, rule.local}) +
             (rule.where ? " when " + expr_text(*rule.where) : "");
  }
  return "";
}

const char* op_kind_name(const Op& op) {
  return std::visit([](const auto& payload) { return std::decay_t<decltype(payload)>::kName; },
                    op.payload);
}

// The compiler's IR is text output: it prints expressions with expr_text (so does the version
// hash, which hashes the IR); evaluation never does.
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
    static constexpr const char* kEntryKinds[] = {"on", "when", "every", "yearly", "on_date", "at"};
    x["kind"] = kEntryKinds[static_cast<int>(e.kind)];
    if (e.kind == dsl::EntryKind::On) x["event"] = e.event;
    if (e.where) x[e.kind == dsl::EntryKind::On ? "where" : "when"] = expr_text(*e.where);
    if (e.kind == dsl::EntryKind::Yearly || e.kind == dsl::EntryKind::OnDate) {
      std::string path = "customer";
      for (const auto& part : e.path) path += "." + part;
      x["attribute"] = path;
      x["at"] = time_of_day_text(e.time_of_day);
      x["offset"] = e.offset_ms / 1000;
    }
    if (e.kind == dsl::EntryKind::At) {
      x["at"] = dsl::date_time_text(e.at);
      x["local"] = e.local;
    }
    if (e.condition) x["condition"] = expr_text(*e.condition);
    if (e.kind == dsl::EntryKind::Every) {
      x["weekday"] = e.weekday;
      x["at"] = time_of_day_text(e.time_of_day);
    }
    entries.push_back(std::move(x));
  }
  out["entries"] = std::move(entries);
  out["reentry"] = j.reentry == dsl::ReentryKind::Never ? "never"
                   : j.reentry == dsl::ReentryKind::Always
                       ? "always"
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
  if (j.quiet_start)
    out["quiet_hours"] = time_of_day_text(*j.quiet_start) + "-" + time_of_day_text(*j.quiet_end);
  if (j.send_window) {
    const SendWindowRule& w = *j.send_window;
    out["send_window"] = dsl::send_window_text(w.weekdays, w.start, w.end, w.except_holidays);
  }
  if (j.cap_count)
    out["cap"] = {{"count", *j.cap_count}, {"per", duration_text(j.cap_per_ms / 1000)}};
  out["on_update"] = j.on_update == UpdatePolicy::Migrate ? "migrate" : "keep";
  // Beyond the first IR: only when set, so that versions of journeys without them stay put.
  if (j.priority != 0) out["priority"] = j.priority;
  if (j.transactional) out["transactional"] = true;
  json steps = json::array();
  for (const auto& s : j.steps) steps.push_back({{"id", s.id}, {"name", s.name}});
  out["steps"] = std::move(steps);
  json ops = json::array();
  for (std::size_t i = 0; i < j.ops.size(); ++i) {
    const Op& op = j.ops[i];
    json x{{"index", i}, {"op", op_kind_name(op)}, {"step", op.step_id}};
    std::visit(
        Cases{[&](const SendOp& p) {
                x["channel"] = p.channel;
                x["template"] = p.template_name;
                x["with"] = fields_json(p.with);
                if (!p.variant.empty()) x["variant"] = p.variant;
                if (!p.topic.empty()) x["topic"] = p.topic;
                if (p.transactional) x["transactional"] = true;
              },
              [&](const WaitOp& p) { x["duration"] = duration_text(p.millis / 1000); },
              [&](const WaitUntilOp& p) {
                x["at"] = time_of_day_text(p.time_of_day);
                if (p.weekdays != 0) x["days"] = dsl::days_text(p.weekdays);
              },
              [&](const WaitUntilDateOp& p) {
                x["date"] = expr_text(p.value);
                x["offset"] = p.offset_ms / 1000;
              },
              [&](const WaitUpToOp& p) {
                x["duration"] = duration_text(p.millis / 1000);
                json arms = json::array();
                for (const auto& a : p.arms) {
                  json arm{{"event", a.event}, {"target", a.target}};
                  if (a.where) arm["where"] = expr_text(*a.where);
                  arms.push_back(std::move(arm));
                }
                x["arms"] = std::move(arms);
                x["timeout_target"] = p.timeout_target;
              },
              [&](const BranchOp& p) {
                x["condition"] = expr_text(p.condition);
                x["else_target"] = p.else_target;
              },
              [&](const JumpOp& p) { x["target"] = p.target; },
              [&](const SplitOp& p) {
                json vars = json::array();
                for (const auto& v : p.variants)
                  vars.push_back({{"name", v.name}, {"percent", v.percent}, {"target", v.target}});
                x["variants"] = std::move(vars);
              },
              [&](const SetOp& p) {
                x["path"] = p.path;
                x["value"] = expr_text(p.value);
              },
              [&](const TagOp& p) { x["tag"] = p.tag; },
              [&](const UntagOp& p) { x["tag"] = p.tag; },
              [&](const EmitOp& p) {
                x["event"] = p.event;
                x["with"] = fields_json(p.with);
              },
              [&](const ExitOp& p) { x["reason"] = p.reason; }, [](const EndOp&) {}},
        op.payload);
    ops.push_back(std::move(x));
  }
  out["ops"] = std::move(ops);
  json states = json::array();
  for (const auto& s : j.states) {
    static constexpr const char* kKinds[] = {"start",      "wait",       "wait_until",
                                             "wait_up_to", "quiet_hold", "end"};
    states.push_back({{"id", s.id}, {"kind", kKinds[static_cast<int>(s.kind)]}, {"op", s.op}});
  }
  out["states"] = std::move(states);
  json transitions = json::array();
  for (const auto& t : j.transitions) {
    static constexpr const char* kTriggers[] = {"entry", "timer", "event", "timeout"};
    json x{{"from", j.states[t.from].id},
           {"to", j.states[t.to].id},
           {"trigger", kTriggers[static_cast<int>(t.trigger)]}};
    if (t.trigger == TriggerKind::Event) x["event"] = t.event;
    if (t.where) x["where"] = expr_text(*t.where);
    json guards = json::array();
    for (const auto& g : t.guards) {
      static constexpr const char* kGuards[] = {"condition", "variant", "quiet_hours",
                                                "send_window"};
      guards.push_back(
          {{"kind", kGuards[static_cast<int>(g.kind)]}, {"text", g.text}, {"negated", g.negated}});
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
  const auto it =
      std::lower_bound(journeys.begin(), journeys.end(), name,
                       [](const Journey& j, const std::string& n) { return j.name < n; });
  return it != journeys.end() && it->name == name ? &*it : nullptr;
}

const Step* find_step(const Journey& journey, const std::string& id) {
  for (const auto& s : journey.steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string step_name(const Journey& journey, const std::string& id) {
  const Step* s = find_step(journey, id);
  return s != nullptr ? s->name : id;
}

CompileResult compile(const dsl::Workspace& workspace, StepNaming naming) {
  CompileResult result;
  if (workspace.has_errors()) {
    result.diagnostics = workspace.diagnostics;
    return result;
  }
  auto program = std::make_shared<Program>();
  for (const auto& file : workspace.files) {
    for (const auto& s : file.module.segments)
      program->segments[s.name] = Segment{s.name, s.condition};
  }
  FoldSlots slots(program->aggregate_keys);
  for (auto& [name, seg] : program->segments) slots.number(seg.condition);
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
        r.path = e.path;
        r.offset_ms = e.offset * 1000;
        r.at = e.at;
        r.local = e.local;
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
      for (const auto& g : dj.goals)
        j.goals.push_back({g.name, g.event.name, g.where, g.within * 1000});
      if (dj.quiet_hours) {
        j.quiet_start = dj.quiet_hours->start;
        j.quiet_end = dj.quiet_hours->end;
      }
      if (dj.send_window) {
        const dsl::SendWindow& w = *dj.send_window;
        j.send_window = SendWindowRule{w.weekdays, w.start, w.end, w.except_holidays};
      }
      if (dj.cap) {
        j.cap_count = dj.cap->count;
        j.cap_per_ms = dj.cap->per * 1000;
      }
      j.naming = naming;
      if (dj.priority) j.priority = dj.priority->value;
      j.transactional = dj.transactional.has_value();
      if (dj.on_update)
        j.on_update = dj.on_update->migrate ? UpdatePolicy::Migrate : UpdatePolicy::Keep;
      JourneyBuilder(*file.source, j, naming).build(dj.steps);
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
        if (!e.path.empty()) {
          std::string joined;
          for (const auto& part : e.path) joined += (joined.empty() ? "" : ".") + part;
          j.properties_read.insert(joined);
        }
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
      for (auto& op : j.ops) {
        each_expression(op, [&r](const dsl::Expr& e) { r.walk(e, nullptr); });
        if (const auto* wait = std::get_if<WaitUpToOp>(&op.payload)) {
          for (const auto& a : wait->arms) j.events_read.insert(a.event);
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
      // The version: a hash of the canonical form, which includes the segments it uses. What
      // changes no run's behaviour is left out: where the journey is, its step names (the ids
      // are in the ops) and what a reload does to older runs. (The title stays in: versions of
      // journeys labelled throughout are the same under both namings.)
      nlohmann::json canon = ir_json(j);
      for (const char* key : {"version", "source", "on_update", "steps"}) canon.erase(key);
      for (const auto& s : segments_used) {
        const auto seg = program->segments.find(s);
        if (seg != program->segments.end()) j.segments[s] = expr_text(seg->second.condition);
      }
      for (const auto& [name, text] : j.segments) canon["segments"][name] = text;
      j.version = hex16(stable_hash(canon.dump(), 0x6a6f75726e6579ULL));
      each_expression(j, [&slots](dsl::Expr& e) { slots.number(e); });
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
