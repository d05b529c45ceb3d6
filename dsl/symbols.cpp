#include "dsl/symbols.hpp"

#include <algorithm>

namespace journey::dsl {

namespace {

/// Walks one declaration, collecting the names written in it.
class Collector {
 public:
  explicit Collector(std::vector<Symbol>& out) : out_(out) {}

  void segment(const Segment& s) {
    journey_.clear();
    add(SymbolKind::Segment, s.name, s.name_span, true);
    expr(s.condition);
  }

  void journey(const Journey& j) {
    journey_ = j.name;
    add(SymbolKind::Journey, j.name, j.name_span, true);
    for (const auto& e : j.entries) {
      if (e.kind == EntryKind::On) event(e.event);
      if (e.where) expr(*e.where);
      if (e.kind == EntryKind::When) expr(e.condition);
      if (e.kind == EntryKind::Yearly || e.kind == EntryKind::OnDate)
        add(SymbolKind::Attribute, joined(e.path), e.path_span, false);
    }
    for (const auto& x : j.exits) {
      if (x.kind == ExitKind::On) event(x.event);
      if (x.where) expr(*x.where);
      if (x.kind == ExitKind::When) expr(x.condition);
    }
    for (const auto& g : j.goals) {
      add(SymbolKind::Goal, g.name, g.name_span, true);
      event(g.event);
      if (g.where) expr(*g.where);
    }
    block(j.steps);
  }

 private:
  void add(SymbolKind kind, const std::string& name, Span span, bool declaration) {
    if (name.empty() || span.end <= span.begin) return;  // left out by error recovery
    out_.push_back(Symbol{kind, name, span, declaration, journey_});
  }

  void event(const EventRef& e) { add(SymbolKind::Event, e.name, e.span, false); }

  static std::string joined(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& part : path) out += (out.empty() ? "" : ".") + part;
    return out;
  }

  void fields(const std::vector<Field>& with) {
    for (const auto& f : with) expr(f.value);
  }

  void block(const Block& steps) {
    for (const auto& s : steps) step(s);
  }

  void step(const Step& s) {
    if (!s.label.empty()) add(SymbolKind::Label, s.label, s.label_span, true);
    switch (s.kind) {
      case StepKind::Send:
        add(SymbolKind::Channel, s.channel, s.channel_span, false);
        fields(s.with);
        break;
      case StepKind::WaitUpTo:
        for (const auto& b : s.branches) {
          event(b.event);
          if (b.where) expr(*b.where);
          block(b.body);
        }
        block(s.timeout);
        break;
      case StepKind::If:
        for (const auto& arm : s.arms) {
          expr(arm.condition);
          block(arm.body);
        }
        block(s.else_body);
        break;
      case StepKind::Split:
        for (const auto& v : s.variants) {
          add(SymbolKind::Variant, v.name, v.name_span, true);
          block(v.body);
        }
        break;
      case StepKind::Set:
        add(SymbolKind::Attribute, joined(s.path), s.text_span, false);
        expr(s.value);
        break;
      case StepKind::Emit:
        event(s.event);
        fields(s.with);
        break;
      case StepKind::Goto: add(SymbolKind::Label, s.text, s.text_span, false); break;
      case StepKind::WaitUntilDate: expr(s.value); break;
      case StepKind::Wait:
      case StepKind::WaitUntil:
      case StepKind::Tag:
      case StepKind::Untag:
      case StepKind::Exit: break;
    }
  }

  void expr(const Expr& e) {
    switch (reads_of(e.kind)) {
      case ExprReads::Customer: add(SymbolKind::Attribute, joined(e.path), e.span, false); break;
      case ExprReads::Segment: add(SymbolKind::Segment, e.text, e.name_span, false); break;
      case ExprReads::Timeline: add(SymbolKind::Event, e.text, e.name_span, false); break;
      default: break;
    }
    for (const auto& o : e.operands) expr(o);
    for (const auto& w : e.where) expr(w);
  }

  std::vector<Symbol>& out_;
  std::string journey_;
};

}  // namespace

std::vector<Symbol> symbols(const Module& module) {
  std::vector<Symbol> out;
  Collector collect(out);
  for (const auto& s : module.segments) collect.segment(s);
  for (const auto& j : module.journeys) collect.journey(j);
  std::stable_sort(out.begin(), out.end(),
                   [](const Symbol& a, const Symbol& b) { return a.span.begin < b.span.begin; });
  return out;
}

const Symbol* symbol_at(const std::vector<Symbol>& symbols, std::uint32_t offset) {
  const Symbol* found = nullptr;
  for (const auto& s : symbols) {
    if (s.span.begin > offset) break;
    // The innermost: a later symbol that also holds the offset starts inside an earlier one.
    if (offset <= s.span.end) found = &s;
  }
  return found;
}

bool same_target(const Symbol& a, const Symbol& b) {
  if (a.kind != b.kind || a.name != b.name) return false;
  const bool local =
      a.kind == SymbolKind::Label || a.kind == SymbolKind::Goal || a.kind == SymbolKind::Variant;
  return !local || a.journey == b.journey;
}

}  // namespace journey::dsl
