#include "dsl/render.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "dsl/codes.hpp"

namespace journey::dsl {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::uint32_t kTabWidth = 4;

/// Decodes one UTF-8 code point at `i`; invalid bytes decode as themselves, one byte long.
char32_t decode(std::string_view s, std::size_t i, std::size_t& length) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  auto bits = [&](std::size_t k) { return static_cast<char32_t>(s[i + k] & 0x3F); };
  if (b0 < 0x80) {
    length = 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    length = 2;
    return (static_cast<char32_t>(b0 & 0x1F) << 6) | bits(1);
  }
  if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    length = 3;
    return (static_cast<char32_t>(b0 & 0x0F) << 12) | (bits(1) << 6) | bits(2);
  }
  if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    length = 4;
    return (static_cast<char32_t>(b0 & 0x07) << 18) | (bits(1) << 12) | (bits(2) << 6) | bits(3);
  }
  length = 1;
  return 0xFFFD;
}

/// Columns a code point takes in a terminal: 0 for combining marks, 2 for East Asian wide and
/// emoji, else 1.
std::uint32_t width(char32_t c) {
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFE0F) return 0;
  const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
                    (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
                    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
                    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
                    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
                    (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
  return wide ? 2 : 1;
}

void rtrim(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
}

struct Palette {
  bool on = false;
  std::string paint(std::string_view code, const std::string& text) const {
    if (!on) return text;
    return "\x1b[" + std::string(code) + "m" + text + "\x1b[0m";
  }
};

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

std::string_view severity_colour(Severity s) {
  switch (s) {
    case Severity::Error: return "1;31";
    case Severity::Warning: return "1;33";
    case Severity::Note: return "1;36";
  }
  return "1";
}

/// The source line and caret line of a span, with a line-number gutter.
std::string snippet(const SourceFile& file, Span span, Severity severity, const Palette& p) {
  const LineCol at = file.locate(span.begin);
  std::string display;
  const std::string caret = caret_line(file, span, display);
  const std::string number = std::to_string(at.line);
  const std::string pad(number.size(), ' ');
  std::string line1 = p.paint("1;34", " " + number + " |") + (display.empty() ? "" : " " + display);
  std::string line2 =
      p.paint("1;34", " " + pad + " |") + " " + p.paint(severity_colour(severity), caret);
  rtrim(line1);
  rtrim(line2);
  return line1 + "\n" + line2 + "\n";
}

std::string location(const SourceFile* file, const std::string& path, Span span) {
  if (file == nullptr) return path;
  const LineCol at = file->locate(span.begin);
  return path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

std::string render_one(const Workspace& ws, const Diagnostic& d, const Palette& p) {
  const SourceFile* file = ws.find_file(d.file);
  std::string out = p.paint("1", location(file, d.file, d.span) + ":") + " " +
                    p.paint(severity_colour(d.severity),
                            std::string(severity_name(d.severity)) + "[" + d.code + "]") +
                    p.paint("1", ": " + d.message) + "\n";
  if (file != nullptr) out += snippet(*file, d.span, d.severity, p);
  for (const auto& n : d.notes) {
    const SourceFile* nf = n.file.empty() ? nullptr : ws.find_file(n.file);
    if (nf == nullptr) {
      out += "  " + p.paint("1;34", "=") + " " + p.paint("1", "note") + ": " + n.message + "\n";
      continue;
    }
    out += p.paint("1", location(nf, n.file, n.span) + ":") + " " +
           p.paint(severity_colour(Severity::Note), "note") + ": " + n.message + "\n";
    out += snippet(*nf, n.span, Severity::Note, p);
  }
  if (!d.help.empty()) {
    out += "  " + p.paint("1;34", "=") + " " + p.paint("1", "help") + ": " + d.help + "\n";
  }
  return out;
}

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

/// line, column, end_line, end_column of a span (columns in code points, end exclusive).
void add_region(Json& j, const SourceFile* file, Span span, bool sarif) {
  if (file == nullptr) {
    if (!sarif) {
      j["line"] = nullptr;
      j["column"] = nullptr;
      j["end_line"] = nullptr;
      j["end_column"] = nullptr;
    }
    return;
  }
  const LineCol b = file->locate(span.begin);
  const LineCol e = file->locate(std::max(span.begin, span.end));
  if (sarif) {
    j["startLine"] = b.line;
    j["startColumn"] = b.column;
    j["endLine"] = e.line;
    j["endColumn"] = e.column;
  } else {
    j["line"] = b.line;
    j["column"] = b.column;
    j["end_line"] = e.line;
    j["end_column"] = e.column;
  }
}

Json sarif_location(const SourceFile* file, const std::string& path, Span span) {
  Json physical;
  physical["artifactLocation"] = {{"uri", path}};
  if (file != nullptr) {
    Json region;
    add_region(region, file, span, true);
    physical["region"] = region;
  }
  return Json{{"physicalLocation", physical}};
}

}  // namespace

std::string caret_line(const SourceFile& file, Span span, std::string& display) {
  const LineCol at = file.locate(span.begin);
  const std::string_view line = file.line_text(at.line);
  const auto line_begin = static_cast<std::uint32_t>(line.data() - file.text().data());
  const std::uint32_t begin = std::max(span.begin, line_begin);
  const std::uint32_t end = std::max(span.end, begin);
  display.clear();
  std::string caret;
  std::uint32_t column = 0;  // display columns so far
  bool marked = false;
  for (std::size_t i = 0; i < line.size();) {
    std::size_t length = 1;
    const char32_t c = decode(line, i, length);
    const std::uint32_t offset = line_begin + static_cast<std::uint32_t>(i);
    std::uint32_t w = 0;
    if (c == U'\t') {
      w = kTabWidth - column % kTabWidth;
      display.append(w, ' ');
    } else {
      w = width(c);
      if (c < 0x20 || c == 0x7F) {
        display += ' ';  // other control characters would move the terminal's cursor
        w = 1;
      } else {
        display.append(line.substr(i, length));
      }
    }
    if (offset < begin) {
      caret.append(w, ' ');
    } else if (offset < end || (offset == begin && !marked)) {
      if (!marked) {
        caret += '^';
        if (w > 1) caret.append(w - 1, '~');
        marked = marked || w > 0;
      } else {
        caret.append(w, '~');
      }
    }
    column += w;
    i += length;
  }
  if (!marked) caret += '^';  // the span starts at the end of the line
  return caret;
}

Tally tally(const std::vector<Diagnostic>& diagnostics) {
  Tally t;
  for (const auto& d : diagnostics) {
    if (d.severity == Severity::Error) ++t.errors;
    if (d.severity == Severity::Warning) ++t.warnings;
  }
  return t;
}

std::string render_text(const Workspace& ws, bool color) {
  const Palette p{color};
  std::string out;
  for (const auto& d : ws.diagnostics) {
    if (!out.empty()) out += "\n";
    out += render_one(ws, d, p);
  }
  if (!ws.diagnostics.empty()) {
    const Tally t = tally(ws.diagnostics);
    out += "\n" + p.paint("1", plural(t.errors, "error") + ", " + plural(t.warnings, "warning")) +
           "\n";
  }
  return out;
}

std::string render_json(const Workspace& ws) {
  Json list = Json::array();
  for (const auto& d : ws.diagnostics) {
    const SourceFile* file = ws.find_file(d.file);
    Json j;
    j["file"] = d.file;
    add_region(j, file, d.span, false);
    j["severity"] = severity_name(d.severity);
    j["code"] = d.code;
    j["message"] = d.message;
    Json notes = Json::array();
    for (const auto& n : d.notes) {
      Json note;
      const SourceFile* nf = n.file.empty() ? nullptr : ws.find_file(n.file);
      note["file"] = n.file.empty() ? Json(nullptr) : Json(n.file);
      add_region(note, nf, n.span, false);
      note["message"] = n.message;
      notes.push_back(note);
    }
    j["notes"] = notes;
    j["help"] = d.help.empty() ? Json(nullptr) : Json(d.help);
    list.push_back(j);
  }
  const Tally t = tally(ws.diagnostics);
  Json doc;
  doc["diagnostics"] = list;
  doc["errors"] = t.errors;
  doc["warnings"] = t.warnings;
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string render_sarif(const Workspace& ws) {
  std::set<std::string> used;
  for (const auto& d : ws.diagnostics) used.insert(d.code);
  Json rules = Json::array();
  std::map<std::string, std::size_t> rule_index;
  for (const auto& code : used) {
    Json rule;
    rule["id"] = code;
    if (auto info = find_code(code)) {
      rule["shortDescription"] = {{"text", std::string(info->title)}};
      rule["fullDescription"] = {{"text", std::string(info->title)}};
      rule["help"] = {{"text", std::string(info->explanation)}};
    }
    rule_index.emplace(code, rules.size());
    rules.push_back(rule);
  }
  Json results = Json::array();
  for (const auto& d : ws.diagnostics) {
    const SourceFile* file = ws.find_file(d.file);
    Json r;
    r["ruleId"] = d.code;
    r["ruleIndex"] = rule_index.at(d.code);
    r["level"] = severity_name(d.severity);
    r["message"] = {{"text", d.help.empty() ? d.message : d.message + " (" + d.help + ")"}};
    r["locations"] = Json::array({sarif_location(file, d.file, d.span)});
    if (!d.notes.empty()) {
      Json related = Json::array();
      for (const auto& n : d.notes) {
        const SourceFile* nf = n.file.empty() ? nullptr : ws.find_file(n.file);
        Json loc = n.file.empty() ? Json::object() : sarif_location(nf, n.file, n.span);
        loc["id"] = related.size();
        loc["message"] = {{"text", n.message}};
        related.push_back(loc);
      }
      r["relatedLocations"] = related;
    }
    results.push_back(r);
  }
  Json driver;
  driver["name"] = "journey";
  driver["version"] = "0.1.0";
  driver["rules"] = rules;
  Json run;
  run["tool"] = {{"driver", driver}};
  run["columnKind"] = "unicodeCodePoints";
  run["results"] = results;
  Json doc;
  doc["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  doc["version"] = "2.1.0";
  doc["runs"] = Json::array({run});
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace journey::dsl
