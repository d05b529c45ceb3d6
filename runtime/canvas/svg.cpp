#include "runtime/canvas/svg.hpp"

#include <map>
#include <memory>
#include <mutex>

#include <graphviz/gvc.h>

#include "runtime/canvas/steps.hpp"
#include "runtime/canvas/text.hpp"

// The two Graphviz plugins the canvas uses, linked in (libgvplugin_dot_layout, libgvplugin_core)
// rather than found through the installation's plugin configuration: no font library is loaded,
// so text widths come from Graphviz's own metrics and the output is the same on every machine.
extern "C" {
// NOLINTNEXTLINE(readability-identifier-naming): the names libgvc's plugin loader expects
extern gvplugin_library_t gvplugin_dot_layout_LTX_library;
// NOLINTNEXTLINE(readability-identifier-naming)
extern gvplugin_library_t gvplugin_core_LTX_library;
}

namespace journey::canvas {
namespace {

using K = StepNode::Kind;

/// Fill and border colour of each kind of step.
struct Colours {
  const char* fill;
  const char* border;
};

Colours colours(K kind) {
  switch (kind) {
    case K::Entry: return {"#e8f5e9", "#2e7d32"};
    case K::Send: return {"#e3f2fd", "#1565c0"};
    case K::Wait: return {"#fff8e1", "#b7791f"};
    case K::Check:
    case K::Split: return {"#f3e5f5", "#6a1b9a"};
    case K::Change:
    case K::Goto: return {"#f5f5f5", "#616161"};
    case K::Exit:
    case K::End: return {"#ffebee", "#c62828"};
  }
  return {"#ffffff", "#000000"};
}

const char* class_of(K kind) {
  switch (kind) {
    case K::Entry: return "step entry";
    case K::Send: return "step send";
    case K::Wait: return "step wait";
    case K::Check: return "step check";
    case K::Split: return "step split";
    case K::Change: return "step change";
    case K::Goto: return "step goto";
    case K::Exit: return "step exit";
    case K::End: return "step end";
  }
  return "step";
}

/// Text inside a DOT string ("..."): quotes and backslashes escaped.
std::string dot_string(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

constexpr int kCountWidth = 190;  // points reserved for a line of counts in a step
constexpr int kEdgeCountWidth = 56;

/// A line of counts: a cell of fixed size, so that the numbers never move the layout.
std::string count_row(const std::string& text, int width) {
  return "<TR><TD ALIGN=\"LEFT\" FIXEDSIZE=\"TRUE\" WIDTH=\"" + std::to_string(width) +
         "\" HEIGHT=\"15\"><FONT POINT-SIZE=\"10\" COLOR=\"#333333\">" + html_escape(text) +
         "</FONT></TD></TR>";
}

std::string reasons_text(const std::map<std::string, std::int64_t>& reasons, const char* none) {
  std::string out;
  for (const auto& [reason, n] : reasons) {
    if (n == 0) continue;
    out += (out.empty() ? "" : " \u00b7 ") + reason + " " + count_text(n);
  }
  return out.empty() ? none : out;
}

/// The count lines of a step: which lines a kind has never depends on the numbers. A send of a
/// journey with goals also shows the conversions credited to it (it was the last send before).
std::string count_rows(const StepNode& node, const engine::JourneyCounts& counts, const char* held,
                       bool goals) {
  const engine::StepCounts none;
  const auto it = counts.steps.find(node.step);
  const engine::StepCounts& step = it == counts.steps.end() ? none : it->second;
  const auto visits = count_text(step.visits) + (step.visits == 1 ? " visit" : " visits");
  switch (node.kind) {
    case K::Entry:
      return count_row(count_text(counts.entered) + " entered \u00b7 " + count_text(counts.active) +
                           " in the journey now",
                       kCountWidth);
    case K::End:
      return count_row(count_text(counts.exited()) + " left", kCountWidth) +
             count_row(reasons_text(counts.exits, "no one yet"), kCountWidth);
    case K::Send:
      return count_row(visits + (held != nullptr ? " \u00b7 " + count_text(step.waiting) + held
                                                 : std::string()),
                       kCountWidth) +
             count_row(count_text(step.sent) + " sent \u00b7 " +
                           count_text(step.suppressed_total()) + " suppressed",
                       kCountWidth) +
             count_row(reasons_text(step.suppressed, "nothing suppressed"), kCountWidth) +
             (goals ? count_row(step.goals.empty()
                                    ? std::string("no goal after it")
                                    : "goals after it: " + reasons_text(step.goals, ""),
                                kCountWidth)
                    : std::string());
    case K::Wait:
      return count_row(count_text(step.waiting) + " waiting now \u00b7 " + visits, kCountWidth);
    default: return count_row(visits, kCountWidth);
  }
}

std::string node_dot(const StepNode& node, std::size_t index, const CanvasOptions& options,
                     const char* held, bool goals) {
  const auto [fill, border] = colours(node.kind);
  std::string label =
      "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" STYLE=\"ROUNDED\""
      " BGCOLOR=\"" +
      std::string(fill) + "\" COLOR=\"" + border + "\">";
  label += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"#555555\">" +
           html_escape(node.name) + "</FONT></TD></TR>";
  if (!node.does.empty()) {
    // Not bold: Graphviz measures text with its metrics of the regular face, and a browser's
    // bold face is wider than those.
    label += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"12\">" + html_escape(node.does) +
             "</FONT></TD></TR>";
  }
  if (options.counts != nullptr) label += count_rows(node, *options.counts, held, goals);
  label += "</TABLE>";
  return "  n" + std::to_string(index) + " [id=\"" +
         dot_string(options.id_prefix + step_anchor(node.step)) + "\", class=\"" +
         class_of(node.kind) + "\", label=<" + label + ">];\n";
}

std::int64_t edge_count(const StepEdge& edge, const StepGraph& graph,
                        const engine::JourneyCounts& counts) {
  if (edge.exit_clause) {
    std::int64_t n = 0;
    for (const auto& reason : graph.exit_reasons) {
      const auto it = counts.exits_at.find({edge.from, reason});
      if (it != counts.exits_at.end()) n += it->second;
    }
    return n;
  }
  const auto& table = edge.exit_reason.empty() ? counts.moves : counts.exits_at;
  const auto it = table.find({edge.from, edge.exit_reason.empty() ? edge.to : edge.exit_reason});
  return it == table.end() ? 0 : it->second;
}

/// The cell of an edge's count: of a fixed size, so that the number never moves the layout.
std::string edge_count_row(std::int64_t n) {
  return "<TR><TD FIXEDSIZE=\"TRUE\" WIDTH=\"" + std::to_string(kEdgeCountWidth) +
         "\" HEIGHT=\"13\"><FONT POINT-SIZE=\"9\" COLOR=\"#0d47a1\"><B>" +
         html_escape(count_text(n)) + "</B></FONT></TD></TR>";
}

/// How the ways out by the header's exit clauses are drawn: dashed, in the colour of leaving.
constexpr const char* kExitClauseStyle = "style=\"dashed\", color=\"#c62828\"";

std::string edge_dot(const StepEdge& edge, const StepGraph& graph, const std::string& from,
                     const std::string& to, std::size_t index, const CanvasOptions& options) {
  std::string label;
  for (const auto& line : edge.labels) {
    label += "<TR><TD><FONT POINT-SIZE=\"9\">" + html_escape(line) + "</FONT></TD></TR>";
  }
  if (options.counts != nullptr) label += edge_count_row(edge_count(edge, graph, *options.counts));
  std::string out = "  " + from + " -> " + to + " [id=\"" +
                    dot_string(options.id_prefix + "way-" + std::to_string(index)) +
                    "\", class=\"" +
                    (edge.exit_clause ? "way exit-clause\", " + std::string(kExitClauseStyle)
                                      : std::string("way\""));
  if (!label.empty()) {
    out += ", label=<<TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\" BGCOLOR=\"#ffffff\">" +
           label + "</TABLE>>";
  }
  return out + "];\n";
}

/// The box of the header's exit clauses, which the ways from the steps where a run waits lead
/// to, and from it the way to the end: with counts, the runs that left by the clauses.
std::string exit_clauses_dot(const StepGraph& graph, const std::string& end,
                             const CanvasOptions& options) {
  std::string label =
      "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" "
      "STYLE=\"ROUNDED\" BGCOLOR=\"#ffebee\" COLOR=\"#c62828\">"
      "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"#555555\">At any wait</FONT></TD>"
      "</TR>";
  for (const auto& clause : graph.exit_clauses) {
    label += "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"12\">" + html_escape(clause) +
             "</FONT></TD></TR>";
  }
  std::string way;
  if (options.counts != nullptr) {
    std::int64_t left = 0;
    for (const auto& reason : graph.exit_reasons) {
      const auto it = options.counts->exits.find(reason);
      if (it != options.counts->exits.end()) left += it->second;
    }
    label += count_row(count_text(left) + " left this way", kCountWidth);
    way =
        ", label=<<TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\" "
        "BGCOLOR=\"#ffffff\">" +
        edge_count_row(left) + "</TABLE>>";
  }
  label += "</TABLE>";
  return "  x [id=\"" + dot_string(options.id_prefix + "exit-clauses") +
         "\", class=\"exit-clauses\", label=<" + label + ">];\n  x -> " + end + " [id=\"" +
         dot_string(options.id_prefix + "exit-clauses-way") + "\", class=\"way exit-clause\", " +
         kExitClauseStyle + way + "];\n";
}

/// A goal's box: its name, what converts, and with counts the conversions so far.
std::string goal_dot(const GoalNode& goal, std::size_t index, const CanvasOptions& options) {
  std::string label =
      "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" STYLE=\"DASHED\""
      " BGCOLOR=\"#f1f8e9\" COLOR=\"#558b2f\">"
      "<TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\" COLOR=\"#555555\">Goal " +
      html_escape(goal.name) + "</FONT></TD></TR><TR><TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"12\">" +
      html_escape(goal.does) + "</FONT></TD></TR>";
  if (options.counts != nullptr) {
    const auto it = options.counts->goals.find(goal.name);
    const std::int64_t converted = it == options.counts->goals.end() ? 0 : it->second;
    const std::int64_t entered = options.counts->entered;
    label +=
        count_row(count_text(converted) + " converted" +
                      (entered > 0 ? " \u00b7 " + percent_text(converted, entered) + " of entered"
                                   : std::string()),
                  kCountWidth);
  }
  label += "</TABLE>";
  return "  g" + std::to_string(index) + " [id=\"" +
         dot_string(options.id_prefix + "goal-" + hex_escape(goal.name, '.', "-_")) +
         "\", class=\"goal\", label=<" + label + ">];\n";
}

/// One Graphviz context for the process, used under a lock: the library keeps global state.
struct Graphviz {
  std::mutex mutex;
  GVC_t* context = nullptr;
  std::string errors;

  Graphviz() {
    static lt_symlist_t builtins[] = {
        {"gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library},
        {"gvplugin_core_LTX_library", &gvplugin_core_LTX_library},
        {nullptr, nullptr}};
    context = gvContextPlugins(builtins, 0);
    agseterr(AGERR);  // warnings (e.g. a long reason in a fixed-size cell) are not failures
    agseterrf([](char* message) -> int {
      instance().errors += message;
      return 0;
    });
  }
  ~Graphviz() { gvFreeContext(context); }
  Graphviz(const Graphviz&) = delete;
  Graphviz& operator=(const Graphviz&) = delete;

  static Graphviz& instance() {
    static Graphviz graphviz;
    return graphviz;
  }
};

/// Whatever Graphviz writes before the `<svg` element (XML prolog, doctype, a comment naming its
/// version) goes: the result embeds in HTML and does not change with the Graphviz build.
std::string svg_element(const char* data, unsigned int length) {
  std::string text(data, length);
  const auto start = text.find("<svg");
  if (start == std::string::npos) throw CanvasError("Graphviz wrote no <svg> element");
  return text.substr(start);
}

}  // namespace

std::string canvas_dot(const engine::Journey& journey, const CanvasOptions& options) {
  const StepGraph graph = step_graph(journey);
  std::string out = "digraph \"" + dot_string(journey.name) + "\" {\n" +
                    "  graph [rankdir=TB, nodesep=0.35, ranksep=0.4, bgcolor=\"transparent\", "
                    "fontname=\"Arial\", id=\"" +
                    dot_string(options.id_prefix + "canvas") +
                    "\"];\n  node [shape=plain, fontname=\"Arial\", fontsize=11];\n"
                    "  edge [fontname=\"Arial\", fontsize=9, color=\"#555555\", "
                    "arrowsize=0.7];\n";
  std::map<std::string, std::size_t> index_of;  // step id -> node
  std::size_t end = 0;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& node = graph.nodes[i];
    if (node.kind == K::End) {
      end = i;
    } else {
      index_of.emplace(node.step, i);
    }
    // What holds a send, in its count line: quiet hours, the send window, or nothing.
    const char* held = journey.quiet_start   ? " held for quiet hours"
                       : journey.send_window ? " held for the send window"
                                             : nullptr;
    out += node_dot(node, i, options, held, !journey.goals.empty());
  }
  const auto node_id = [](std::size_t i) { return "n" + std::to_string(i); };
  bool exit_clauses = false;
  for (std::size_t i = 0; i < graph.edges.size(); ++i) {
    const auto& edge = graph.edges[i];
    // The ways out by the exit clauses lead to their box (x), which leads to the end.
    const auto to = edge.exit_clause           ? std::string("x")
                    : edge.exit_reason.empty() ? node_id(index_of.at(edge.to))
                                               : node_id(end);
    exit_clauses |= edge.exit_clause;
    out += edge_dot(edge, graph, node_id(index_of.at(edge.from)), to, i, options);
  }
  if (exit_clauses) out += exit_clauses_dot(graph, node_id(end), options);
  // The goals, each from the entry by a dotted arrow: a goal is measured from entry and does
  // not move a run.
  for (std::size_t i = 0; i < graph.goals.size(); ++i) {
    out += goal_dot(graph.goals[i], i, options);
    out += "  n" + std::to_string(index_of.at("")) + " -> g" + std::to_string(i) + " [id=\"" +
           dot_string(options.id_prefix + "goal-way-" + std::to_string(i)) +
           "\", class=\"goal-way\", style=\"dotted\", color=\"#558b2f\", arrowhead=\"empty\"];\n";
  }
  return out + "}\n";
}

std::string canvas_svg(const engine::Journey& journey, const CanvasOptions& options) {
  const std::string dot = canvas_dot(journey, options);
  Graphviz& gv = Graphviz::instance();
  std::lock_guard lock(gv.mutex);
  gv.errors.clear();
  std::unique_ptr<Agraph_t, int (*)(Agraph_t*)> graph(agmemread(dot.c_str()), agclose);
  if (!graph) throw CanvasError("Graphviz could not read the canvas: " + gv.errors);
  if (gvLayout(gv.context, graph.get(), "dot") != 0) {
    throw CanvasError("Graphviz could not lay out the canvas: " + gv.errors);
  }
  char* data = nullptr;
  unsigned int length = 0;
  const int rendered = gvRenderData(gv.context, graph.get(), "svg", &data, &length);
  gvFreeLayout(gv.context, graph.get());
  if (rendered != 0 || data == nullptr) {
    if (data != nullptr) gvFreeRenderData(data);
    throw CanvasError("Graphviz could not draw the canvas: " + gv.errors);
  }
  std::string svg;
  try {
    svg = svg_element(data, length);
  } catch (...) {
    gvFreeRenderData(data);
    throw;
  }
  gvFreeRenderData(data);
  return svg;
}

}  // namespace journey::canvas
