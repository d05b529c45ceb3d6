// Diagnostics rendering: caret placement, text layout, JSON and SARIF shapes.
#include "dsl/render.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace journey::dsl;

namespace {

/// A workspace holding one file (not parsed) and the given diagnostics.
Workspace with_file(const std::string& path, const std::string& text,
                    std::vector<Diagnostic> diags) {
  Workspace ws;
  LoadedFile f;
  f.source = std::make_unique<SourceFile>(path, text);
  ws.files.push_back(std::move(f));
  ws.diagnostics = std::move(diags);
  return ws;
}

Span find(const std::string& text, const std::string& word) {
  const auto at = static_cast<std::uint32_t>(text.find(word));
  return Span{at, static_cast<std::uint32_t>(at + word.size())};
}

Diagnostic error(std::string code, std::string file, Span span, std::string message) {
  Diagnostic d;
  d.code = std::move(code);
  d.file = std::move(file);
  d.span = span;
  d.message = std::move(message);
  return d;
}

}  // namespace

TEST_CASE("caret sits under the span, tildes under the rest", "[render]") {
  const std::string text = "entry when customer is dormnt\n";
  SourceFile f("a.journey", text);
  std::string display;
  CHECK(caret_line(f, find(text, "dormnt"), display) == "                       ^~~~~~");
  CHECK(display == "entry when customer is dormnt");
}

TEST_CASE("tabs expand to the next stop of 4 in both lines", "[render]") {
  const std::string text = "\tgoto retyr\n";
  SourceFile f("a.journey", text);
  std::string display;
  const std::string caret = caret_line(f, find(text, "retyr"), display);
  CHECK(display == "    goto retyr");
  CHECK(caret == "         ^~~~~");
  CHECK(display.find("retyr") == caret.find('^'));
}

TEST_CASE("multi-byte and wide characters keep the caret aligned", "[render]") {
  const std::string text = "send email \"café 欢迎\" with { x: oops }\n";
  SourceFile f("a.journey", text);
  std::string display;
  const std::string caret = caret_line(f, find(text, "oops"), display);
  // `send email "caf` = 15 columns, é = 1, space = 1, 欢迎 = 4, then `" with { x: ` = 12.
  CHECK(caret == std::string(33, ' ') + "^~~~");
  // The column in the header counts code points: 31 before `oops`.
  CHECK(f.locate(find(text, "oops").begin).column == 32);

  const std::string wide = "tag \"欢迎\"\n";
  SourceFile g("b.journey", wide);
  CHECK(caret_line(g, find(wide, "欢迎"), display) == "     ^~~~");
}

TEST_CASE("an empty span or one at the end of a line gets a single caret", "[render]") {
  const std::string text = "send email\nwait 1d\n";
  SourceFile f("a.journey", text);
  std::string display;
  CHECK(caret_line(f, Span{10, 10}, display) == "          ^");
  CHECK(caret_line(f, Span{5, 5}, display) == "     ^");
  // A span running over several lines is underlined to the end of its first line.
  CHECK(caret_line(f, Span{5, 15}, display) == "     ^~~~~");
}

TEST_CASE("text rendering: header, snippet, notes, help and summary", "[render]") {
  const std::string text =
      "journey a {\n  entry on signup\n  l: wait 1d\n  l: exit\n  goto lx\n}\n";
  const auto first = static_cast<std::uint32_t>(text.find("l: wait"));
  const auto second = static_cast<std::uint32_t>(text.find("l: exit"));
  Diagnostic dup = error("E102", "a.journey", Span{second, second + 1}, "duplicate label `l`");
  dup.notes.push_back({"a.journey", Span{first, first + 1}, "first defined here"});
  Diagnostic undefined = error("E101", "a.journey", find(text, "lx"), "undefined label `lx`");
  undefined.help = "did you mean `l`?";
  Diagnostic warn = error("W101", "a.journey", find(text, "goto lx"), "unreachable step");
  warn.severity = Severity::Warning;
  Workspace ws = with_file("a.journey", text, {dup, warn, undefined});
  CHECK(render_text(ws, false) ==
        "a.journey:4:3: error[E102]: duplicate label `l`\n"
        " 4 |   l: exit\n"
        "   |   ^\n"
        "a.journey:3:3: note: first defined here\n"
        " 3 |   l: wait 1d\n"
        "   |   ^\n"
        "\n"
        "a.journey:5:3: warning[W101]: unreachable step\n"
        " 5 |   goto lx\n"
        "   |   ^~~~~~~\n"
        "\n"
        "a.journey:5:8: error[E101]: undefined label `lx`\n"
        " 5 |   goto lx\n"
        "   |        ^~\n"
        "  = help: did you mean `l`?\n"
        "\n"
        "2 errors, 1 warning\n");
}

TEST_CASE("no findings renders nothing, colour only when asked", "[render]") {
  Workspace clean = with_file("a.journey", "journey a { entry on x }\n", {});
  CHECK(render_text(clean, false).empty());
  CHECK(render_text(clean, true).empty());
  Workspace ws = with_file("a.journey", "journey a {}\n",
                           {error("E100", "a.journey", Span{8, 9}, "no entry")});
  CHECK(render_text(ws, false).find('\x1b') == std::string::npos);
  const std::string coloured = render_text(ws, true);
  CHECK(coloured.find("\x1b[1;31merror[E100]\x1b[0m") != std::string::npos);
}

TEST_CASE("a diagnostic for a file that could not be read has no snippet", "[render]") {
  Workspace ws;
  ws.diagnostics.push_back(error("E000", "missing.journey", Span{},
                                 "cannot read `missing.journey`: No such file or directory"));
  CHECK(render_text(ws, false) ==
        "missing.journey: error[E000]: cannot read `missing.journey`: No such file or directory\n"
        "\n"
        "1 error, 0 warnings\n");
}

TEST_CASE("json rendering has every field", "[render]") {
  const std::string text = "journey a {\n  entry when customer is dormnt\n}\n";
  Diagnostic d = error("E104", "a.journey", find(text, "dormnt"), "unknown segment `dormnt`");
  d.help = "did you mean `dormant`?";
  d.notes.push_back({"a.journey", find(text, "journey a"), "in this journey"});
  Workspace ws = with_file("a.journey", text, {d});
  const auto doc = nlohmann::json::parse(render_json(ws));
  CHECK(doc.at("errors") == 1);
  CHECK(doc.at("warnings") == 0);
  const auto& j = doc.at("diagnostics").at(0);
  CHECK(j.at("file") == "a.journey");
  CHECK(j.at("line") == 2);
  CHECK(j.at("column") == 26);
  CHECK(j.at("end_line") == 2);
  CHECK(j.at("end_column") == 32);
  CHECK(j.at("severity") == "error");
  CHECK(j.at("code") == "E104");
  CHECK(j.at("message") == "unknown segment `dormnt`");
  CHECK(j.at("help") == "did you mean `dormant`?");
  CHECK(j.at("notes").at(0).at("line") == 1);
  CHECK(j.at("notes").at(0).at("message") == "in this journey");
}

TEST_CASE("sarif rendering follows 2.1.0", "[render]") {
  const std::string text = "journey a {\n  entry when customer is dormnt\n}\n";
  Diagnostic d = error("E104", "dir/a.journey", find(text, "dormnt"), "unknown segment `dormnt`");
  Diagnostic w = error("W101", "dir/a.journey", find(text, "entry"), "unreachable step");
  w.severity = Severity::Warning;
  Workspace ws = with_file("dir/a.journey", text, {d, w});
  const auto doc = nlohmann::json::parse(render_sarif(ws));
  CHECK(doc.at("version") == "2.1.0");
  const auto& run = doc.at("runs").at(0);
  CHECK(run.at("tool").at("driver").at("name") == "journey");
  const auto& rules = run.at("tool").at("driver").at("rules");
  REQUIRE(rules.size() == 2);
  CHECK(rules.at(0).at("id") == "E104");
  CHECK(rules.at(0).at("shortDescription").at("text") == "unknown segment");
  const auto& r = run.at("results").at(0);
  CHECK(r.at("ruleId") == "E104");
  CHECK(r.at("level") == "error");
  CHECK(r.at("message").at("text") == "unknown segment `dormnt`");
  const auto& loc = r.at("locations").at(0).at("physicalLocation");
  CHECK(loc.at("artifactLocation").at("uri") == "dir/a.journey");
  CHECK(loc.at("region").at("startLine") == 2);
  CHECK(loc.at("region").at("startColumn") == 26);
  CHECK(loc.at("region").at("endLine") == 2);
  CHECK(loc.at("region").at("endColumn") == 32);
  CHECK(run.at("results").at(1).at("level") == "warning");
  CHECK(run.at("results").at(1).at("ruleIndex") == 1);
}

TEST_CASE("rendering is deterministic", "[render]") {
  const std::string text = "journey a {\n}\n";
  Workspace ws =
      with_file("a.journey", text, {error("E100", "a.journey", find(text, "a"), "no entry")});
  CHECK(render_text(ws, false) == render_text(ws, false));
  CHECK(render_json(ws) == render_json(ws));
  CHECK(render_sarif(ws) == render_sarif(ws));
}
