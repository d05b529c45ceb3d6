#include "runtime/lsp/features.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "dsl/codes.hpp"
#include "dsl/expect.hpp"
#include "dsl/fmt.hpp"
#include "dsl/print.hpp"
#include "dsl/reference.hpp"

namespace journey::lsp {

namespace {

using nlohmann::json;

// LSP's numbers for the kinds of completion items and of document symbols.
constexpr int kFieldItem = 5;
constexpr int kVariableItem = 6;
constexpr int kPropertyItem = 10;
constexpr int kValueItem = 12;
constexpr int kKeywordItem = 14;
constexpr int kReferenceItem = 18;
constexpr int kEventItem = 23;
constexpr int kClassSymbol = 5;
constexpr int kMethodSymbol = 6;
constexpr int kVariableSymbol = 13;
constexpr int kEnumMemberSymbol = 22;
constexpr int kEventSymbol = 24;

// -- params -----------------------------------------------------------------------------------

const json& member(const json& object, const char* key, const char* path) {
  if (!object.is_object() || !object.contains(key))
    throw InvalidParams(std::string("missing ") + path);
  return object.at(key);
}

std::uint32_t number_at(const json& object, const char* key, const char* path) {
  const json& value = member(object, key, path);
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > UINT32_MAX)
    throw InvalidParams(std::string(path) + " must be a number from 0 to 4294967295");
  return value.get<std::uint32_t>();
}

Position position_in(const json& object, const char* path) {
  const json& p = member(object, path, path);
  return {number_at(p, "line", "position.line"), number_at(p, "character", "position.character")};
}

/// The script a request names (`textDocument.uri`), its analysis brought up to date.
Script& script_of(Project& project, const json& params) {
  const json& uri =
      member(member(params, "textDocument", "textDocument"), "uri", "textDocument.uri");
  if (!uri.is_string()) throw InvalidParams("textDocument.uri must be a string");
  Script* script = project.find(uri.get<std::string>());
  if (script == nullptr)
    throw InvalidParams("unknown document " + uri.get<std::string>() + " (open it first)");
  project.analyse();
  return *script;
}

/// The byte offset of the request's `position`.
std::uint32_t offset_of(const Script& script, const json& params) {
  return script.document.offset(position_in(params, "position"));
}

// -- results ----------------------------------------------------------------------------------

json position_json(Position p) {
  return {{"line", p.line}, {"character", p.character}};
}

json range_json(const Document& doc, dsl::Span span) {
  return {{"start", position_json(doc.position(span.begin))},
          {"end", position_json(doc.position(span.end))}};
}

json location_json(const Script& script, dsl::Span span) {
  return {{"uri", script.uri}, {"range", range_json(script.document, span)}};
}

json edit_json(const Document& doc, dsl::Span span, const std::string& text) {
  return {{"range", range_json(doc, span)}, {"newText", text}};
}

json markdown(const std::string& text) {
  return {{"kind", "markdown"}, {"value", text}};
}

json diagnostic_json(const Project& project, const Script& script, const dsl::Diagnostic& d) {
  json out = {{"range", range_json(script.document, d.span)},
              {"severity", d.severity == dsl::Severity::Error     ? 1
                           : d.severity == dsl::Severity::Warning ? 2
                                                                  : 3},
              {"source", "journey"},
              {"message", d.help.empty() ? d.message : d.message + "\n" + d.help}};
  if (!d.code.empty()) out["code"] = d.code;
  json related = json::array();
  for (const auto& note : d.notes) {
    const Script* where = note.file == script.path ? &script : project.find_path(note.file);
    if (where == nullptr) continue;
    related.push_back({{"location", location_json(*where, note.span)}, {"message", note.message}});
  }
  if (!related.empty()) out["relatedInformation"] = std::move(related);
  return out;
}

/// The source text of a span.
std::string_view text_of(const Script& script, dsl::Span span) {
  const std::string& text = script.document.text();
  if (span.begin >= text.size() || span.end < span.begin) return {};
  return std::string_view(text).substr(span.begin, span.end - span.begin);
}

/// The first line of a span's text, without trailing blanks; for a construct with a block,
/// only what comes before the block.
std::string first_line(const Script& script, dsl::Span span, bool before_block = false) {
  std::string_view t = text_of(script, span);
  t = t.substr(0, t.find('\n'));
  if (before_block) t = t.substr(0, t.find('{'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\r' || t.back() == '{')) t.remove_suffix(1);
  return std::string(t);
}

// -- what the program knows -------------------------------------------------------------------

/// Each symbol of a program that names the same thing as `target`, with its script.
std::vector<std::pair<const Script*, const dsl::Symbol*>> same_targets(const Project& project,
                                                                       const Script& script,
                                                                       const dsl::Symbol& target) {
  std::vector<std::pair<const Script*, const dsl::Symbol*>> out;
  const bool local = target.kind == dsl::SymbolKind::Label ||
                     target.kind == dsl::SymbolKind::Goal ||
                     target.kind == dsl::SymbolKind::Variant;
  for (const Script* s : project.program_of(script)) {
    if (local && s != &script) continue;
    for (const auto& sym : s->symbols) {
      if (dsl::same_target(sym, target)) out.emplace_back(s, &sym);
    }
  }
  return out;
}

/// The names of one kind written in a program, sorted and unique.
std::set<std::string> names_of(const Project& project, const Script& script, dsl::SymbolKind kind,
                               bool declared_only = false) {
  std::set<std::string> out;
  for (const Script* s : project.program_of(script)) {
    for (const auto& sym : s->symbols) {
      if (sym.kind == kind && (!declared_only || sym.declaration)) out.insert(sym.name);
    }
  }
  return out;
}

const dsl::Segment* find_segment(const Project& project, const Script& script,
                                 const std::string& name, const Script** where) {
  for (const Script* s : project.program_of(script)) {
    for (const auto& seg : s->parsed.file.module.segments) {
      if (seg.name == name) {
        *where = s;
        return &seg;
      }
    }
  }
  return nullptr;
}

// -- completion -------------------------------------------------------------------------------

class Completions {
 public:
  Completions(const Script& script, dsl::Span word) : script_(script), word_(word) {}

  void add(const std::string& label, int kind, const std::string& detail,
           const std::string& doc = {}, const std::string& insert = {}) {
    if (!seen_.insert(label).second) return;
    json item = {{"label", label},
                 {"kind", kind},
                 {"textEdit", edit_json(script_.document, word_, insert.empty() ? label : insert)}};
    if (!detail.empty()) item["detail"] = detail;
    if (!doc.empty()) item["documentation"] = markdown(doc);
    items_.push_back(std::move(item));
  }

  json result() { return {{"isIncomplete", false}, {"items", std::move(items_)}}; }

 private:
  const Script& script_;
  dsl::Span word_;
  std::set<std::string> seen_;
  json items_ = json::array();
};

void complete_path(Project& project, const Script& script, const dsl::Expected& e,
                   Completions& out) {
  const dsl::CheckOptions options = project.options_of(script);
  if (e.path == dsl::PathRoot::Customer) {
    std::string prefix;
    for (const auto& p : e.path_prefix) prefix += p + ".";
    for (const auto& name : names_of(project, script, dsl::SymbolKind::Attribute)) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string rest = name.substr(prefix.size());
      const std::string next = rest.substr(0, rest.find('.'));
      if (!next.empty()) out.add(next, kPropertyItem, "customer attribute used in the workspace");
    }
    if (e.path_prefix.empty()) {
      out.add("id", kPropertyItem, "the customer's id");
      out.add("tags", kPropertyItem, "the list of tags set by `tag`");
      out.add("timezone", kPropertyItem, "the customer's IANA zone, for local times");
      out.add("consent", kPropertyItem, "consent per channel: `customer.consent.CHANNEL`");
    } else if (e.path_prefix == std::vector<std::string>{"consent"}) {
      for (const auto& c : options.channels) out.add(c, kPropertyItem, "consent for a channel");
      for (const auto& c : names_of(project, script, dsl::SymbolKind::Channel))
        out.add(c, kPropertyItem, "consent for a channel");
    }
    return;
  }
  if (!options.plan || !e.path_prefix.empty()) return;
  for (const auto& event : e.path_events) {
    const auto it = options.plan->events.find(event);
    if (it == options.plan->events.end()) continue;
    for (const auto& prop : it->second)
      out.add(prop.name, kFieldItem, prop.type + ", of `" + event + "` in the tracking plan");
  }
}

// -- hover ------------------------------------------------------------------------------------

std::string event_help(Project& project, const Script& script, const std::string& event) {
  std::string out = "**event** `" + event + "`";
  const dsl::CheckOptions options = project.options_of(script);
  if (!options.plan) return out + "\n\nNo tracking plan is set for this file.";
  const auto it = options.plan->events.find(event);
  if (it == options.plan->events.end()) return out + "\n\nNot in the tracking plan.";
  if (it->second.empty()) return out + "\n\nIn the tracking plan, with no properties.";
  out += "\n\n| property | type |\n|---|---|\n";
  for (const auto& p : it->second) out += "| `" + p.name + "` | " + p.type + " |\n";
  return out;
}

std::string symbol_help(Project& project, const Script& script, const dsl::Symbol& sym) {
  switch (sym.kind) {
    case dsl::SymbolKind::Segment: {
      const Script* where = nullptr;
      const dsl::Segment* seg = find_segment(project, script, sym.name, &where);
      if (seg == nullptr) return "unknown segment `" + sym.name + "`";
      const auto line = where->document.position(seg->span.begin).line + 1;
      return "```journey\nsegment " + seg->name + " = " + dsl::expr_text(seg->condition) +
             "\n```\n\n" + where->path + ":" + std::to_string(line);
    }
    case dsl::SymbolKind::Journey: {
      for (const Script* s : project.program_of(script)) {
        for (const auto& j : s->parsed.file.module.journeys) {
          if (j.name != sym.name) continue;
          std::string out = "```journey\njourney " + j.name + "\n";
          if (j.title) out += "  title " + dsl::string_text(*j.title) + "\n";
          for (const auto& entry : j.entries) out += "  " + first_line(*s, entry.span) + "\n";
          return out + "```";
        }
      }
      return {};
    }
    case dsl::SymbolKind::Label: {
      for (const auto& [s, target] : same_targets(project, script, sym)) {
        if (target->declaration)
          return "```journey\n" + first_line(*s, {target->span.begin, UINT32_MAX}) + "\n```";
      }
      return "undefined label `" + sym.name + "`";
    }
    case dsl::SymbolKind::Event: return event_help(project, script, sym.name);
    case dsl::SymbolKind::Channel: {
      const auto channels = project.options_of(script).channels;
      std::string out = "**channel** `" + sym.name + "`";
      if (channels.empty()) return out + "\n\nNo channel list is set: any channel is allowed.";
      std::string list;
      for (const auto& c : channels) list += (list.empty() ? "`" : ", `") + c + "`";
      return out + "\n\nThe configured channels: " + list + ".";
    }
    case dsl::SymbolKind::Attribute:
      return "**customer attribute** `customer." + sym.name +
             "`: a profile attribute, from `identify` traits and `set`; absent is `none`.";
    case dsl::SymbolKind::Goal:
    case dsl::SymbolKind::Variant: return {};
  }
  return {};
}

/// The help of a word of the language, or of a property name, at a place.
std::string word_at_help(Project& project, const Script& script, std::uint32_t offset) {
  const std::string& text = script.document.text();
  const auto is_word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::uint32_t begin = offset;
  std::uint32_t end = offset;
  while (begin > 0 && is_word(text[begin - 1])) --begin;
  while (end < text.size() && is_word(text[end])) ++end;
  if (begin == end) return {};
  const std::string word = text.substr(begin, end - begin);
  const dsl::SourceFile source(script.path, text);
  const dsl::Expected e = dsl::expected_at(source, begin);
  if (std::binary_search(e.words.begin(), e.words.end(), word)) return dsl::word_help(word);
  if (e.path == dsl::PathRoot::None || e.path == dsl::PathRoot::Customer || !e.path_prefix.empty())
    return {};
  const dsl::CheckOptions options = project.options_of(script);
  if (!options.plan) return {};
  for (const auto& event : e.path_events) {
    const auto it = options.plan->events.find(event);
    if (it == options.plan->events.end()) continue;
    for (const auto& p : it->second) {
      if (p.name != word) continue;
      std::string help = "**property** `" + word + "` of `";
      help.append(event).append("`: ").append(p.type).append(" in the tracking plan");
      return help;
    }
  }
  return {};
}

// -- document symbols -------------------------------------------------------------------------

json symbol_json(const Script& script, const std::string& name, int kind, dsl::Span range,
                 dsl::Span selection, json children = json::array()) {
  if (selection.begin < range.begin || selection.end > range.end) selection = range;
  json out = {{"name", name.empty() ? std::string("(unnamed)") : name},
              {"kind", kind},
              {"range", range_json(script.document, range)},
              {"selectionRange", range_json(script.document, selection)}};
  if (!children.empty()) out["children"] = std::move(children);
  return out;
}

json steps_json(const Script& script, const dsl::Block& block);

json step_json(const Script& script, const dsl::Step& step) {
  json children = json::array();
  for (const auto& b : step.branches) {
    children.push_back(symbol_json(script, first_line(script, b.span, true), kEventSymbol, b.span,
                                   b.event.span, steps_json(script, b.body)));
  }
  for (const auto& s : steps_json(script, step.timeout)) children.push_back(s);
  for (const auto& arm : step.arms) {
    children.push_back(symbol_json(script, first_line(script, arm.span, true), kEnumMemberSymbol,
                                   arm.span, arm.condition.span, steps_json(script, arm.body)));
  }
  for (const auto& s : steps_json(script, step.else_body)) children.push_back(s);
  for (const auto& v : step.variants) {
    children.push_back(symbol_json(script, first_line(script, v.span, true), kEnumMemberSymbol,
                                   v.span, v.name_span, steps_json(script, v.body)));
  }
  const dsl::Span selection = step.label.empty() ? step.span : step.label_span;
  const bool block = step.kind == dsl::StepKind::WaitUpTo || step.kind == dsl::StepKind::If ||
                     step.kind == dsl::StepKind::Split;
  return symbol_json(script, first_line(script, step.span, block),
                     step.kind == dsl::StepKind::Send ? kEventSymbol : kMethodSymbol, step.span,
                     selection, std::move(children));
}

json steps_json(const Script& script, const dsl::Block& block) {
  json out = json::array();
  for (const auto& step : block) out.push_back(step_json(script, step));
  return out;
}

}  // namespace

json diagnostics_params(const Project& project, const Script& script) {
  json list = json::array();
  for (const auto& d : script.diagnostics) list.push_back(diagnostic_json(project, script, d));
  return {{"uri", script.uri}, {"diagnostics", std::move(list)}};
}

json completion(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const std::uint32_t offset = offset_of(script, params);
  const dsl::SourceFile source(script.path, script.document.text());
  const dsl::Expected e = dsl::expected_at(source, offset);
  Completions out(script, e.word);
  for (const auto& w : e.words) out.add(w, kKeywordItem, "keyword", dsl::word_help(w));
  const auto name = [](const std::string& event) {
    return dsl::is_name(event) ? event : dsl::string_text(event);
  };
  if (e.channel) {
    const auto options = project.options_of(script);
    for (const auto& c : options.channels) out.add(c, kValueItem, "configured channel");
    for (const auto& c : names_of(project, script, dsl::SymbolKind::Channel))
      out.add(c, kValueItem, "channel used in the workspace");
  }
  if (e.label) {
    for (const auto& sym : script.symbols) {
      if (sym.kind == dsl::SymbolKind::Label && sym.declaration && sym.journey == e.journey)
        out.add(sym.name, kReferenceItem, "label of journey " + e.journey);
    }
  }
  if (e.segment) {
    for (const auto& s : names_of(project, script, dsl::SymbolKind::Segment, true)) {
      const Script* where = nullptr;
      const dsl::Segment* seg = find_segment(project, script, s, &where);
      out.add(s, kVariableItem, seg != nullptr ? dsl::expr_text(seg->condition) : "segment");
    }
  }
  if (e.event) {
    const auto options = project.options_of(script);
    if (options.plan) {
      for (const auto& [event, props] : options.plan->events)
        out.add(event, kEventItem, "in the tracking plan", {}, name(event));
    }
    for (const auto& event : names_of(project, script, dsl::SymbolKind::Event))
      out.add(event, kEventItem, "used in the workspace", {}, name(event));
  }
  if (e.path != dsl::PathRoot::None) complete_path(project, script, e, out);
  return out.result();
}

json hover(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const std::uint32_t offset = offset_of(script, params);
  std::vector<std::string> parts;
  dsl::Span range{offset, offset};
  if (const dsl::Symbol* sym = dsl::symbol_at(script.symbols, offset)) {
    if (auto help = symbol_help(project, script, *sym); !help.empty()) {
      parts.push_back(std::move(help));
      range = sym->span;
    }
  }
  if (parts.empty()) {
    if (auto help = word_at_help(project, script, offset); !help.empty())
      parts.push_back(std::move(help));
  }
  // What the codes found here mean: the text of `journey lint --explain`.
  std::set<std::string> explained;
  for (const auto& d : script.diagnostics) {
    if (d.code.empty() || offset < d.span.begin || offset > d.span.end) continue;
    if (!explained.insert(d.code).second) continue;
    if (const auto info = dsl::find_code(d.code)) {
      parts.push_back("**" + std::string(info->code) + ": " + std::string(info->title) +
                      "**\n\n```\n" + std::string(info->explanation) + "\n```");
    }
  }
  if (parts.empty()) return nullptr;
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : "\n\n---\n\n") + p;
  json out = {{"contents", markdown(text)}};
  if (range.end > range.begin) out["range"] = range_json(script.document, range);
  return out;
}

namespace {

/// Where the name at the request's position is written, in the places `wanted` keeps.
template <typename Keep>
json locations(Project& project, const json& params, Keep wanted) {
  Script& script = script_of(project, params);
  const dsl::Symbol* sym = dsl::symbol_at(script.symbols, offset_of(script, params));
  json out = json::array();
  if (sym == nullptr) return out;
  for (const auto& [s, target] : same_targets(project, script, *sym)) {
    if (wanted(*target)) out.push_back(location_json(*s, target->span));
  }
  return out;
}

}  // namespace

json definition(Project& project, const json& params) {
  return locations(project, params, [](const dsl::Symbol& s) { return s.declaration; });
}

json references(Project& project, const json& params) {
  const json context = params.value("context", json::object());
  const bool with_declaration = context.is_object() && context.value("includeDeclaration", false);
  return locations(project, params,
                   [&](const dsl::Symbol& s) { return !s.declaration || with_declaration; });
}

namespace {

/// The segment or label at a place, which a rename can change; else RequestFailed.
const dsl::Symbol& renamable(const Script& script, std::uint32_t offset) {
  const dsl::Symbol* sym = dsl::symbol_at(script.symbols, offset);
  if (sym == nullptr ||
      (sym->kind != dsl::SymbolKind::Segment && sym->kind != dsl::SymbolKind::Label))
    throw RequestFailed("only a segment or a label can be renamed");
  return *sym;
}

}  // namespace

json prepare_rename(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const dsl::Symbol& sym = renamable(script, offset_of(script, params));
  return {{"range", range_json(script.document, sym.span)}, {"placeholder", sym.name}};
}

json rename(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const dsl::Symbol& sym = renamable(script, offset_of(script, params));
  const json& new_name = member(params, "newName", "newName");
  if (!new_name.is_string()) throw InvalidParams("newName must be a string");
  const std::string name = new_name.get<std::string>();
  if (!dsl::is_name(name)) {
    throw InvalidParams("`" + name +
                        "` cannot name a segment or label: use letters, digits and `_`, not "
                        "starting with a digit, and no keyword");
  }
  dsl::Symbol taken = sym;
  taken.name = name;
  for (const auto& [s, target] : same_targets(project, script, taken)) {
    if (target->declaration && name != sym.name) {
      throw RequestFailed(
          std::string(sym.kind == dsl::SymbolKind::Label ? "a label" : "a segment") + " named `" +
          name + "` already exists");
    }
  }
  json changes = json::object();
  for (const auto& [s, target] : same_targets(project, script, sym)) {
    if (!changes.contains(s->uri)) changes[s->uri] = json::array();
    changes[s->uri].push_back(edit_json(s->document, target->span, name));
  }
  return {{"changes", std::move(changes)}};
}

json document_symbols(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const dsl::Module& module = script.parsed.file.module;
  json out = json::array();
  for (const auto& seg : module.segments) {
    out.push_back(
        symbol_json(script, "segment " + seg.name, kVariableSymbol, seg.span, seg.name_span));
  }
  for (const auto& j : module.journeys) {
    json children = json::array();
    for (const auto& g : j.goals)
      children.push_back(symbol_json(script, "goal " + g.name, kEventSymbol, g.span, g.name_span));
    for (const auto& s : steps_json(script, j.steps)) children.push_back(s);
    out.push_back(symbol_json(script, "journey " + j.name, kClassSymbol, j.span, j.name_span,
                              std::move(children)));
  }
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    const auto& pa = a["range"]["start"];
    const auto& pb = b["range"]["start"];
    return std::pair(pa["line"].get<int>(), pa["character"].get<int>()) <
           std::pair(pb["line"].get<int>(), pb["character"].get<int>());
  });
  return out;
}

json formatting(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const dsl::SourceFile source(script.path, script.document.text());
  const dsl::Formatted formatted = dsl::format_source(source);
  if (!formatted.text) {
    const dsl::Diagnostic& d = formatted.problems.front();
    const Position at = script.document.position(d.span.begin);
    throw RequestFailed("not formatted: line " + std::to_string(at.line + 1) + ": " + d.message);
  }
  json edits = json::array();
  if (*formatted.text != script.document.text()) {
    edits.push_back(edit_json(script.document,
                              {0, static_cast<std::uint32_t>(script.document.text().size())},
                              *formatted.text));
  }
  return edits;
}

json code_actions(Project& project, const json& params) {
  Script& script = script_of(project, params);
  const json& range = member(params, "range", "range");
  const std::uint32_t begin = script.document.offset(position_in(range, "start"));
  const std::uint32_t end = script.document.offset(position_in(range, "end"));
  json out = json::array();
  for (const auto& d : script.diagnostics) {
    if (!d.fix || d.span.end < begin || d.span.begin > end) continue;
    json edit = {
        {"changes",
         {{script.uri, json::array({edit_json(script.document, d.fix->span, d.fix->text)})}}}};
    out.push_back({{"title", "Change to `" + d.fix->text + "`"},
                   {"kind", "quickfix"},
                   {"isPreferred", true},
                   {"diagnostics", json::array({diagnostic_json(project, script, d)})},
                   {"edit", std::move(edit)}});
  }
  return out;
}

}  // namespace journey::lsp
