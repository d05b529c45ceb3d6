#include "runtime/sim/report.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "engine/program.hpp"

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

}  // namespace

void FunnelReport::add_customer(const std::vector<engine::Record>& records) {
  using Kind = engine::Record::Kind;
  // Per journey: the customer's runs (numbered from 1 by entry) and the variant each ended in;
  // a run's variant is known once it passes a split.
  struct Runs {
    std::size_t current = 0;
    std::map<std::size_t, std::string> variant;
    std::set<std::tuple<std::string, std::string, std::size_t>> converted;  // (goal, variant, run)
  };
  std::map<std::string, Runs> runs;
  for (const auto& r : records) {
    JourneyFunnel& f = journeys_[r.journey];
    Runs& mine = runs[r.journey];
    if (r.kind == Kind::Entered) {
      ++f.entered;
      mine.variant[++mine.current] = "";
      continue;
    }
    if (!r.variant.empty()) {
      if (const auto it = mine.variant.find(mine.current); it != mine.variant.end())
        it->second = r.variant;
    }
    switch (r.kind) {
      case Kind::Exited: ++f.exits[r.detail]; break;
      case Kind::Step: ++f.visits[r.step]; break;
      case Kind::Send: ++f.sent[r.step]; break;
      case Kind::Suppressed: ++f.suppressed[r.step][r.detail]; break;
      case Kind::Goal: mine.converted.insert({r.detail, r.variant, mine.current}); break;
      case Kind::Error: ++f.errors; break;
      case Kind::Entered:
      case Kind::Migrated: break;
    }
  }
  for (const auto& [journey, mine] : runs) {
    JourneyFunnel& f = journeys_[journey];
    for (const auto& [run, variant] : mine.variant) ++f.runs_per_variant[variant];
    for (const auto& [goal, variant, run] : mine.converted) ++f.converted[{goal, variant}];
  }
}

void FunnelReport::merge(const FunnelReport& other) {
  for (const auto& [name, from] : other.journeys_) {
    JourneyFunnel& f = journeys_[name];
    f.entered += from.entered;
    f.errors += from.errors;
    add_counts(f.exits, from.exits);
    add_counts(f.visits, from.visits);
    add_counts(f.sent, from.sent);
    for (const auto& [step, reasons] : from.suppressed) add_counts(f.suppressed[step], reasons);
    add_counts(f.runs_per_variant, from.runs_per_variant);
    add_counts(f.converted, from.converted);
  }
}

std::string FunnelReport::render(const engine::Program& program) const {
  std::ostringstream out;
  bool first = true;
  const JourneyFunnel none;
  for (const auto& j : program.journeys) {
    const auto found = journeys_.find(j.name);
    const JourneyFunnel& f = found == journeys_.end() ? none : found->second;
    const auto count = [](const std::map<std::string, std::size_t>& m,
                          const std::string& key) -> std::size_t {
      const auto it = m.find(key);
      return it == m.end() ? 0 : it->second;
    };
    std::size_t exited = 0;
    for (const auto& [reason, n] : f.exits) exited += n;
    if (!first) out << "\n";
    first = false;
    out << "journey " << j.name << " (version " << j.version << ")\n";
    Table head;
    head.row({"entered", std::to_string(f.entered)});
    head.row({"exited", std::to_string(exited)});
    for (const auto& [reason, n] : f.exits) head.row({"  " + reason, std::to_string(n)});
    head.row({"still in journey", std::to_string(f.entered - std::min(f.entered, exited))});
    if (f.errors > 0) head.row({"errors", std::to_string(f.errors)});
    out << head.render("  ");

    Table steps({0});
    steps.row({"step", "visits", "sent", "suppressed"});
    for (const auto& step : j.steps) {
      const bool send = step.kind == dsl::StepKind::Send;
      std::string sup;
      if (send) {
        std::size_t total = 0;
        std::string reasons;
        if (const auto it = f.suppressed.find(step.id); it != f.suppressed.end()) {
          for (const auto& [reason, n] : it->second) {
            total += n;
            reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
          }
        }
        sup = std::to_string(total) + (reasons.empty() ? "" : " (" + reasons + ")");
      }
      steps.row({step.name, std::to_string(count(f.visits, step.id)),
                 send ? std::to_string(count(f.sent, step.id)) : "", sup});
    }
    out << "\n" << steps.render("  ");
    std::size_t sent_total = 0;
    for (const auto& [step, n] : f.sent) sent_total += n;
    std::map<std::string, std::size_t> suppressed_total;  // reason -> n
    for (const auto& [step, reasons] : f.suppressed) add_counts(suppressed_total, reasons);
    std::string sup_line;
    std::size_t sup_total = 0;
    for (const auto& [reason, n] : suppressed_total) {
      sup_total += n;
      sup_line += (sup_line.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    }
    out << "\n  sends: " << sent_total << " sent, " << sup_total << " suppressed"
        << (sup_line.empty() ? "" : " (" + sup_line + ")") << "\n";

    std::set<std::string> goal_names;
    for (const auto& g : j.goals) goal_names.insert(g.name);
    if (goal_names.empty()) continue;
    const auto rate_of = [&f, &count](const std::string& goal, const std::string& variant) {
      const auto conv = f.converted.find({goal, variant});
      return std::make_pair(conv == f.converted.end() ? std::size_t{0} : conv->second,
                            count(f.runs_per_variant, variant));
    };
    Table goals({0, 1});
    goals.row({"goal", "variant", "runs", "converted", "rate", "lift"});
    const bool has_control = f.runs_per_variant.count("control") > 0;
    for (const auto& g : goal_names) {
      const auto [control_conv, control_runs] = rate_of(g, "control");
      for (const auto& [variant, runs] : f.runs_per_variant) {
        const auto [conv, n] = rate_of(g, variant);
        std::string lift = "-";
        if (has_control && variant != "control" && control_runs > 0 && n > 0) {
          const double base = static_cast<double>(control_conv) / static_cast<double>(control_runs);
          const double rate = static_cast<double>(conv) / static_cast<double>(n);
          if (base > 0) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (rate - base) / base);
            lift = buf;
          } else {
            lift = "n/a";
          }
        }
        goals.row({g, variant.empty() ? "(none)" : variant, std::to_string(n), std::to_string(conv),
                   percent(static_cast<double>(conv), static_cast<double>(n)), lift});
      }
    }
    out << "\n" << goals.render("  ");
  }
  return out.str();
}

}  // namespace journey::runtime
