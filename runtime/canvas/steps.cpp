#include "runtime/canvas/steps.hpp"

#include <algorithm>
#include <set>

#include "runtime/canvas/text.hpp"

namespace journey::canvas {
namespace {

using engine::Journey;
using engine::Op;

std::string quoted(const std::string& text) {
  return "\u201c" + text + "\u201d";
}

std::string entry_text(const Journey& j) {
  std::string out;
  for (const auto& e : j.entries) out += (out.empty() ? "" : ", or ") + engine::entry_text(e, true);
  return out.empty() ? "no entry rule" : out;
}

std::string path_text(const std::vector<std::string>& path) {
  std::string out = "customer";
  for (const auto& part : path) out += "." + part;
  return out;
}

/// The node of a step head.
StepNode node_of(const Journey& j, const Op& op) {
  using K = StepNode::Kind;
  StepNode node;
  node.step = op.step_id;
  const auto& step = j.steps[op.step];
  node.name = step.label.empty() ? step.name : step.label;
  std::visit(engine::Cases{
                 [&](const engine::SendOp& p) {
                   node.kind = K::Send;
                   node.does = "Send " + p.channel + " " + quoted(p.template_name) +
                               (p.topic.empty() ? "" : " (topic " + p.topic + ")") +
                               (p.transactional ? " (transactional)" : "");
                 },
                 [&](const engine::WaitOp& p) {
                   node.kind = K::Wait;
                   node.does = "Wait " + engine::duration_text(p.millis / 1000);
                 },
                 [&](const engine::WaitUntilOp& p) {
                   node.kind = K::Wait;
                   node.does = "Wait until " + dsl::until_time_text(p.weekdays, p.time_of_day);
                 },
                 [&](const engine::WaitUntilDateOp& p) {
                   node.kind = K::Wait;
                   node.does =
                       "Wait until " + engine::expr_text(p.value) +
                       (p.offset_ms != 0 ? " offset " + dsl::offset_text(p.offset_ms / 1000) : "");
                 },
                 [&](const engine::WaitUpToOp& p) {
                   node.kind = K::Wait;
                   std::string events;
                   for (const auto& arm : p.arms) {
                     if (events.find(arm.event) == std::string::npos)
                       events += (events.empty() ? "" : " or ") + arm.event;
                   }
                   node.does = "Wait up to " + engine::duration_text(p.millis / 1000) +
                               (events.empty() ? "" : " for " + events);
                 },
                 [&](const engine::BranchOp& p) {
                   node.kind = K::Check;
                   node.does = "If " + engine::expr_text(p.condition);
                 },
                 [&](const engine::JumpOp&) {
                   node.kind = K::Goto;
                   node.does = "Go back";
                 },
                 [&](const engine::SplitOp& p) {
                   node.kind = K::Split;
                   node.does = "Split " + std::to_string(p.variants.size()) + " ways";
                 },
                 [&](const engine::SetOp& p) {
                   node.kind = K::Change;
                   node.does = "Set " + path_text(p.path) + " = " + engine::expr_text(p.value);
                 },
                 [&](const engine::TagOp& p) {
                   node.kind = K::Change;
                   node.does = "Tag " + quoted(p.tag);
                 },
                 [&](const engine::UntagOp& p) {
                   node.kind = K::Change;
                   node.does = "Remove tag " + quoted(p.tag);
                 },
                 [&](const engine::EmitOp& p) {
                   node.kind = K::Change;
                   node.does = "Emit " + p.event;
                 },
                 [&](const engine::ExitOp& p) {
                   node.kind = K::Exit;
                   node.does = p.reason.empty() ? "Exit" : "Exit: " + p.reason;
                 },
                 [&](const engine::EndOp&) { node.kind = K::End; }},
             op.payload);
  return node;
}

class Builder {
 public:
  explicit Builder(const Journey& j) : j_(j) {}

  StepGraph build() {
    StepNode entry{StepNode::Kind::Entry, "", "Entry", entry_text(j_)};
    graph_.nodes.push_back(std::move(entry));
    for (const auto& op : j_.ops) {
      if (op.step_head) graph_.nodes.push_back(node_of(j_, op));
    }
    graph_.nodes.push_back({StepNode::Kind::End, "end", "Left the journey", ""});
    way("", 0, "");
    for (std::size_t h = 0; h < j_.ops.size(); ++h) {
      const Op& op = j_.ops[h];
      if (!op.step_head) continue;
      const std::string& from = op.step_id;
      std::visit(
          engine::Cases{[&](const engine::WaitUpToOp& p) {
                          for (const auto& arm : p.arms) {
                            way(from, arm.target,
                                "on " + arm.event +
                                    (arm.where ? " where " + engine::expr_text(*arm.where) : ""));
                          }
                          way(from, p.timeout_target,
                              "after " + engine::duration_text(p.millis / 1000) + " without it");
                        },
                        [&](const engine::BranchOp&) { branches(h); },
                        [&](const engine::JumpOp& p) { way(from, p.target, ""); },
                        [&](const engine::SplitOp& p) {
                          for (const auto& v : p.variants)
                            way(from, v.target, percent(v.percent) + " " + v.name);
                        },
                        [&](const engine::ExitOp& p) {
                          add(from, "end", p.reason.empty() ? "exit" : p.reason, "");
                        },
                        [&](const auto&) { way(from, h + 1, ""); }},
          op.payload);
    }
    exit_clauses();
    for (const auto& goal : j_.goals) graph_.goals.push_back({goal.name, goal_text(goal)});
    return std::move(graph_);
  }

 private:
  static std::string percent(double p) {
    std::string text = std::to_string(p);
    text.erase(text.find_last_not_of('0') + 1);
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text + "%";
  }

  // The header's exit clauses take a run out wherever it waits: one way to the end from each
  // such step, in script order.
  void exit_clauses() {
    if (j_.exits.empty()) return;
    for (const auto& exit : j_.exits) {
      graph_.exit_clauses.push_back(exit_clause_text(exit));
      const auto reason = engine::exit_reason(exit);
      if (std::find(graph_.exit_reasons.begin(), graph_.exit_reasons.end(), reason) ==
          graph_.exit_reasons.end()) {
        graph_.exit_reasons.push_back(reason);
      }
    }
    std::set<std::string> waiting;
    for (const auto& state : j_.states) {
      if (run_waits_in(state)) waiting.insert(j_.ops[state.op].step_id);
    }
    for (const auto& node : graph_.nodes) {
      if (node.kind != StepNode::Kind::Entry && node.kind != StepNode::Kind::End &&
          waiting.count(node.step) != 0) {
        graph_.edges.push_back({node.step, "end", "", {}, true});
      }
    }
  }

  // An `if` and its `else if` arms: each arm's condition, then what runs when none holds.
  void branches(std::size_t head) {
    const std::string& from = j_.ops[head].step_id;
    std::size_t pc = head;
    const bool single = [&] {
      const auto& first = std::get<engine::BranchOp>(j_.ops[head].payload);
      return !arm_of(head, first.else_target);
    }();
    for (;;) {
      const auto& branch = std::get<engine::BranchOp>(j_.ops[pc].payload);
      way(from, pc + 1, single ? "yes" : engine::expr_text(branch.condition));
      if (!arm_of(head, branch.else_target)) {
        way(from, branch.else_target, single ? "no" : "otherwise");
        return;
      }
      pc = branch.else_target;
    }
  }

  // Whether the op at `pc` is a further arm of the `if` whose head is at `head`.
  bool arm_of(std::size_t head, std::size_t pc) const {
    return pc < j_.ops.size() && !j_.ops[pc].step_head &&
           std::holds_alternative<engine::BranchOp>(j_.ops[pc].payload) &&
           j_.ops[pc].step_id == j_.ops[head].step_id;
  }

  // The way from `from` that goes on at op `pc`: through the glue (jumps) to the next step head,
  // or to the end of the journey.
  void way(const std::string& from, std::size_t pc, const std::string& label) {
    std::set<std::size_t> seen;
    while (pc < j_.ops.size() && seen.insert(pc).second) {
      const Op& op = j_.ops[pc];
      if (op.step_head) {
        add(from, op.step_id, "", label);
        return;
      }
      if (const auto* jump = std::get_if<engine::JumpOp>(&op.payload)) {
        pc = jump->target;
        continue;
      }
      break;  // the End op
    }
    add(from, "end", "end", label);
  }

  void add(const std::string& from, const std::string& to, const std::string& reason,
           const std::string& label) {
    auto it = std::find_if(graph_.edges.begin(), graph_.edges.end(), [&](const StepEdge& e) {
      return e.from == from && e.to == to && e.exit_reason == reason;
    });
    if (it == graph_.edges.end()) {
      graph_.edges.push_back({from, to, to == "end" ? reason : "", {}});
      it = std::prev(graph_.edges.end());
    }
    if (!label.empty() &&
        std::find(it->labels.begin(), it->labels.end(), label) == it->labels.end()) {
      it->labels.push_back(label);
    }
  }

  const Journey& j_;
  StepGraph graph_;
};

}  // namespace

std::string exit_clause_text(const engine::ExitCriterion& exit) {
  if (exit.kind == dsl::ExitKind::When) return "exit when " + engine::expr_text(*exit.condition);
  return "exit on " + exit.event + (exit.where ? " where " + engine::expr_text(*exit.where) : "");
}

std::string goal_text(const engine::GoalRule& goal) {
  return goal.event + (goal.where ? " where " + engine::expr_text(*goal.where) : "") + " within " +
         engine::duration_text(goal.within_ms / 1000);
}

bool run_waits_in(const engine::State& state) {
  switch (state.kind) {
    case engine::StateKind::Wait:
    case engine::StateKind::WaitUntil:
    case engine::StateKind::WaitUpTo:
    case engine::StateKind::QuietHold: return true;
    case engine::StateKind::Start:
    case engine::StateKind::End: return false;
  }
  return false;
}

std::string step_anchor(const std::string& step) {
  return "step-" + hex_escape(step, '.', "-_");
}

StepGraph step_graph(const engine::Journey& journey) {
  return Builder(journey).build();
}

}  // namespace journey::canvas
