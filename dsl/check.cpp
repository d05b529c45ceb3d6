// The semantic checks over a whole workspace: names across files (E103), segments (E104, E105)
// and each journey (check_journey.cpp), then the findings in file order, capped per file.
#include <algorithm>
#include <deque>
#include <functional>
#include <map>

#include "dsl/check_context.hpp"

namespace journey::dsl {

namespace {

using checks::Context;
using checks::FileRef;

/// Where a name was first declared.
struct Declared {
  const std::string* file;
  Span span;
};

/// Reports journeys or segments declared twice (E103).
void check_unique(Context& ctx, std::map<std::string, Declared>& seen, const std::string& kind,
                  const std::string& file, const std::string& name, Span span) {
  auto [it, fresh] = seen.emplace(name, Declared{&file, span});
  if (fresh) return;
  ctx.report("E103", file, span, "duplicate " + kind + " name `" + name + "`")
      .notes.push_back({*it->second.file, it->second.span, "first declared here"});
}

void collect_segment_refs(const Expr& e, std::vector<std::string>& out) {
  if (e.kind == ExprKind::IsSegment && std::find(out.begin(), out.end(), e.text) == out.end()) {
    out.push_back(e.text);
  }
  for (const auto& o : e.operands) collect_segment_refs(o, out);
  for (const auto& w : e.where) collect_segment_refs(w, out);
}

/// Segment cycles (E105): each strongly connected group of segments is reported once, at its
/// first member in source order, naming one cycle through that member.
void check_cycles(Context& ctx,
                  const std::vector<std::pair<const Segment*, const std::string*>>& segs) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < segs.size(); ++i) index.emplace(segs[i].first->name, i);
  const std::size_t n = segs.size();
  std::vector<std::vector<std::size_t>> refs(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (index.at(segs[i].first->name) != i) continue;  // a duplicate: E103 already
    std::vector<std::string> names;
    collect_segment_refs(segs[i].first->condition, names);
    for (const auto& name : names) {
      if (auto it = index.find(name); it != index.end()) refs[i].push_back(it->second);
    }
  }
  std::vector<bool> in_reported(n, false);
  for (std::size_t s = 0; s < n; ++s) {
    if (in_reported[s]) continue;
    // Shortest path s -> ... -> s, breadth first, edges in source order.
    std::vector<std::size_t> parent(n, n);
    std::deque<std::size_t> queue{s};
    std::vector<bool> seen(n, false);
    std::optional<std::size_t> closing;
    while (!queue.empty() && !closing) {
      const std::size_t u = queue.front();
      queue.pop_front();
      for (std::size_t v : refs[u]) {
        if (v == s) {
          closing = u;
          break;
        }
        if (!seen[v]) {
          seen[v] = true;
          parent[v] = u;
          queue.push_back(v);
        }
      }
    }
    if (!closing) continue;
    std::vector<std::size_t> path;
    for (std::size_t v = *closing; v != s; v = parent[v]) path.push_back(v);
    path.push_back(s);
    std::reverse(path.begin(), path.end());
    std::string cycle;
    for (std::size_t v : path) cycle += segs[v].first->name + " -> ";
    cycle += segs[s].first->name;
    ctx.report("E105", *segs[s].second, segs[s].first->name_span, "segment cycle: " + cycle);
    // Every segment that is reachable from s and reaches s is in this cycle group.
    std::vector<bool> reaches_s(n, false);
    reaches_s[s] = true;
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t u = 0; u < n; ++u) {
        if (reaches_s[u]) continue;
        for (std::size_t v : refs[u]) {
          if (reaches_s[v]) {
            reaches_s[u] = changed = true;
            break;
          }
        }
      }
    }
    for (std::size_t u = 0; u < n; ++u) {
      if ((seen[u] || u == s) && reaches_s[u]) in_reported[u] = true;
    }
  }
}

}  // namespace

void check(Workspace& ws, const CheckOptions& options) {
  Context ctx(options);
  for (const auto& d : ws.diagnostics) {
    if (d.code.size() == 4 && d.code.compare(0, 2, "E0") == 0 && d.code != "E000") {
      ctx.syntax_errors[d.file].push_back(d.span.begin);
    }
  }

  // Names known to every file.
  std::vector<std::pair<const Segment*, const std::string*>> segments;
  for (const auto& f : ws.files) {
    for (const auto& s : f.module.segments) {
      segments.emplace_back(&s, &f.source->path());
      if (ctx.segment_set.insert(s.name).second) ctx.segment_names.push_back(s.name);
    }
  }
  if (options.plan) {
    for (const auto& [name, props] : options.plan->events) ctx.known_event_set.insert(name);
    std::function<void(const Block&)> emitted = [&](const Block& block) {
      for (const auto& step : block) {
        if (step.kind == StepKind::Emit) ctx.known_event_set.insert(step.event.name);
        for (const auto& b : step.branches) emitted(b.body);
        emitted(step.timeout);
        for (const auto& arm : step.arms) emitted(arm.body);
        emitted(step.else_body);
        for (const auto& v : step.variants) emitted(v.body);
      }
    };
    for (const auto& f : ws.files) {
      for (const auto& j : f.module.journeys) emitted(j.steps);
    }
    ctx.known_events.assign(ctx.known_event_set.begin(), ctx.known_event_set.end());
  }

  std::map<std::string, Declared> journey_names;
  std::map<std::string, Declared> segment_names;
  for (const auto& f : ws.files) {
    const FileRef file{*f.source};
    // Declarations in source order, so that "first declared" is the earlier one.
    std::size_t si = 0;
    std::size_t ji = 0;
    const auto& m = f.module;
    while (si < m.segments.size() || ji < m.journeys.size()) {
      const bool segment_next =
          ji >= m.journeys.size() ||
          (si < m.segments.size() && m.segments[si].span.begin < m.journeys[ji].span.begin);
      if (segment_next) {
        const Segment& s = m.segments[si++];
        check_unique(ctx, segment_names, "segment", f.source->path(), s.name, s.name_span);
        checks::Scope scope;
        scope.no_event_reason = "a segment has no event";
        scope.no_trigger_reason = "in a segment, which has no trigger event";
        checks::check_condition(ctx, file, s.condition, scope);
      } else {
        const Journey& j = m.journeys[ji++];
        check_unique(ctx, journey_names, "journey", f.source->path(), j.name, j.name_span);
        checks::check_journey(ctx, file, j);
      }
    }
  }
  check_cycles(ctx, segments);

  // File order, then position; cap the count per file.
  std::map<std::string, std::size_t> file_order;
  for (std::size_t i = 0; i < ws.files.size(); ++i)
    file_order.emplace(ws.files[i].source->path(), i);
  std::vector<Diagnostic> all = std::move(ws.diagnostics);
  for (auto& d : ctx.found) all.push_back(std::move(d));
  auto order = [&](const Diagnostic& d) {
    const auto it = file_order.find(d.file);
    return it == file_order.end() ? ws.files.size() : it->second;
  };
  std::stable_sort(all.begin(), all.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    const auto oa = order(a);
    const auto ob = order(b);
    if (oa != ob) return oa < ob;
    return a.span.begin < b.span.begin;
  });
  std::map<std::string, std::size_t> per_file;
  ws.diagnostics.clear();
  for (auto& d : all) {
    if (++per_file[d.file] > kMaxDiagnosticsPerFile) continue;
    ws.diagnostics.push_back(std::move(d));
  }
}

}  // namespace journey::dsl
