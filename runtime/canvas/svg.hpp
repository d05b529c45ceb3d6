// The canvas: a journey's step graph laid out and drawn as SVG by Graphviz (libgvc, in-process,
// with only its own dot layout and SVG renderer loaded, so the text is measured the same way on
// every machine and the same journey gives the same bytes).
#pragma once

#include <stdexcept>
#include <string>

#include "engine/counts.hpp"
#include "engine/program.hpp"

namespace journey::canvas {

/// Graphviz refused the drawing (an internal failure: the DOT text is ours).
class CanvasError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What to draw besides the steps.
struct CanvasOptions {
  /// Counts to show in each step and on each edge; null draws the steps alone. Every count line
  /// has a fixed size, so the layout does not move as the numbers change.
  const engine::JourneyCounts* counts = nullptr;
  /// Put before every id in the SVG (two canvases on one page keep their ids apart).
  std::string id_prefix;
};

/// The DOT text Graphviz lays out.
std::string canvas_dot(const engine::Journey& journey, const CanvasOptions& options);

/// The canvas as an SVG document (`<svg ...>...</svg>`, no XML prolog or Graphviz comment). Each
/// step is a group `id="<prefix>step-<anchor>"` (step_anchor()) with class `step`; the box of the
/// header's exit clauses (`<prefix>exit-clauses`, class `exit-clauses`) and each goal's box
/// (`<prefix>goal-<name>`, class `goal`) are not steps. Safe to call from several threads
/// (Graphviz itself is not: calls are serialised). Throws CanvasError.
std::string canvas_svg(const engine::Journey& journey, const CanvasOptions& options);

}  // namespace journey::canvas
