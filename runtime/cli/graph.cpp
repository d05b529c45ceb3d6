// `journey graph PATH... [--journey NAME] --format dot|mermaid|svg`: draw the compiled journeys.
// dot and mermaid draw the state machine: the wait points (named by label, or by what the step
// does and where) plus start and end; edges carry the event, timeout or timer, the guards along
// the way, and the sends and other actions in order. The header's exit clauses leave from every
// wait point (dashed), and each goal is a node reached from start (dotted): it is measured from
// entry and does not move a run. svg draws the console's canvas (runtime/canvas): one box per
// step.
#include <iostream>
#include <memory>
#include <sstream>

#include "engine/program.hpp"
#include "runtime/canvas/steps.hpp"
#include "runtime/canvas/svg.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"

namespace journey::cli {
namespace {

struct GraphArgs {
  std::vector<std::string> paths;
  std::string journey;
  std::string format = "dot";
};

// A wait point: the label and what the step does, or what it does and where it is.
std::string state_label(const engine::Journey& j, const engine::State& s) {
  if (s.kind == engine::StateKind::Start) return "start";
  if (s.kind == engine::StateKind::End) return "end";
  const engine::Step& step = j.steps[j.ops[s.op].step];
  // An unlabelled step's name is its summary and where it is: one line each.
  const std::string where = step.name.substr(std::min(step.name.size(), step.summary.size() + 1));
  std::string label = !step.label.empty() ? step.label + "\\n" + step.summary
                      : where.empty()     ? step.summary
                                          : step.summary + "\\n" + where;
  if (s.kind != engine::StateKind::QuietHold) return label;
  return (j.quiet_start ? "quiet hours hold\\n" : "send window hold\\n") + label;
}

std::string trigger_label(const engine::Journey& j, const engine::Transition& t) {
  const engine::State& from = j.states[t.from];
  switch (t.trigger) {
    case engine::TriggerKind::Entry: {
      std::string out;
      for (const auto& e : j.entries)
        out += (out.empty() ? "" : " | ") + engine::entry_text(e, false);
      return "entry " + out;
    }
    case engine::TriggerKind::Timer: {
      const engine::Op& op = j.ops[from.op];
      if (from.kind == engine::StateKind::QuietHold)
        return j.quiet_start ? "quiet hours over" : "send window open";
      if (const auto* until = std::get_if<engine::WaitUntilOp>(&op.payload)) {
        return "at " + dsl::until_time_text(until->weekdays, until->time_of_day);
      }
      if (const auto* date = std::get_if<engine::WaitUntilDateOp>(&op.payload)) {
        return "at " + engine::expr_text(date->value) +
               (date->offset_ms != 0 ? " " + dsl::offset_text(date->offset_ms / 1000) : "");
      }
      return "after " + engine::duration_text(std::get<engine::WaitOp>(op.payload).millis / 1000);
    }
    case engine::TriggerKind::Event:
      return "on " + t.event + (t.where ? " where " + engine::expr_text(*t.where) : "");
    case engine::TriggerKind::Timeout:
      return "timeout " + engine::duration_text(
                              std::get<engine::WaitUpToOp>(j.ops[from.op].payload).millis / 1000);
  }
  return "";
}

std::string action_label(const engine::Op& op) {
  using R = std::string;
  return std::visit(
      engine::Cases{[](const engine::SendOp& p) -> R {
                      return "send " + p.channel + " \"" + p.template_name + "\"" +
                             (p.topic.empty() ? "" : " topic " + p.topic) +
                             (p.transactional ? " transactional" : "");
                    },
                    [](const engine::ExitOp& p) -> R {
                      return p.reason.empty() ? "exit" : "exit \"" + p.reason + "\"";
                    },
                    [](const engine::EmitOp& p) -> R { return "emit " + p.event; },
                    [](const engine::TagOp& p) -> R { return "tag \"" + p.tag + "\""; },
                    [](const engine::UntagOp& p) -> R { return "untag \"" + p.tag + "\""; },
                    [](const engine::SetOp& p) -> R {
                      std::string path;
                      for (const auto& part : p.path) path += "." + part;
                      return "set customer" + path;
                    },
                    [&op](const auto&) -> R { return engine::op_kind_name(op); }},  // not actions
      op.payload);
}

std::string guard_label(const engine::Guard& g) {
  switch (g.kind) {
    case engine::Guard::Kind::Condition: return (g.negated ? "not (" : "if (") + g.text + ")";
    case engine::Guard::Kind::Variant: return "variant " + g.text;
    case engine::Guard::Kind::QuietHours:
      return (g.negated ? "outside quiet " : "in quiet ") + g.text;
    case engine::Guard::Kind::SendWindow: return (g.negated ? "outside " : "inside ") + g.text;
  }
  return g.text;
}

/// The lines of an edge label: trigger, then guards, then actions.
std::vector<std::string> edge_lines(const engine::Journey& j, const engine::Transition& t) {
  std::vector<std::string> lines{trigger_label(j, t)};
  for (const auto& g : t.guards) lines.push_back(guard_label(g));
  for (std::size_t a : t.actions) lines.push_back(action_label(j.ops[a]));
  return lines;
}

std::string escape(const std::string& text, bool keep_newline_escapes) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (keep_newline_escapes && c == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
      out += "\\n";
      ++i;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

/// A goal's node: its name, then what converts.
std::string goal_label(const engine::GoalRule& goal) {
  return "goal " + goal.name + "\\n" + canvas::goal_text(goal);
}

/// The label of the edges from start to the goals.
constexpr const char* kGoalEdge = "measured from entry";

void draw_dot(std::ostream& out, const engine::Journey& j) {
  out << "digraph \"" << escape(j.name, false) << "\" {\n"
      << "  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t i = 0; i < j.states.size(); ++i) {
    const auto& s = j.states[i];
    out << "  s" << i << " [label=\"" << escape(state_label(j, s), true) << "\"";
    if (s.kind == engine::StateKind::Start) out << ", shape=circle";
    if (s.kind == engine::StateKind::End) out << ", shape=doublecircle";
    out << "];\n";
  }
  for (const auto& t : j.transitions) {
    std::string label;
    for (const auto& line : edge_lines(j, t)) label += escape(line, false) + "\\l";
    out << "  s" << t.from << " -> s" << t.to << " [label=\"" << label << "\"];\n";
  }
  // The header's exit clauses, from every state a run waits in; the goals, from start.
  for (std::size_t i = 0; i < j.states.size(); ++i) {
    if (!canvas::run_waits_in(j.states[i])) continue;
    for (const auto& exit : j.exits) {
      out << "  s" << i << " -> s1 [label=\"" << escape(canvas::exit_clause_text(exit), false)
          << "\\l\", style=dashed];\n";
    }
  }
  for (std::size_t g = 0; g < j.goals.size(); ++g) {
    out << "  g" << g << " [label=\"" << escape(goal_label(j.goals[g]), true)
        << "\", shape=note, style=dashed];\n"
        << "  s0 -> g" << g << " [label=\"" << kGoalEdge << "\\l\", style=dotted];\n";
  }
  out << "}\n";
}

std::string mermaid_text(const std::string& text, bool in_state_name) {
  // Mermaid ends a transition label at a second `:` or a `;`, takes `#` for the start of an entity
  // code and a `"` for the end of a state name. Its entity codes (`#58;`, `#quot;`) would be what a
  // person reads in the text, so each of these becomes a lookalike that Mermaid takes as text:
  // ratio `∶` (in a label; a quoted state name keeps its `:`), fullwidth `；` and `＃`, and curly
  // quotes, opening and closing in turn.
  std::string out;
  bool open = true;
  for (char c : text) {
    if (c == '"') {
      out += open ? "\u201c" : "\u201d";
      open = !open;
    } else if (c == ';') {
      out += "\uff1b";
    } else if (c == ':' && !in_state_name) {
      out += "\u2236";
    } else if (c == '#') {
      out += "\uff03";
    } else {
      out += c;
    }
  }
  return out;
}

void draw_mermaid(std::ostream& out, const engine::Journey& j) {
  out << "---\ntitle: " << j.name << "\n---\nstateDiagram-v2\n";
  auto id = [&](std::size_t i) {
    const auto kind = j.states[i].kind;
    return kind == engine::StateKind::Start || kind == engine::StateKind::End
               ? std::string("[*]")
               : "s" + std::to_string(i);
  };
  for (std::size_t i = 0; i < j.states.size(); ++i) {
    const auto kind = j.states[i].kind;
    if (kind == engine::StateKind::Start || kind == engine::StateKind::End) continue;
    std::string label = state_label(j, j.states[i]);
    for (std::size_t p; (p = label.find("\\n")) != std::string::npos;) label.replace(p, 2, " ");
    out << "  state \"" << mermaid_text(label, true) << "\" as s" << i << "\n";
  }
  for (const auto& t : j.transitions) {
    std::string label;
    for (const auto& line : edge_lines(j, t))
      label += (label.empty() ? "" : " / ") + mermaid_text(line, false);
    out << "  " << id(t.from) << " --> " << id(t.to) << " : " << label << "\n";
  }
  // Mermaid's state diagrams have no dashed arrows: the exit clauses say what they are, and the
  // goals are states of their own class, drawn dashed.
  for (std::size_t i = 0; i < j.states.size(); ++i) {
    if (!canvas::run_waits_in(j.states[i])) continue;
    for (const auto& exit : j.exits) {
      out << "  s" << i << " --> [*] : " << mermaid_text(canvas::exit_clause_text(exit), false)
          << "\n";
    }
  }
  if (j.goals.empty()) return;
  std::string goals;
  for (std::size_t g = 0; g < j.goals.size(); ++g) {
    const auto& goal = j.goals[g];
    out << "  state \"" << mermaid_text("goal " + goal.name + ": " + canvas::goal_text(goal), true)
        << "\" as g" << g << "\n"
        << "  [*] --> g" << g << " : " << kGoalEdge << "\n";
    goals += (goals.empty() ? "g" : ",g") + std::to_string(g);
  }
  out << "  classDef goal stroke-dasharray:5 5\n  class " << goals << " goal\n";
}

int graph(const GraphArgs& args) {
  const Loaded loaded = load_program(args.paths, kAnyModel);
  if (!loaded.program) return loaded.exit_code;
  const auto selected = select_journeys(*loaded.program, args.journey, "graph");
  if (selected.empty()) return kExitUsage;
  if (args.format == "svg" && selected.size() > 1) {
    std::string names;
    for (const auto* journey : selected) names += (names.empty() ? "" : ", ") + journey->name;
    std::cerr << "journey graph: --format svg draws one journey; name it with --journey (the "
                 "paths hold "
              << names << ")\n";
    return kExitUsage;
  }
  for (const auto* journey : selected) {
    if (journey != selected.front()) std::cout << "\n";
    if (args.format == "dot") {
      draw_dot(std::cout, *journey);
    } else if (args.format == "svg") {
      std::cout << canvas::canvas_svg(*journey, {}) << "\n";
    } else {
      draw_mermaid(std::cout, *journey);
    }
  }
  return kExitOk;
}

}  // namespace

void add_graph(CLI::App& app, Run& run) {
  auto args = std::make_shared<GraphArgs>();
  auto* sub = app.add_subcommand(
      "graph", "Draw the compiled state machine of each journey, or one journey's canvas (svg)");
  sub->add_option("paths", args->paths, "Journey files or folders")->required();
  sub->add_option("--journey", args->journey, "Only this journey");
  sub->add_option("--format", args->format,
                  "dot (Graphviz) or mermaid: the state machine; svg: the console's canvas of "
                  "the steps of one journey, laid out by Graphviz")
      ->check(CLI::IsMember({"dot", "mermaid", "svg"}));
  sub->callback([&run, args] { run = [args] { return graph(*args); }; });
}

}  // namespace journey::cli
