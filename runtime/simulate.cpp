#include "runtime/simulate.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "engine/program.hpp"
#include "engine/state.hpp"

namespace journey::runtime {
namespace {

// The parser's message without nlohmann's "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const std::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const auto close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
  }
  return "invalid JSON: " + what;
}

bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// Reads NDJSON lines, calling `take(json, problem)` on each parsed object; `take` returns an
// empty string when the line is fine, else the problem. Shared by events and profiles.
template <typename Take>
bool read_lines(const std::string& path, bool strict, SimulationInput& input, std::ostream& err, Take take) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << path << ": cannot read the file\n";
    return false;
  }
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (blank(line)) continue;
    std::string problem;
    try {
      problem = take(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      problem = json_error_text(e);
    }
    if (problem.empty()) continue;
    err << path << ":" << number << ": " << problem << "\n";
    if (strict) return false;
    ++input.skipped;
  }
  return true;
}

// A table with aligned columns: the first column left-aligned, the others right-aligned.
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

}  // namespace

bool read_events(const std::string& path, bool strict, SimulationInput& input, std::ostream& err) {
  std::vector<engine::Event> all;
  const bool ok = read_lines(path, strict, input, err, [&all](const nlohmann::json& j) -> std::string {
    auto parsed = engine::parse_event(j);
    if (const auto* e = std::get_if<engine::EventError>(&parsed)) return e->path + ": " + e->message;
    all.push_back(std::move(std::get<engine::Event>(parsed)));
    return {};
  });
  for (auto& ev : all) {
    if (!input.last_event_at || ev.at > *input.last_event_at) input.last_event_at = ev.at;
    input.events[ev.customer_id].push_back(std::move(ev));
  }
  for (auto& [customer, list] : input.events) {
    std::stable_sort(list.begin(), list.end(),
                     [](const engine::Event& a, const engine::Event& b) { return a.at < b.at; });
  }
  return ok;
}

bool read_profiles(const std::string& path, bool strict, SimulationInput& input, std::ostream& err) {
  return read_lines(path, strict, input, err, [&input](const nlohmann::json& j) -> std::string {
    if (!j.is_object()) return "$: expected a JSON object";
    const auto user = j.find("userId");
    if (user == j.end() || user->is_null()) return "$.userId: missing userId";
    if (!user->is_string() || user->get<std::string>().empty()) return "$.userId: expected a non-empty string";
    const auto traits = j.find("traits");
    if (traits == j.end() || traits->is_null()) return "$.traits: missing traits";
    if (!traits->is_object()) return "$.traits: expected an object";
    auto& profile = input.profiles[user->get<std::string>()];
    if (!profile.is_object()) profile = nlohmann::json::object();
    for (const auto& [key, value] : traits->items()) profile[key] = value;
    return {};
  });
}

namespace {

// One customer from a fresh state: their events in order, then timers up to the horizon.
SimulationResult simulate_customer(const engine::Engine& engine, const SimulationInput& input, const std::string& id,
                                   engine::Millis horizon, engine::Millis recurring_until, bool tracing) {
  SimulationResult result;
  auto state = engine::new_customer(id);
  if (const auto p = input.profiles.find(id); p != input.profiles.end()) engine::seed_profile(*state, p->second);
  const auto take = [&result, tracing](engine::Outcome&& out) {
    for (auto& a : out.actions) result.actions.push_back(std::move(a));
    for (auto& r : out.records) result.records.push_back(std::move(r));
    if (tracing) {
      for (auto& t : out.trace) result.trace.push_back(std::move(t));
    }
  };
  if (const auto evs = input.events.find(id); evs != input.events.end()) {
    for (const auto& ev : evs->second) {
      if (ev.at > horizon) break;
      take(engine.on_event(*state, ev, tracing));
    }
  }
  if (state->known) take(engine.advance(*state, horizon, recurring_until, tracing));
  return result;
}

}  // namespace

SimulationResult simulate(const engine::Engine& engine, const SimulationInput& input,
                          std::optional<engine::Millis> until, const std::optional<std::string>& trace_customer,
                          unsigned threads) {
  std::set<std::string> ids;
  for (const auto& [id, list] : input.events) ids.insert(id);
  for (const auto& [id, traits] : input.profiles) ids.insert(id);
  const std::vector<std::string> customers(ids.begin(), ids.end());
  const engine::Millis horizon = until ? *until : std::numeric_limits<engine::Millis>::max();
  const engine::Millis recurring_until =
      until ? *until : input.last_event_at.value_or(std::numeric_limits<engine::Millis>::min());
  // Customers are independent: each runs alone; per-customer results are merged in id order.
  std::vector<SimulationResult> parts(customers.size());
  const auto work = [&](std::size_t first, std::size_t step) {
    for (std::size_t i = first; i < customers.size(); i += step) {
      const bool tracing = trace_customer && *trace_customer == customers[i];
      parts[i] = simulate_customer(engine, input, customers[i], horizon, recurring_until, tracing);
    }
  };
  const std::size_t n = std::max(1U, std::min<unsigned>(threads, 64));
  if (n == 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < n; ++t) pool.emplace_back(work, t, n);
    for (auto& th : pool) th.join();
  }
  SimulationResult result;
  for (auto& part : parts) {
    for (auto& a : part.actions) result.actions.push_back(std::move(a));
    for (auto& r : part.records) result.records.push_back(std::move(r));
    for (auto& t : part.trace) result.trace.push_back(std::move(t));
  }
  std::stable_sort(result.actions.begin(), result.actions.end(), [](const engine::Action& a, const engine::Action& b) {
    if (a.at != b.at) return a.at < b.at;
    return a.customer_id < b.customer_id;
  });
  return result;
}

std::string render_actions(const std::vector<engine::Action>& actions) {
  std::string out;
  for (const auto& a : actions) out += engine::to_json_line(a) + "\n";
  return out;
}

std::string render_report(const engine::Program& program, const std::vector<engine::Record>& records) {
  using Kind = engine::Record::Kind;
  std::ostringstream out;
  bool first = true;
  for (const auto& j : program.journeys) {
    std::size_t entered = 0;
    std::size_t errors = 0;
    std::map<std::string, std::size_t> exits;
    std::map<std::string, std::size_t> visits;
    std::map<std::string, std::size_t> sent;
    std::map<std::string, std::map<std::string, std::size_t>> suppressed;  // step -> reason -> n
    std::map<std::string, std::size_t> suppressed_total;                   // reason -> n
    // Runs per variant: a run's variant is known once it passes a split.
    std::map<std::pair<std::string, std::size_t>, std::string> run_variant;  // (customer, run) -> variant
    std::map<std::string, std::size_t> current_run;                          // customer -> run number
    std::map<std::pair<std::string, std::string>, std::set<std::pair<std::string, std::size_t>>> converted;
    std::set<std::string> goal_names;
    for (const auto& g : j.goals) goal_names.insert(g.name);
    for (const auto& r : records) {
      if (r.journey != j.name) continue;
      if (r.kind == Kind::Entered) {
        ++entered;
        const std::size_t n = ++current_run[r.customer_id];
        run_variant[{r.customer_id, n}] = "";
        continue;
      }
      const std::pair<std::string, std::size_t> run{r.customer_id, current_run[r.customer_id]};
      if (!r.variant.empty() && run_variant.count(run)) run_variant[run] = r.variant;
      switch (r.kind) {
        case Kind::Exited: ++exits[r.detail]; break;
        case Kind::Step: ++visits[r.step]; break;
        case Kind::Send: ++sent[r.step]; break;
        case Kind::Suppressed:
          ++suppressed[r.step][r.detail];
          ++suppressed_total[r.detail];
          break;
        case Kind::Goal: converted[{r.detail, r.variant}].insert(run); break;
        case Kind::Error: ++errors; break;
        case Kind::Entered: break;
      }
    }
    std::size_t exited = 0;
    for (const auto& [reason, n] : exits) exited += n;
    if (!first) out << "\n";
    first = false;
    out << "journey " << j.name << " (version " << j.version << ")\n";
    Table head;
    head.row({"entered", std::to_string(entered)});
    head.row({"exited", std::to_string(exited)});
    for (const auto& [reason, n] : exits) head.row({"  " + reason, std::to_string(n)});
    head.row({"still in journey", std::to_string(entered - std::min(entered, exited))});
    if (errors > 0) head.row({"errors", std::to_string(errors)});
    out << head.render("  ");

    Table steps({0, 1});
    steps.row({"step", "kind", "visits", "sent", "suppressed"});
    for (const auto& op : j.ops) {
      if (!op.step_head) continue;
      std::string kind = engine::op_kind_name(op.kind);
      if (op.kind == engine::OpKind::Branch) kind = "if";
      if (op.kind == engine::OpKind::Jump) kind = "goto";
      std::string sup = "";
      if (op.kind == engine::OpKind::Send) {
        std::size_t total = 0;
        std::string reasons;
        for (const auto& [reason, n] : suppressed[op.step_id]) {
          total += n;
          reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
        }
        sup = std::to_string(total) + (reasons.empty() ? "" : " (" + reasons + ")");
      }
      const bool send = op.kind == engine::OpKind::Send;
      steps.row({op.step_id, kind + (send ? " " + op.channel + " \"" + op.template_name + "\"" : ""),
                 std::to_string(visits[op.step_id]), send ? std::to_string(sent[op.step_id]) : "", sup});
    }
    out << "\n" << steps.render("  ");
    std::size_t sent_total = 0;
    for (const auto& [step, n] : sent) sent_total += n;
    std::string sup_line;
    std::size_t sup_total = 0;
    for (const auto& [reason, n] : suppressed_total) {
      sup_total += n;
      sup_line += (sup_line.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    }
    out << "\n  sends: " << sent_total << " sent, " << sup_total << " suppressed"
        << (sup_line.empty() ? "" : " (" + sup_line + ")") << "\n";

    if (!goal_names.empty()) {
      std::map<std::string, std::size_t> runs_per_variant;
      for (const auto& [run, variant] : run_variant) ++runs_per_variant[variant];
      Table goals({0, 1});
      goals.row({"goal", "variant", "runs", "converted", "rate", "lift"});
      for (const auto& g : goal_names) {
        const auto rate_of = [&](const std::string& v) {
          const auto runs = runs_per_variant.count(v) ? runs_per_variant[v] : 0;
          const auto conv = converted.count({g, v}) ? converted[{g, v}].size() : 0;
          return std::make_pair(conv, runs);
        };
        const bool has_control = runs_per_variant.count("control") > 0;
        const auto [control_conv, control_runs] = rate_of("control");
        for (const auto& [variant, runs] : runs_per_variant) {
          const auto [conv, n] = rate_of(variant);
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
  }
  return out.str();
}

std::string render_trace(const std::vector<engine::TraceLine>& trace, const std::optional<std::string>& journey) {
  std::string out;
  for (const auto& t : trace) {
    if (journey && !t.journey.empty() && t.journey != *journey) continue;
    out += engine::format_timestamp(t.at) + "  " + (t.journey.empty() ? "" : t.journey + ": ") + t.message + "\n";
  }
  return out;
}

}  // namespace journey::runtime
