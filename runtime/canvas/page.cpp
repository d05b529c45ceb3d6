#include "runtime/canvas/page.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "runtime/canvas/svg.hpp"
#include "runtime/canvas/text.hpp"

namespace journey::canvas {
namespace {

constexpr const char* kStyle = R"css(
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6670; --line: #d9dee3; --accent: #1565c0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans",
       Arial, sans-serif; color: var(--ink); background: #f6f7f9; }
header { display: flex; gap: 20px; align-items: center; padding: 10px 24px; background: #fff;
         border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; color: var(--ink); text-decoration: none; font-size: 17px; }
header nav { display: flex; gap: 16px; flex: 1; }
header nav a { color: var(--accent); text-decoration: none; }
header form { margin: 0; }
main { padding: 20px 24px 40px; max-width: 1600px; margin: 0 auto; }
h1 { font-size: 24px; margin: 4px 0 12px; }
h2 { font-size: 19px; margin: 20px 0 8px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
a { color: var(--accent); }
.muted, .meta { color: var(--muted); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px;
        margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 13px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
         background: #e3f2fd; color: #0d47a1; font-weight: 600; vertical-align: middle; }
.badge.old { background: #fff3e0; color: #8a4b00; }
.badge.bad { background: #ffebee; color: #b71c1c; }
.versions { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; }
.canvas { overflow: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 8px; max-height: 80vh; }
.canvas svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
.canvas g.step:target path, .canvas g.step:target polygon { stroke: #ff6f00; stroke-width: 4px; }
.chart svg { max-width: 100%; height: auto; }
.stats { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 4px 0 10px; }
.stats div b { font-size: 18px; display: block; }
.diagnostic { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
              white-space: pre-wrap; margin: 2px 0; }
form.search input[type=text], form.login input { font: inherit; padding: 6px 8px; min-width: 280px;
              border: 1px solid var(--line); border-radius: 6px; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent);
         background: var(--accent); color: #fff; cursor: pointer; }
button.link { background: none; color: var(--accent); border: none; padding: 0; }
.error { color: #b71c1c; }
.live-note { font-size: 12px; color: var(--muted); }
)css";

constexpr const char* kScript = R"js(
(function () {
  "use strict";
  var every = 3000;
  var last = new Map();
  function refresh(el) {
    var url = el.getAttribute("data-live");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (text) {
        if (text === null) return;
        if (last.get(el) !== text) { el.innerHTML = text; last.set(el, text); }
        el.setAttribute("data-refreshed", String(Number(el.getAttribute("data-refreshed") || 0) + 1));
      })
      .catch(function () {});
  }
  function tick() {
    document.querySelectorAll("[data-live]").forEach(refresh);
  }
  if (document.querySelector("[data-live]")) setInterval(tick, every);
})();
)js";

constexpr double kChartWidth = 620;
constexpr double kLabelWidth = 120;
constexpr double kBarWidth = 240;
constexpr double kRow = 28;

std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

// A lift as "+12.5%".
std::string signed_percent(double lift) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * lift);
  return buf;
}

std::string lift_words(const engine::GoalRow& row) {
  if (row.lift) return signed_percent(*row.lift) + " vs control";
  return row.lift_undefined ? "control converted no one" : "";
}

// A goal's program-level lift: customers outside the global holdout against those in it.
std::string holdout_table(const engine::JourneyCounts& counts, const std::string& goal) {
  const engine::HoldoutRow row = engine::holdout_row(counts, goal);
  const auto line = [](const char* group, std::int64_t runs, std::int64_t converted) {
    return "<tr><td>" + std::string(group) + "</td><td>" + count_text(runs) + "</td><td>" +
           count_text(converted) + "</td><td>" + percent_text(converted, runs) + "</td></tr>";
  };
  const std::string lift = row.lift ? signed_percent(*row.lift) : row.lift_undefined ? "n/a" : "-";
  return "<table class=\"holdout\"><caption>Global holdout: program lift on " + html_escape(goal) +
         "</caption><tr><th></th><th>runs</th><th>converted</th><th>rate</th></tr>" +
         line("treated", row.treated_runs, row.treated_converted) +
         line("holdout", row.holdout_runs, row.holdout_converted) +
         "<tr><td>lift</td><td colspan=\"3\">" + lift + "</td></tr></table>";
}

std::string stat(const std::string& label, std::int64_t n) {
  return "<div><b>" + count_text(n) + "</b>" + html_escape(label) + "</div>";
}

}  // namespace

std::string page(const PageOptions& options, const std::string& body) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>" +
      html_escape(options.title) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n<body>\n<header><span class=\"brand\">journey</span>" + options.nav +
      "</header>\n<main>\n" + body + "\n</main>\n";
  if (options.live) out += std::string("<script>") + kScript + "</script>\n";
  return out + "</body>\n</html>\n";
}

std::string goal_chart(const engine::JourneyCounts& counts, const std::string& goal) {
  const auto rows = engine::goal_rows(counts, goal);
  double top = 0;
  for (const auto& row : rows) {
    if (row.runs > 0) {
      top = std::max(top, static_cast<double>(row.converted) / static_cast<double>(row.runs));
    }
  }
  const double height = kRow * static_cast<double>(std::max<std::size_t>(rows.size(), 1)) + 8;
  std::string out = "<svg class=\"goal-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    number(kChartWidth) + "\" height=\"" + number(height) + "\" viewBox=\"0 0 " +
                    number(kChartWidth) + " " + number(height) + "\" role=\"img\" aria-label=\"" +
                    html_escape("Goal " + goal + ": conversion rate per variant") + "\">";
  out += "<g font-family=\"system-ui, Arial, sans-serif\" font-size=\"13\">";
  if (rows.empty()) {
    out += "<text x=\"0\" y=\"18\" fill=\"#5b6670\">No one has entered yet.</text>";
  }
  double y = 4;
  for (const auto& row : rows) {
    const double rate =
        row.runs > 0 ? static_cast<double>(row.converted) / static_cast<double>(row.runs) : 0;
    const double bar = top > 0 ? kBarWidth * rate / top : 0;
    const bool control = row.variant == "control";
    const std::string name = row.variant.empty() ? "no split" : row.variant;
    out += "<g class=\"variant\" data-variant=\"" + html_escape(row.variant) + "\">";
    out += "<text x=\"0\" y=\"" + number(y + 17) + "\">" + html_escape(name) + "</text>";
    out += "<rect x=\"" + number(kLabelWidth) + "\" y=\"" + number(y + 4) + "\" width=\"" +
           number(std::max(bar, 1.0)) + "\" height=\"18\" rx=\"3\" fill=\"" +
           (control ? "#90a4ae" : "#1e88e5") + "\"/>";
    out += "<text x=\"" + number(kLabelWidth + kBarWidth + 10) + "\" y=\"" + number(y + 17) +
           "\"><tspan font-weight=\"600\">" + percent_text(row.converted, row.runs) + "</tspan> (" +
           count_text(row.converted) + " of " + count_text(row.runs) + ")";
    const auto lift = lift_words(row);
    if (!lift.empty()) {
      out += "<tspan fill=\"" + std::string(row.lift && *row.lift < 0 ? "#b71c1c" : "#2e7d32") +
             "\"> " + html_escape(lift) + "</tspan>";
    }
    out += "</text></g>";
    y += kRow;
  }
  return out + "</g></svg>";
}

std::string journey_panel(const engine::Journey& journey, const engine::JourneyCounts& counts,
                          const PanelOptions& options) {
  std::string out = "<section class=\"version card\">" + options.heading;
  std::int64_t suppressed = 0;
  for (const auto& [reason, n] : counts.suppressions) suppressed += n;
  out += "<div class=\"stats\">" + stat("entered", counts.entered) +
         stat("in the journey now", counts.active) + stat("left", counts.exited()) +
         stat("sent", counts.sends) + stat("suppressed", suppressed);
  if (counts.errors > 0) out += stat("errors", counts.errors);
  out += "</div>";
  CanvasOptions canvas;
  canvas.counts = &counts;
  canvas.id_prefix = options.id_prefix;
  out += "<div class=\"canvas\">" + canvas_svg(journey, canvas) + "</div>";
  std::set<std::string> goals;
  for (const auto& g : journey.goals) goals.insert(g.name);
  if (goals.empty()) {
    out += "<p class=\"muted\">This journey has no goal.</p>";
  }
  for (const auto& goal : goals) {
    out += "<h3>Goal " + html_escape(goal) + ": conversions per variant</h3><div class=\"chart\">" +
           goal_chart(counts, goal) + "</div>";
    if (counts.holdout_entered > 0) out += holdout_table(counts, goal);
  }
  for (const auto& [reason, n] : counts.refused)
    out += "<p class=\"muted\">" + std::to_string(n) + " entries refused (" + html_escape(reason) +
           ")</p>";
  return out + "</section>";
}

}  // namespace journey::canvas
