#include "runtime/sim/report.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "engine/program.hpp"
#include "runtime/canvas/page.hpp"
#include "runtime/canvas/steps.hpp"
#include "runtime/canvas/text.hpp"

namespace journey::runtime {
namespace {

// A table with aligned columns: the listed columns left-aligned, the others right-aligned.
class Table {
 public:
  explicit Table(std::set<std::size_t> left = {0}) : left_(std::move(left)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  std::string render(const std::string& indent) const {
    std::vector<std::size_t> widths;
    for (const auto& r : rows_) {
      if (widths.size() < r.size()) widths.resize(r.size(), 0);
      for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
    }
    std::string out;
    for (const auto& r : rows_) {
      std::string line = indent;
      for (std::size_t i = 0; i < r.size(); ++i) {
        const std::string pad(widths[i] - r[i].size(), ' ');
        if (i > 0) line += "  ";
        if (left_.count(i)) {
          line += r[i] + pad;
        } else {
          line += pad + r[i];
        }
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::set<std::size_t> left_;
  std::vector<std::vector<std::string>> rows_;
};

std::string percent(double part, double whole) {
  if (whole <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * part / whole);
  return buf;
}

template <typename Map>
void add_counts(Map& into, const Map& from) {
  for (const auto& [key, n] : from) into[key] += n;
}

std::string lift_text(double lift) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * lift);
  return buf;
}

}  // namespace

void FunnelReport::add_customer(const std::vector<engine::Record>& records,
                                const engine::CustomerState& end_state) {
  for (const auto& r : records) {
    auto& journey = counters_[r.journey];
    engine::count_record(r, [&journey](const char* metric, std::string key) {
      ++journey[{metric, std::move(key)}];
    });
  }
  for (const auto& [name, run] : end_state.runs) ++waiting_[{name, run.step}];
}

void FunnelReport::merge(const FunnelReport& other) {
  for (const auto& [name, from] : other.counters_) add_counts(counters_[name], from);
  add_counts(waiting_, other.waiting_);
}

engine::JourneyCounts FunnelReport::counts(const std::string& journey) const {
  engine::JourneyCounts out;
  if (const auto it = counters_.find(journey); it != counters_.end()) {
    for (const auto& [key, n] : it->second) out.add(key.first, key.second, n);
  }
  for (auto it = waiting_.lower_bound({journey, ""});
       it != waiting_.end() && it->first.first == journey; ++it) {
    out.add_waiting(it->first.second, it->second);
  }
  return out;
}

std::string FunnelReport::render(const engine::Program& program) const {
  std::ostringstream out;
  bool first = true;
  for (const auto& j : program.journeys) {
    const engine::JourneyCounts f = counts(j.name);
    const std::int64_t exited = f.exited();
    if (!first) out << "\n";
    first = false;
    out << "journey " << j.name << " (version " << j.version << ")\n";
    Table head;
    // A broadcast's audience: the customers known at its instant for whom its `when` held.
    if (std::any_of(j.entries.begin(), j.entries.end(),
                    [](const engine::EntryRule& e) { return e.kind == dsl::EntryKind::At; }))
      head.row({"audience", std::to_string(f.audience)});
    head.row({"entered", std::to_string(f.entered)});
    for (const auto& [reason, n] : f.refused)
      head.row({"refused (" + reason + ")", std::to_string(n)});
    head.row({"exited", std::to_string(exited)});
    for (const auto& [reason, n] : f.exits) head.row({"  " + reason, std::to_string(n)});
    head.row({"still in journey", std::to_string(f.entered - std::min(f.entered, exited))});
    if (f.errors > 0) head.row({"errors", std::to_string(f.errors)});
    out << head.render("  ");

    Table steps({0});
    steps.row({"step", "visits", "sent", "suppressed"});
    const engine::StepCounts none;
    for (const auto& step : j.steps) {
      const bool send = step.kind == dsl::StepKind::Send;
      const auto at = f.steps.find(step.id);
      const engine::StepCounts& counts = at == f.steps.end() ? none : at->second;
      std::string sup;
      if (send) {
        std::string reasons;
        for (const auto& [reason, n] : counts.suppressed)
          reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
        sup = std::to_string(counts.suppressed_total()) +
              (reasons.empty() ? "" : " (" + reasons + ")");
      }
      steps.row(
          {step.name, std::to_string(counts.visits), send ? std::to_string(counts.sent) : "", sup});
    }
    out << "\n" << steps.render("  ");
    std::string sup_line;
    std::int64_t sup_total = 0;
    for (const auto& [reason, n] : f.suppressions) {
      sup_total += n;
      sup_line += (sup_line.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    }
    out << "\n  sends: " << f.sends << " sent, " << sup_total << " suppressed"
        << (sup_line.empty() ? "" : " (" + sup_line + ")") << "\n";

    std::set<std::string> goal_names;
    for (const auto& g : j.goals) goal_names.insert(g.name);
    if (goal_names.empty()) continue;
    Table goals({0, 1});
    goals.row({"goal", "variant", "runs", "converted", "rate", "lift"});
    for (const auto& g : goal_names) {
      for (const auto& row : goal_rows(f, g)) {
        goals.row({g, row.variant.empty() ? "(none)" : row.variant, std::to_string(row.runs),
                   std::to_string(row.converted),
                   percent(static_cast<double>(row.converted), static_cast<double>(row.runs)),
                   row.lift             ? lift_text(*row.lift)
                   : row.lift_undefined ? "n/a"
                                        : "-"});
      }
    }
    out << "\n" << goals.render("  ");
    // Program-level lift: customers outside the global holdout against those in it.
    if (f.holdout_entered > 0) {
      Table held({0, 1});
      held.row({"goal", "global holdout", "runs", "converted", "rate", "lift"});
      for (const auto& g : goal_names) {
        const engine::HoldoutRow row = holdout_row(f, g);
        held.row({g, "treated", std::to_string(row.treated_runs),
                  std::to_string(row.treated_converted),
                  percent(static_cast<double>(row.treated_converted),
                          static_cast<double>(row.treated_runs)),
                  row.lift             ? lift_text(*row.lift)
                  : row.lift_undefined ? "n/a"
                                       : "-"});
        held.row({g, "holdout", std::to_string(row.holdout_runs),
                  std::to_string(row.holdout_converted),
                  percent(static_cast<double>(row.holdout_converted),
                          static_cast<double>(row.holdout_runs)),
                  ""});
      }
      out << "\n" << held.render("  ");
    }
    // Each conversion credited to the last send delivered before it in the entry.
    Table credit({0, 1});
    credit.row({"goal", "last send before it", "converted"});
    bool credited = false;
    for (const auto& g : goal_names) {
      const auto total = f.goals.find(g);
      std::int64_t left = total == f.goals.end() ? 0 : total->second;
      for (const auto& step : j.steps) {
        const auto at = f.steps.find(step.id);
        if (at == f.steps.end()) continue;
        const auto n = at->second.goals.find(g);
        if (n == at->second.goals.end()) continue;
        credit.row({g, step.name, std::to_string(n->second)});
        left -= n->second;
        credited = true;
      }
      if (left > 0) credit.row({g, "(no send)", std::to_string(left)});
    }
    if (credited) out << "\n" << credit.render("  ");
  }
  return out.str();
}

std::string FunnelReport::render_html(const engine::Program& program,
                                      const std::string& title) const {
  using canvas::html_escape;
  std::string body = "<h1>" + html_escape(title) + "</h1>\n<p class=\"muted\">A dry run: " +
                     "what the journeys would have done over the events given, as " +
                     "<code>journey simulate --report</code> counts it. Each box is a step; " +
                     "the number on each arrow is how many customers moved along it.</p>\n";
  body += "<nav class=\"card\">Journeys: ";
  for (const auto& j : program.journeys) {
    body += "<a href=\"#journey-" + html_escape(j.name) + "\">" + html_escape(j.name) + "</a> ";
  }
  body += "</nav>\n";
  for (const auto& j : program.journeys) {
    canvas::PanelOptions panel;
    panel.id_prefix = j.name + "-";
    panel.heading =
        "<h2 id=\"journey-" + html_escape(j.name) + "\">" + html_escape(j.name) +
        (j.title.empty() ? "" : " <span class=\"muted\">" + html_escape(j.title) + "</span>") +
        "</h2><p class=\"meta\">version " + html_escape(j.version) + " \u00b7 " +
        html_escape(j.source_path) + "</p>";
    body += canvas::journey_panel(j, counts(j.name), panel) + "\n";
  }
  return canvas::page({title, "", false}, body);
}

}  // namespace journey::runtime
