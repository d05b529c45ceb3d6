// A journey as the console draws it: one node per step of the script (and one for the entry and
// one for leaving), one edge per way a run moves from a step to the next, each labelled in the
// marketer's words. Derived from the compiled ops, so that every move the engine counts
// (engine/counts.hpp: `moves`, `exits_at`) lands on exactly one edge.
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
};

/// The steps and the ways between them.
struct StepGraph {
  std::vector<StepNode> nodes;  // the entry first, the steps in script order, then the end
  std::vector<StepEdge> edges;  // in the order the steps' ways were found
};

/// The step graph of a compiled journey.
StepGraph step_graph(const engine::Journey& journey);

}  // namespace journey::canvas
