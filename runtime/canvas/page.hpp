// HTML pieces shared by the console of `journey serve` (runtime/http/console.cpp) and the dry-run
// report of `journey simulate --report-html`: the page around them with its style and script
// (written here, embedded in the binary: no file, network or build step is needed to show a page),
// a journey version's panel (its canvas and goal chart) and the goal chart.
#pragma once

#include <string>

#include "engine/counts.hpp"
#include "engine/program.hpp"

namespace journey::canvas {

/// What goes around a page's content.
struct PageOptions {
  std::string title;
  std::string nav;    // HTML of the links at the top (may be empty)
  bool live = false;  // include the script that refreshes `data-live` parts (see page())
};

/// A whole HTML page: the style inline, and with `live` the script that every few seconds fetches
/// the URL in the `data-live` attribute of each element holding one (with the page's cookie) and
/// puts the answer in the element's place (the counts change without a reload of the page).
std::string page(const PageOptions& options, const std::string& body);

/// What a journey version's panel shows above its canvas.
struct PanelOptions {
  std::string heading;    // HTML
  std::string id_prefix;  // of the canvas ids (CanvasOptions::id_prefix)
};

/// One journey version: its numbers, its canvas with the counts, and for each goal the chart of
/// conversions per variant with rate and lift over `control` (goal_chart()). Throws CanvasError.
std::string journey_panel(const engine::Journey& journey, const engine::JourneyCounts& counts,
                          const PanelOptions& options);

/// A bar chart (inline SVG) of one goal: each variant's conversion rate, its runs and conversions,
/// and its lift over the `control` variant, with the same numbers as `simulate --report`.
std::string goal_chart(const engine::JourneyCounts& counts, const std::string& goal);

}  // namespace journey::canvas
