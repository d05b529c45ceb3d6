// Syntax errors: codes, messages, places, suggestions and recovery.
#include <string>

#include <catch2/catch.hpp>

#include "dsl/parser.hpp"

using namespace journey::dsl;

namespace {

struct Found {
  std::string code;
  LineCol at;
  std::string message;
  std::string help;
};

std::vector<Found> errors_of(const std::string& text) {
  const SourceFile file("t.journey", text);
  std::vector<Found> out;
  for (const auto& d : parse(file).diagnostics) {
    CHECK(d.file == "t.journey");
    CHECK(d.severity == Severity::Error);
    out.push_back(Found{d.code, file.locate(d.span.begin), d.message, d.help});
  }
  return out;
}

/// The single error of a journey whose body is `body`.
Found only_error(const std::string& body) {
  const auto found = errors_of("journey j {\n  entry on a\n" + body + "\n}\n");
  INFO(body);
  REQUIRE(found.size() == 1);
  return found[0];
}

}  // namespace

TEST_CASE("parser errors: E001 says what was expected", "[parser][errors]") {
  auto e = only_error("  wait up to { on a { exit } }");
  CHECK(e.code == "E001");
  CHECK(e.message == "expected a duration such as `3d` after `wait up to`, found `{`");
  CHECK(e.at.line == 3);
  CHECK(e.at.column == 14);

  e = only_error("  send email");
  CHECK(e.message ==
        "expected a template name string after the channel, as in `send email \"welcome-1\"`, "
        "found the end of the line");

  e = only_error("  split {\n    50 a { }\n  }");
  CHECK(e.code == "E005");
  CHECK(e.at.line == 4);

  e = only_error("  if customer.a {\n    exit\n  } else");
  CHECK(e.message.rfind("expected a block `{ ... }`", 0) == 0);
}

TEST_CASE("parser errors: the predictive functions take a duration", "[parser][errors]") {
  auto e = only_error("  if expected_orders() > 1 { exit }");
  CHECK(e.code == "E001");
  CHECK(e.message ==
        "expected a duration such as `30d` inside `expected_orders(...)` or "
        "`predicted_value(...)`, found `)`");
  CHECK(e.at.column == 22);
  CHECK(only_error("  if predicted_value(30) > 1 { exit }").message.find("found `30`") !=
        std::string::npos);
  CHECK(only_error("  if predicted_value(30days) > 1 { exit }").code == "E005");
  e = only_error("  if p_alive(30d) > 0.5 { exit }");
  CHECK(e.message == "expected `)`, found `30d`");
  e = only_error("  if p_alive > 0.5 { exit }");
  CHECK(e.message.rfind("expected a condition after `if`", 0) == 0);
  e = only_error("  if p_aliv() > 0.5 { exit }");
  CHECK(e.help == "did you mean `p_alive`?");
}

TEST_CASE("parser errors: did you mean, for misspelled keywords", "[parser][errors]") {
  auto e = only_error("  sned email \"x\"");
  CHECK(e.code == "E001");
  CHECK(e.at.column == 3);
  CHECK(e.help == "did you mean `send`?");

  e = only_error("  send email \"x\" wiht { a: 1 }");
  CHECK(e.help == "did you mean `with`?");

  e = only_error("  wait untl 09:00");
  CHECK(e.help == "did you mean `until`?");

  const auto top = errors_of("jounrey j {\n  entry on a\n}\n");
  REQUIRE(top.size() == 1);
  CHECK(top[0].help == "did you mean `journey`?");

  e = only_error("  bogus_word");
  CHECK(e.help.empty());
}

TEST_CASE("parser errors: E002 unterminated string, E003 bad escape", "[parser][errors]") {
  auto e = only_error("  send email \"welcome");
  CHECK(e.code == "E002");
  CHECK(e.at.column == 14);  // the opening quote
  e = only_error("  send email \"a\\\"b");
  CHECK(e.code == "E002");
  CHECK(e.at.column == 14);
  e = only_error("  send email \"a\\qb\"");
  CHECK(e.code == "E003");
  CHECK(e.at.column == 16);  // the backslash
  e = only_error("  send email \"\\u12\"");
  CHECK(e.code == "E003");
}

TEST_CASE("parser errors: E004 nesting too deep, without a crash", "[parser][errors]") {
  std::string blocks = "journey j {\n  entry on a\n";
  for (int i = 0; i < 5000; ++i) blocks += "if customer.a {\n";
  for (int i = 0; i < 5000; ++i) blocks += "}\n";
  blocks += "}\n";
  auto found = errors_of(blocks);
  REQUIRE_FALSE(found.empty());
  CHECK(found[0].code == "E004");

  for (const char* open : {"(", "[", "not ", "-", "since(", "count(x where "}) {
    std::string expr = "segment s = ";
    for (int i = 0; i < 100000; ++i) expr += open;
    found = errors_of(expr + "1\n");
    INFO(open);
    REQUIRE_FALSE(found.empty());
    CHECK(found[0].code == "E004");
  }

  // 60 levels of blocks and 200 of parentheses are fine.
  std::string ok = "journey j {\n  entry on a\n";
  for (int i = 0; i < 60; ++i) ok += "if customer.a {\n";
  for (int i = 0; i < 60; ++i) ok += "}\n";
  ok += "}\nsegment s = " + std::string(200, '(') + "1" + std::string(200, ')') + " == 1\n";
  CHECK(errors_of(ok).empty());
}

TEST_CASE("parser errors: E005 invalid literals", "[parser][errors]") {
  CHECK(only_error("  wait 3x").code == "E005");
  CHECK(only_error("  wait 30days").code == "E005");
  CHECK(only_error("  wait until 24:00").code == "E005");
  CHECK(only_error("  wait until 12:60").code == "E005");
  CHECK(only_error("  if count(a) > 1.5x { exit }").code == "E005");
  CHECK(only_error("  wait 99999999999999999999d").code == "E005");
  CHECK(only_error("  wait 9999999999999999w").code == "E005");
  const auto q = errors_of("journey j {\n  entry on a\n  quiet hours 21:00-29:00\n}\n");
  REQUIRE(q.size() == 1);
  CHECK(q[0].code == "E005");
  CHECK(q[0].at.column == 21);
}

TEST_CASE("parser errors: E006 keyword used as a name", "[parser][errors]") {
  auto found = errors_of("journey exit {\n  entry on a\n}\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].code == "E006");
  CHECK(found[0].message == "`exit` is a keyword and cannot be used as a name");
  CHECK(found[0].help ==
        "choose another name; an event named like a keyword is written as a string, as in `on "
        "\"exit\"`");
  CHECK(only_error("  wait up to 1d { on send { } }").code == "E006");
  CHECK(only_error("  exit: send email \"x\"").code == "E006");
  CHECK(only_error("  goto when").code == "E006");
  CHECK(only_error("  split { 100% if { } }").code == "E006");
  found = errors_of("segment customer = 1\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].code == "E006");
  // After `.` any identifier is fine, and a quoted event may be a keyword.
  CHECK(errors_of("journey j {\n  entry on \"send\" where event.exit == customer.title\n}\n")
            .empty());
}

TEST_CASE("parser errors: E007 header clause after the first step", "[parser][errors]") {
  auto e = only_error("  send email \"x\"\n  exit on unsubscribe");
  CHECK(e.code == "E007");
  CHECK(e.at.line == 4);
  CHECK(only_error("  wait 1d\n  title \"late\"").code == "E007");
  CHECK(only_error("  exit\n  cap 1 per 1d").code == "E007");
  CHECK(only_error("  exit\n  on update migrate").code == "E007");
}

TEST_CASE("parser errors: `on update` names its choices", "[parser][errors]") {
  const auto e = only_error("  on update move");
  CHECK(e.code == "E001");
  CHECK(e.at.line == 3);
  CHECK(e.at.column == 13);
  CHECK(e.message == "expected `migrate` or `keep` after `on update`, found `move`");
}

TEST_CASE("parser errors: recovery reports several errors and keeps the rest", "[parser][errors]") {
  const std::string text = R"(journey j {
  entry on a
  sned email "x"
  send email "ok-1"
  wait 3q
  if customer.a { sned sms "y"; send sms "ok-2" }
  send email "ok-3"
}
segment broken = count(
segment fine = customer.a == 1
journey k {
  entry on b
  send email "ok-4"
)";
  const SourceFile file("t.journey", text);
  const ParseResult r = parse(file);
  std::vector<std::uint32_t> lines;
  for (const auto& d : r.diagnostics) lines.push_back(file.locate(d.span.begin).line);
  CHECK(lines == std::vector<std::uint32_t>{3, 5, 6, 10, 14});
  REQUIRE(r.module.journeys.size() == 2);
  const auto& steps = r.module.journeys[0].steps;
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].template_name == "ok-1");
  REQUIRE(steps[1].arms.size() == 1);
  REQUIRE(steps[1].arms[0].body.size() == 1);
  CHECK(steps[1].arms[0].body[0].template_name == "ok-2");
  CHECK(steps[2].template_name == "ok-3");
  REQUIRE(r.module.segments.size() == 1);
  CHECK(r.module.segments[0].name == "fine");
  CHECK(r.module.journeys[1].steps.size() == 1);
}

TEST_CASE("parser errors: the number of diagnostics is capped", "[parser][errors]") {
  std::string text = "journey j {\n  entry on a\n";
  for (int i = 0; i < 1000; ++i) text += "  sned email \"x\"\n";
  text += "}\n";
  const ParseResult r = parse(SourceFile("t.journey", text));
  CHECK(r.diagnostics.size() == kMaxDiagnosticsPerFile);
  CHECK(r.module.journeys.size() == 1);
}

TEST_CASE("parser errors: odd bytes and line ends never crash", "[parser][errors]") {
  CHECK(errors_of("journey j {\r\n  entry on a\r\n  send email \"x\"\r\n}\r\n").empty());
  CHECK_FALSE(errors_of(std::string("journey j {\n  entry on a\n  \0\xff\xfe\n}\n", 30)).empty());
  CHECK_FALSE(errors_of("}}}}{{{{").empty());
  CHECK_FALSE(errors_of("journey").empty());
  CHECK_FALSE(errors_of("segment s = \"").empty());
  CHECK_FALSE(errors_of("journey j { entry on a; wait up to 1d { on").empty());
}
