// A journey as the console draws it: one node per step of the script (and one for the entry and
// one for leaving), one edge per way a run moves from a step to the next, each labelled in the
// marketer's words, and beside them the journey's goals. Derived from the compiled ops and wait
// points, so that every move the engine counts (engine/counts.hpp: `moves`, `exits_at`) lands on
// exactly one edge, the exits by the header's `exit on` / `exit when` clauses included.
#pragma once

#include <string>
#include <vector>

#include "engine/program.hpp"

namespace journey::canvas {

/// The HTML/SVG id fragment of a step: letters, digits, `-` and `_` kept, any other byte as
/// `.XX` (hex), so that any step id gives a valid, distinct anchor (`#step-...` on a page).
std::string step_anchor(const std::string& step);

/// One box of the canvas.
struct StepNode {
  enum class Kind : std::uint8_t { Entry, Send, Wait, Check, Split, Change, Goto, Exit, End };
  Kind kind = Kind::Send;
  std::string step;  // the step id ("" for the entry, "end" for leaving)
  std::string name;  // the label, else engine::Step::name (what it does and where); or "Entry" /
                     // "Left the journey"
  std::string does;  // what the step does, e.g. `Send email "welcome-1"`
};

/// One way from a step to the next.
struct StepEdge {
  std::string from;         // step id ("" for the entry)
  std::string to;           // step id ("end" for leaving)
  std::string exit_reason;  // to "end": the reason the engine records ("end", an exit's reason)
  std::vector<std::string> labels;  // each way it can be taken ("yes", "on order_completed", ...)
  /// Taken by the header's `exit on` / `exit when` clauses (StepGraph::exit_clauses), from a
  /// step where a run waits, to "end"; exit_reason is then empty and labels too: the engine
  /// records the reasons of StepGraph::exit_reasons.
  bool exit_clause = false;
};

/// A goal of the journey: it counts conversions after entry and does not move a run.
struct GoalNode {
  std::string name;  // the goal's name
  std::string does;  // what converts, e.g. `order_completed within 7d`
};

/// The steps and the ways between them.
struct StepGraph {
  std::vector<StepNode> nodes;  // the entry first, the steps in script order, then the end
  /// In the order the steps' ways were found, then the ways out by the header's exit clauses:
  /// one from each step where a run can wait, in script order (none when no clause).
  std::vector<StepEdge> edges;
  std::vector<std::string> exit_clauses;  // the header's exit clauses, as written, in order
  std::vector<std::string> exit_reasons;  // the reasons the engine records for them, distinct
  std::vector<GoalNode> goals;            // in the script's order
};

/// A header exit clause as the script writes it: `exit on EVENT [where EXPR]`, `exit when EXPR`.
std::string exit_clause_text(const engine::ExitCriterion& exit);

/// What converts a goal: `EVENT [where EXPR] within DURATION`.
std::string goal_text(const engine::GoalRule& goal);

/// Whether a run can wait in a state between inputs (a wait, or a send held by quiet hours or
/// the send window): where a header exit clause can take it out of the journey.
bool run_waits_in(const engine::State& state);

/// The step graph of a compiled journey.
StepGraph step_graph(const engine::Journey& journey);

}  // namespace journey::canvas
