#include "dsl/reference.hpp"

#include <algorithm>
#include <vector>

namespace journey::dsl {

// The bytes of docs/language.md, null-terminated: language_reference.cpp, made by dsl/embed.cmake.
extern const unsigned char language_reference_text[];

namespace {

/// A construct of sections 3 to 5: the syntax forms of its heading, and its opening text.
struct Construct {
  std::vector<std::string> forms;
  std::string help;
};

/// A row of a table of sections 2 or 6: the code forms in it, and the row as text.
struct Row {
  std::vector<std::string> forms;
  std::string help;
};

struct Reference {
  std::vector<Construct> constructs;
  std::vector<Row> rows;
};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// The `code` spans of a line of Markdown.
std::vector<std::string> code_spans(std::string_view line) {
  std::vector<std::string> out;
  for (std::size_t open = line.find('`'); open != std::string_view::npos;) {
    const std::size_t close = line.find('`', open + 1);
    if (close == std::string_view::npos) break;
    out.emplace_back(line.substr(open + 1, close - open - 1));
    open = line.find('`', close + 1);
  }
  return out;
}

/// Where `word` occurs in `form` as a whole word (case-sensitive), or npos.
std::size_t find_word(std::string_view form, std::string_view word) {
  for (std::size_t at = form.find(word); at != std::string_view::npos;
       at = form.find(word, at + 1)) {
    const bool starts = at == 0 || !is_word_char(form[at - 1]);
    const bool ends = at + word.size() == form.size() || !is_word_char(form[at + word.size()]);
    if (starts && ends) return at;
  }
  return std::string_view::npos;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

/// The opening paragraph of a construct's text and its first example.
std::string opening(const std::vector<std::string_view>& body) {
  std::string paragraph;
  std::string example;
  bool in_example = false;
  for (const auto line : body) {
    if (line.rfind("```", 0) == 0) {
      if (in_example) break;
      in_example = true;
      example = "```journey\n";
      continue;
    }
    if (in_example) {
      example.append(line).append("\n");
    } else if (line.empty()) {
      if (!paragraph.empty()) paragraph += "\n";  // the paragraph ended; wait for the example
    } else if (paragraph.empty() || paragraph.back() != '\n') {
      paragraph.append(paragraph.empty() ? "" : " ").append(line);
    }
  }
  if (in_example) example += "```\n";
  while (!paragraph.empty() && paragraph.back() == '\n') paragraph.pop_back();
  return paragraph + (example.empty() ? "" : "\n\n" + example);
}

/// A table row as text: its cells, the heading of its section before them.
std::string row_text(std::string_view line, const std::string& heading) {
  std::string out = "*" + heading + "*:";
  std::size_t cells = 0;
  for (std::size_t at = line.find('|'); at != std::string_view::npos;) {
    const std::size_t next = line.find('|', at + 1);
    if (next == std::string_view::npos) break;
    std::string_view cell = line.substr(at + 1, next - at - 1);
    while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
    while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
    if (!cell.empty()) out.append(cells++ == 0 ? " " : " — ").append(cell);
    at = next;
  }
  return out;
}

Reference read(std::string_view doc) {
  Reference ref;
  const auto lines = lines_of(doc);
  int chapter = 0;
  std::string heading;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.rfind("## ", 0) == 0) {
      chapter = std::atoi(std::string(line.substr(3)).c_str());
      heading = std::string(line.substr(3));
      continue;
    }
    const bool section = line.rfind("### ", 0) == 0;
    if (section) heading = std::string(line.substr(4));
    if (section && chapter >= 3 && chapter <= 5) {
      std::size_t end = i + 1;
      while (end < lines.size() && lines[end].rfind("##", 0) != 0) ++end;
      const std::vector<std::string_view> body(lines.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                               lines.begin() + static_cast<std::ptrdiff_t>(end));
      Construct c{code_spans(line), {}};
      std::string title;
      for (const auto& form : c.forms) title += (title.empty() ? "" : ", ") + ("`" + form + "`");
      c.help = "**" + title + "**\n\n" + opening(body);
      ref.constructs.push_back(std::move(c));
    } else if ((chapter == 2 || chapter == 6) && line.rfind("| ", 0) == 0) {
      auto forms = code_spans(line);
      if (!forms.empty()) ref.rows.push_back(Row{std::move(forms), row_text(line, heading)});
    }
  }
  return ref;
}

const Reference& reference() {
  static const Reference ref = read(language_reference());
  return ref;
}

template <typename Entry, typename Test>
void add_matching(const std::vector<Entry>& entries, Test test, std::vector<std::string>& out) {
  for (const auto& e : entries) {
    if (std::any_of(e.forms.begin(), e.forms.end(), test)) out.push_back(e.help);
  }
}

}  // namespace

std::string_view language_reference() {
  // The bytes of a UTF-8 text file, null-terminated.
  return reinterpret_cast<const char*>(language_reference_text);  // NOLINT: bytes as characters
}

std::string word_help(std::string_view word) {
  if (word.empty()) return {};
  // The weekdays of `entry every WEEKDAY` are written as the placeholder in the reference.
  static constexpr std::string_view kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
  if (std::find(std::begin(kDays), std::end(kDays), word) != std::end(kDays)) word = "WEEKDAY";
  const Reference& ref = reference();
  std::vector<std::string> parts;
  add_matching(
      ref.constructs, [&](const std::string& f) { return find_word(f, word) == 0; }, parts);
  if (parts.empty()) {
    add_matching(
        ref.constructs,
        [&](const std::string& f) { return find_word(f, word) != std::string_view::npos; }, parts);
  }
  add_matching(
      ref.rows, [&](const std::string& f) { return find_word(f, word) != std::string_view::npos; },
      parts);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "\n\n---\n\n") + p;
  return out;
}

}  // namespace journey::dsl
