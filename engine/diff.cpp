#include "engine/diff.hpp"

#include <algorithm>
#include <set>

namespace journey::engine {
namespace {

using nlohmann::json;

/// The steps of one block, in order.
struct BlockSteps {
  std::string key;
  std::string text;
  std::vector<std::size_t> steps;
};

/// The blocks of every step (kNoStep: the journey's own steps), in source order.
std::map<std::size_t, std::vector<BlockSteps>> blocks_of(const Journey& j) {
  std::map<std::size_t, std::vector<BlockSteps>> out;
  for (std::size_t i = 0; i < j.steps.size(); ++i) {
    const Step& s = j.steps[i];
    auto& list = out[s.parent];
    auto it = std::find_if(list.begin(), list.end(),
                           [&s](const BlockSteps& b) { return b.key == s.block; });
    if (it == list.end()) it = list.insert(list.end(), BlockSteps{s.block, s.block_text, {}});
    it->steps.push_back(i);
  }
  return out;
}

class Matcher {
 public:
  Matcher(const Journey& from, const Journey& to)
      : from_(from), to_(to), from_blocks_(blocks_of(from)), to_blocks_(blocks_of(to)) {}

  std::vector<StepMatch> run() {
    children(kNoStep, kNoStep);
    return std::move(out_);
  }

 private:
  static const std::vector<BlockSteps>& blocks(
      const std::map<std::size_t, std::vector<BlockSteps>>& all, std::size_t parent) {
    static const std::vector<BlockSteps> none;
    const auto it = all.find(parent);
    return it == all.end() ? none : it->second;
  }

  // The blocks of two matched steps: by what they say (`on order_completed`, `variant a`), else
  // by their place (`on2`, `if1`).
  void children(std::size_t a, std::size_t b) {
    const auto& xs = blocks(from_blocks_, a);
    const auto& ys = blocks(to_blocks_, b);
    std::vector<bool> used(ys.size(), false);
    const auto find = [&](auto same) -> const BlockSteps* {
      for (std::size_t k = 0; k < ys.size(); ++k) {
        if (!used[k] && same(ys[k])) {
          used[k] = true;
          return &ys[k];
        }
      }
      return nullptr;
    };
    for (const auto& x : xs) {
      const BlockSteps* y = find([&x](const BlockSteps& c) { return c.text == x.text; });
      if (y == nullptr) y = find([&x](const BlockSteps& c) { return c.key == x.key; });
      if (y != nullptr) {
        block(x.steps, y->steps);
      } else {
        for (const auto s : x.steps) removed(s);
      }
    }
    for (std::size_t k = 0; k < ys.size(); ++k) {
      if (!used[k]) {
        for (const auto s : ys[k].steps) added(s);
      }
    }
  }

  bool alike(std::size_t a, std::size_t b) const {
    const Step& x = from_.steps[a];
    const Step& y = to_.steps[b];
    if (!x.label.empty() || !y.label.empty()) return x.label == y.label;
    return x.signature == y.signature;
  }

  // One block: the longest common run of alike steps, then the gaps between.
  void block(const std::vector<std::size_t>& xs, const std::vector<std::size_t>& ys) {
    const std::size_t n = xs.size();
    const std::size_t m = ys.size();
    // lcs[i][j]: the longest common run of xs[i..] and ys[j..].
    std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = m; j-- > 0;) {
        lcs[i][j] =
            alike(xs[i], ys[j]) ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    std::size_t i = 0;
    std::size_t j = 0;
    std::size_t gap_i = 0;
    std::size_t gap_j = 0;
    while (i < n && j < m) {
      if (alike(xs[i], ys[j]) && lcs[i][j] == lcs[i + 1][j + 1] + 1) {
        gap(xs, gap_i, i, ys, gap_j, j);
        pair(xs[i], ys[j]);
        gap_i = ++i;
        gap_j = ++j;
      } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
        ++i;
      } else {
        ++j;
      }
    }
    gap(xs, gap_i, n, ys, gap_j, m);
  }

  // Steps between two kept ones: of the same kind, in order, they are the same step changed.
  void gap(const std::vector<std::size_t>& xs, std::size_t x0, std::size_t x1,
           const std::vector<std::size_t>& ys, std::size_t y0, std::size_t y1) {
    std::size_t next = y0;
    for (std::size_t i = x0; i < x1; ++i) {
      std::size_t k = next;
      while (k < y1 && to_.steps[ys[k]].kind != from_.steps[xs[i]].kind) ++k;
      if (k == y1) {
        removed(xs[i]);
        continue;
      }
      for (; next < k; ++next) added(ys[next]);
      pair(xs[i], ys[k]);
      next = k + 1;
    }
    for (; next < y1; ++next) added(ys[next]);
  }

  void pair(std::size_t a, std::size_t b) {
    const Step& x = from_.steps[a];
    const Step& y = to_.steps[b];
    const bool same = x.label == y.label && x.signature == y.signature;
    out_.push_back({same ? StepMatch::Change::Unchanged : StepMatch::Change::Changed, a, b});
    children(a, b);
  }

  void removed(std::size_t a) {
    out_.push_back({StepMatch::Change::Removed, a, kNoStep});
    for (const auto& b : blocks(from_blocks_, a)) {
      for (const auto s : b.steps) removed(s);
    }
  }

  void added(std::size_t b) {
    out_.push_back({StepMatch::Change::Added, kNoStep, b});
    for (const auto& x : blocks(to_blocks_, b)) {
      for (const auto s : x.steps) added(s);
    }
  }

  const Journey& from_;
  const Journey& to_;
  std::map<std::size_t, std::vector<BlockSteps>> from_blocks_;
  std::map<std::size_t, std::vector<BlockSteps>> to_blocks_;
  std::vector<StepMatch> out_;
};

const char* change_name(StepMatch::Change change) {
  switch (change) {
    case StepMatch::Change::Unchanged: return "unchanged";
    case StepMatch::Change::Changed: return "changed";
    case StepMatch::Change::Added: return "added";
    case StepMatch::Change::Removed: return "removed";
  }
  return "changed";
}

json step_json(const Journey& j, std::size_t index) {
  const Step& s = j.steps[index];
  return {{"id", s.id}, {"name", s.name}, {"line", s.line}, {"does", s.signature}};
}

// Where the runs of one version go: one entry per step with runs, in the version's step order.
json runs_json(const RunsAt& at, const Journey* to, json& totals) {
  json out = json::array();
  const Journey& from = *at.version;
  std::vector<std::size_t> targets;
  std::map<std::size_t, StepMatch::Change> changes;
  const bool current = to != nullptr && to->version == from.version;
  if (to != nullptr && !current) {
    targets = migration_targets(from, *to);
    for (const auto& m : match_steps(from, *to)) {
      if (m.old_step != kNoStep) changes[m.old_step] = m.change;
    }
  }
  const bool migrate = to != nullptr && to->on_update == UpdatePolicy::Migrate;
  std::set<std::string> seen;
  const auto add = [&](const std::string& id, std::size_t runs, std::size_t index) {
    seen.insert(id);
    json r{{"version", from.version},
           {"step", id},
           {"name", index == kNoStep ? id : from.steps[index].name},
           {"runs", runs}};
    if (current) {
      r["change"] = "unchanged";
      r["outcome"] = "current";
    } else {
      const auto change = changes.find(index);
      r["change"] = to == nullptr             ? "removed"
                    : change == changes.end() ? "unknown"
                                              : change_name(change->second);
      const bool moves = migrate && index != kNoStep && targets[index] != kNoStep;
      r["outcome"] = moves ? "migrate" : "keep";
      if (moves) {
        const Step& target = to->steps[targets[index]];
        r["to"] = {{"id", target.id}, {"name", target.name}};
      }
    }
    totals["in_flight"] = totals["in_flight"].get<std::size_t>() + runs;
    const std::string outcome = r["outcome"];
    totals[outcome] = totals[outcome].get<std::size_t>() + runs;
    out.push_back(std::move(r));
  };
  for (std::size_t i = 0; i < from.steps.size(); ++i) {
    const auto it = at.by_step.find(from.steps[i].id);
    if (it != at.by_step.end() && it->second > 0) add(it->first, it->second, i);
  }
  for (const auto& [id, runs] : at.by_step) {
    if (runs > 0 && seen.count(id) == 0) add(id, runs, kNoStep);
  }
  return out;
}

std::string versions_text(const json& d) {
  const auto v = [](const json& x) {
    return x.is_null() ? std::string("-") : x.get<std::string>();
  };
  return "version " + v(d["old_version"]) + " -> " + v(d["new_version"]);
}

}  // namespace

std::vector<StepMatch> match_steps(const Journey& from, const Journey& to) {
  return Matcher(from, to).run();
}

std::vector<std::size_t> migration_targets(const Journey& from, const Journey& to) {
  std::vector<std::size_t> targets(from.steps.size(), kNoStep);
  for (const auto& m : match_steps(from, to)) {
    if (m.change == StepMatch::Change::Unchanged) targets[m.old_step] = m.new_step;
  }
  return targets;
}

std::vector<std::string> header_lines(const Journey& j) {
  static constexpr const char* kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                              "thursday", "friday", "saturday"};
  std::vector<std::string> out;
  if (!j.title.empty()) out.push_back("title " + dsl::string_text(j.title));
  for (const auto& e : j.entries) {
    std::string t = "entry ";
    switch (e.kind) {
      case dsl::EntryKind::On:
        t += "on " + dsl::event_name_text(e.event) +
             (e.where ? " where " + expr_text(*e.where) : "");
        break;
      case dsl::EntryKind::When: t += "when " + expr_text(*e.condition); break;
      case dsl::EntryKind::Every:
        t += std::string("every ") + (e.weekday < 0 ? "day" : kWeekdays[e.weekday]) + " at " +
             time_of_day_text(e.time_of_day) + (e.where ? " when " + expr_text(*e.where) : "");
        break;
      case dsl::EntryKind::Yearly:
      case dsl::EntryKind::OnDate:
      case dsl::EntryKind::At: t += entry_text(e, true); break;
    }
    out.push_back(std::move(t));
  }
  out.push_back(j.reentry == dsl::ReentryKind::Never ? "reentry never"
                : j.reentry == dsl::ReentryKind::Always
                    ? "reentry always"
                    : "reentry after " + duration_text(j.reentry_after_ms / 1000));
  for (const auto& x : j.exits) {
    out.push_back(x.kind == dsl::ExitKind::On ? "exit on " + dsl::event_name_text(x.event) +
                                                    (x.where ? " where " + expr_text(*x.where) : "")
                                              : "exit when " + expr_text(*x.condition));
  }
  for (const auto& g : j.goals) {
    out.push_back("goal " + g.name + ": " + dsl::event_name_text(g.event) +
                  (g.where ? " where " + expr_text(*g.where) : "") + " within " +
                  duration_text(g.within_ms / 1000));
  }
  if (j.quiet_start)
    out.push_back("quiet hours " + time_of_day_text(*j.quiet_start) + "-" +
                  time_of_day_text(*j.quiet_end));
  if (j.send_window) {
    const SendWindowRule& w = *j.send_window;
    out.push_back(dsl::send_window_text(w.weekdays, w.start, w.end, w.except_holidays));
  }
  if (j.cap_count)
    out.push_back("cap " + std::to_string(*j.cap_count) + " per " +
                  duration_text(j.cap_per_ms / 1000));
  if (j.on_update == UpdatePolicy::Migrate) out.emplace_back("on update migrate");
  if (j.priority != 0) out.push_back("priority " + std::to_string(j.priority));
  if (j.transactional) out.emplace_back("transactional");
  for (const auto& [name, condition] : j.segments) {
    std::string line = "segment " + name;
    line += " = ";
    line += condition;
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

json journey_diff(const Journey* from, const Journey* to, const std::vector<RunsAt>& runs) {
  const Journey& any = to != nullptr ? *to : *from;
  json d{{"journey", any.name},
         {"old_version", from != nullptr ? json(from->version) : json(nullptr)},
         {"new_version", to != nullptr ? json(to->version) : json(nullptr)},
         {"on_update", any.on_update == UpdatePolicy::Migrate ? "migrate" : "keep"}};
  json header = json::array();
  json steps = json::array();
  std::size_t unchanged = 0;
  if (from != nullptr && to != nullptr) {
    const auto a = header_lines(*from);
    const auto b = header_lines(*to);
    std::vector<std::string> gone;
    std::vector<std::string> come;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(gone));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(come));
    for (const auto& t : gone) header.push_back({{"change", "removed"}, {"text", t}});
    for (const auto& t : come) header.push_back({{"change", "added"}, {"text", t}});
    for (const auto& m : match_steps(*from, *to)) {
      if (m.change == StepMatch::Change::Unchanged) {
        ++unchanged;
        continue;
      }
      json s{{"change", change_name(m.change)}};
      if (m.old_step != kNoStep) s["old"] = step_json(*from, m.old_step);
      if (m.new_step != kNoStep) s["new"] = step_json(*to, m.new_step);
      steps.push_back(std::move(s));
    }
  }
  d["change"] = from == nullptr                                  ? "added"
                : to == nullptr                                  ? "removed"
                : from->version == to->version && header.empty() ? "unchanged"
                                                                 : "changed";
  d["header"] = std::move(header);
  d["steps"] = std::move(steps);
  d["unchanged_steps"] = unchanged;
  if (!runs.empty()) {
    json totals{{"in_flight", 0}, {"migrate", 0}, {"keep", 0}, {"current", 0}};
    json list = json::array();
    for (const auto& at : runs) {
      if (at.version == nullptr) continue;
      for (auto& r : runs_json(at, to, totals)) list.push_back(std::move(r));
    }
    d["runs"] = std::move(list);
    for (auto& [key, value] : totals.items()) d[key] = value;
  }
  return d;
}

json program_diff(const Program* from, const Program* to,
                  const std::map<std::string, std::vector<RunsAt>>& runs) {
  std::set<std::string> names;
  if (from != nullptr) {
    for (const auto& j : from->journeys) names.insert(j.name);
  }
  if (to != nullptr) {
    for (const auto& j : to->journeys) names.insert(j.name);
  }
  json journeys = json::array();
  std::size_t changed = 0;
  for (const auto& name : names) {
    const auto found = runs.find(name);
    json d = journey_diff(from != nullptr ? from->find_journey(name) : nullptr,
                          to != nullptr ? to->find_journey(name) : nullptr,
                          found == runs.end() ? std::vector<RunsAt>{} : found->second);
    if (d["change"] != "unchanged") ++changed;
    journeys.push_back(std::move(d));
  }
  return {{"journeys", std::move(journeys)}, {"changed", changed}};
}

std::string diff_text(const json& diff) {
  std::string out;
  for (const auto& d : diff["journeys"]) {
    if (!out.empty()) out += "\n";
    const std::string change = d["change"];
    out += "journey " + d["journey"].get<std::string>() + ": " + change + ", " + versions_text(d) +
           " (on update " + d["on_update"].get<std::string>() + ")\n";
    if (!d["header"].empty()) {
      out += "  header:\n";
      for (const auto& h : d["header"])
        out += std::string("    ") + (h["change"] == "added" ? "+ " : "- ") +
               h["text"].get<std::string>() + "\n";
    }
    if (!d["steps"].empty()) {
      out +=
          "  steps (" + std::to_string(d["unchanged_steps"].get<std::size_t>()) + " unchanged):\n";
      for (const auto& s : d["steps"]) {
        const auto at = [](const json& x) {
          return x["name"].get<std::string>() + "  (line " + std::to_string(x["line"].get<int>()) +
                 ")";
        };
        if (s["change"] == "added") {
          out += "    + " + at(s["new"]) + "\n";
        } else if (s["change"] == "removed") {
          out += "    - " + at(s["old"]) + "\n";
        } else {
          out += "    ~ " + at(s["old"]) + "\n      -> " + at(s["new"]) + "\n";
          if (s["old"]["does"] != s["new"]["does"]) {
            out += "         was: " + s["old"]["does"].get<std::string>() +
                   "\n         now: " + s["new"]["does"].get<std::string>() + "\n";
          }
        }
      }
    }
    if (d.contains("runs") && !d["runs"].empty()) {
      const auto n = [&d](const char* key) { return std::to_string(d[key].get<std::size_t>()); };
      out += "  in-flight runs: " + n("in_flight") + " (" + n("migrate") + " migrate, " +
             n("keep") + " keep their version, " + n("current") + " on the new version)\n";
      for (const auto& r : d["runs"]) {
        const std::string outcome = r["outcome"];
        out += "    " + std::to_string(r["runs"].get<std::size_t>()) + " at " +
               r["name"].get<std::string>() + " (version " + r["version"].get<std::string>() +
               ", " + r["change"].get<std::string>() + "): " +
               (outcome == "migrate"   ? "migrate to " + r["to"]["name"].get<std::string>()
                : outcome == "current" ? std::string("on the new version")
                                       : "keep version " + r["version"].get<std::string>()) +
               "\n";
      }
    }
  }
  return out;
}

}  // namespace journey::engine
