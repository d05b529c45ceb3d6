// Semantic checks, through the real parser: each code fires where it should and not elsewhere.
#include <algorithm>

#include <catch2/catch.hpp>

#include "dsl/plan.hpp"
#include "dsl/workspace.hpp"
#include "spec_example.hpp"

using namespace journey::dsl;

namespace {

std::vector<Diagnostic> lint(const std::string& text, const CheckOptions& options = {}) {
  Workspace ws;
  add_source(ws, "t.journey", text);
  check(ws, options);
  return ws.diagnostics;
}

std::vector<std::string> codes(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.code);
  return out;
}

std::vector<std::string> codes_of(const std::string& text, const CheckOptions& options = {}) {
  return codes(lint(text, options));
}

/// The text a diagnostic's span covers.
std::string spanned(const std::string& text, const Diagnostic& d) {
  return text.substr(d.span.begin, d.span.end - d.span.begin);
}

const std::string& kWelcome = journey::test::spec_example();

TrackingPlan shop_plan() {
  const auto loaded = parse_plan("plan.json", R"({"events": {
      "signup": {"properties": {"source": "string"}},
      "order_completed": {"properties": {"amount": "number", "sku": "string", "items": "array"}},
      "unsubscribe": {},
      "email_open": {}}})",
                                 false);
  REQUIRE(loaded.plan);
  return *loaded.plan;
}

}  // namespace

TEST_CASE("the spec's first example is clean", "[check]") {
  CHECK(lint(kWelcome).empty());
  CheckOptions options;
  options.channels = {"email", "sms", "push"};
  options.plan = shop_plan();
  CHECK(codes_of(kWelcome, options).empty());
}

TEST_CASE("E100 no entry, at the journey name", "[check]") {
  const std::string text = "journey lonely {\n  send email \"x\"\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E100"});
  CHECK(spanned(text, ds[0]) == "lonely");
  CHECK(codes_of("journey j {\n  entry every day at 09:00\n}\n").empty());
}

TEST_CASE("E101 undefined label, with a suggestion", "[check]") {
  const std::string text = "journey j {\n  entry on a\n  retry: wait 1d\n  goto retyr\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E101"});
  CHECK(spanned(text, ds[0]) == "retyr");
  CHECK(ds[0].help == "did you mean `retry`?");
}

TEST_CASE("E102 duplicate label with a note at the first", "[check]") {
  const std::string text =
      "journey j {\n  entry on a\n  x: wait 1d\n  if true {\n    x: send email \"a\"\n  }\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E102"});
  REQUIRE(ds[0].notes.size() == 1);
  CHECK(ds[0].notes[0].span.begin < ds[0].span.begin);
}

TEST_CASE("E103 duplicate names across files", "[check]") {
  Workspace ws;
  add_source(ws, "a.journey", "segment vip = count(order) > 3\njourney j { entry on a }\n");
  add_source(
      ws, "b.journey",
      "segment vip = count(order) > 9\njourney j { entry on b }\njourney vip { entry on c }\n");
  check(ws, {});
  REQUIRE(codes(ws.diagnostics) == std::vector<std::string>{"E103", "E103"});
  CHECK(ws.diagnostics[0].file == "b.journey");
  CHECK(ws.diagnostics[0].notes.at(0).file == "a.journey");
  CHECK(ws.diagnostics[0].message == "duplicate segment name `vip`");
  CHECK(ws.diagnostics[1].message == "duplicate journey name `j`");
}

TEST_CASE("E104 unknown segment with did-you-mean", "[check]") {
  const std::string text =
      "segment dormant = since(order) > 30d\njourney j {\n  entry when customer is dormnt\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E104"});
  CHECK(spanned(text, ds[0]) == "dormnt");
  CHECK(ds[0].help == "did you mean `dormant`?");
}

TEST_CASE("E105 segment cycle reported once at the first member", "[check]") {
  const std::string text =
      "segment c = customer is a\nsegment a = customer is b\nsegment b = customer is c or customer "
      "is a\n"
      "segment d = customer is a\nsegment self = customer is self\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E105", "E105"});
  CHECK(spanned(text, ds[0]) == "c");
  CHECK(ds[0].message == "segment cycle: c -> a -> b -> c");
  CHECK(ds[1].message == "segment cycle: self -> self");
}

TEST_CASE("E106 split percentages", "[check]") {
  const auto base = [](const std::string& a, const std::string& b) {
    return "journey j {\n  entry on a\n  split {\n    " + a + "% x { }\n    " + b +
           "% y { }\n  }\n}\n";
  };
  CHECK(codes_of(base("50", "50")).empty());
  CHECK(codes_of(base("33.3", "66.7")).empty());
  CHECK(codes_of(base("50", "40")) == std::vector<std::string>{"E106"});
  CHECK(codes_of(base("50", "50.1")) == std::vector<std::string>{"E106"});
}

TEST_CASE("E107 a loop with no wait", "[check]") {
  CHECK(codes_of("journey j {\n  entry on a\n  top: send email \"x\"\n  goto top\n}\n") ==
        std::vector<std::string>{"E107"});
  CHECK(codes_of("journey j {\n  entry on a\n  top: send email \"x\"\n  wait 1d\n  goto top\n}\n")
            .empty());
  // Through an if: the else path does not wait.
  CHECK(codes_of(
            "journey j {\n  entry on a\n  top: if customer.x == 1 { wait 1d } else { tag \"t\" }\n"
            "  goto top\n}\n") == std::vector<std::string>{"E107"});
  // A wait up to is a wait.
  CHECK(codes_of("journey j {\n  entry on a\n  top: wait up to 1d { on b { } }\n  goto top\n}\n")
            .empty());
  // A forward goto is no loop.
  CHECK(codes_of("journey j {\n  entry on a\n  goto end\n  end: exit\n}\n").empty());
}

TEST_CASE("W101 unreachable step after exit or goto", "[check]") {
  const std::string text =
      "journey j {\n  entry on a\n  send email \"a\"\n  exit\n  send email \"b\"\n  send email "
      "\"c\"\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"W101"});
  CHECK(ds[0].severity == Severity::Warning);
  CHECK(spanned(text, ds[0]).rfind("send email \"b\"", 0) == 0);
  // A labelled step that a goto targets is reachable.
  CHECK(
      codes_of("journey j {\n  entry on a\n  goto later\n  later: send email \"b\"\n}\n").empty());
}

TEST_CASE("E108 static type errors", "[check]") {
  const auto in_if = [](const std::string& cond) {
    return codes_of("journey j {\n  entry on a\n  if " + cond + " { exit }\n}\n");
  };
  const std::vector<std::string> e108{"E108"};
  CHECK(in_if("since(order) > 30") == e108);
  CHECK(in_if("\"gold\" == 1") == e108);
  CHECK(in_if("not 3") == e108);
  CHECK(in_if("\"a\" + \"b\" == \"ab\"") == e108);
  CHECK(in_if("true + 1 > 0") == e108);
  CHECK(in_if("count(order)") == e108);
  CHECK(in_if("customer.tier in \"gold\"") == e108);
  CHECK(in_if("1 in [\"a\", \"b\"]") == e108);
  CHECK(in_if("since(order) > 30d").empty());
  CHECK(in_if("customer.x + 1 > 2").empty());
  CHECK(in_if("customer.x == none").empty());
  CHECK(in_if("now - 1d < now").empty());
  CHECK(in_if("sum(order.amount within 30d) / count(order) > 2").empty());
  CHECK(in_if("customer.tier in [\"gold\", \"silver\"]").empty());
  // One mistake, one report.
  CHECK(in_if("(\"a\" + 1) * 2 > 3") == e108);
}

TEST_CASE("E109 wait up to with no on branch", "[check]") {
  CHECK(codes_of("journey j {\n  entry on a\n  wait up to 1d {\n    timeout { exit }\n  }\n}\n") ==
        std::vector<std::string>{"E109"});
}

TEST_CASE("E110 impossible values", "[check]") {
  const auto header = [](const std::string& clause) {
    return codes_of("journey j {\n  entry on a\n  " + clause + "\n  send email \"x\"\n}\n");
  };
  const std::vector<std::string> e110{"E110"};
  CHECK(header("cap 0 per 1d") == e110);
  CHECK(header("cap 3 per 0s") == e110);
  CHECK(header("quiet hours 09:00-09:00") == e110);
  CHECK(header("goal g: b within 0s") == e110);
  CHECK(header("cap 1 per 1d").empty());
  CHECK(codes_of("journey j {\n  entry on a\n  wait 0s\n}\n") == e110);
  CHECK(codes_of("segment s = count(a within 0s) > 1\n") == e110);
}

TEST_CASE("E119 predictive functions without a purchase model", "[check]") {
  const std::string text =
      "segment risky = p_alive() < 0.3\n"
      "journey j {\n"
      "  entry when customer is risky and expected_orders(30d) < 1\n"
      "  send email \"x\" with { value: predicted_value(26w) }\n"
      "}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E119", "E119", "E119"});
  CHECK(spanned(text, ds[0]) == "p_alive()");
  CHECK(ds[0].message == "`p_alive()` needs a purchase model");
  CHECK(ds[0].help.find("journey model fit") != std::string::npos);
  CHECK(spanned(text, ds[1]) == "expected_orders(30d)");
  CHECK(spanned(text, ds[2]) == "predicted_value(26w)");
  // With a model, clean; predicted_value also needs its spend part (Gamma-Gamma).
  CheckOptions options;
  options.model = ModelFacts{true};
  CHECK(lint(text, options).empty());
  options.model = ModelFacts{false};
  const auto no_spend = lint(text, options);
  REQUIRE(codes(no_spend) == std::vector<std::string>{"E119"});
  CHECK(spanned(text, no_spend[0]) == "predicted_value(26w)");
  CHECK(no_spend[0].message ==
        "`predicted_value(26w)` needs the spend model (Gamma-Gamma), which the model file lacks");
  // Numbers: compared with a duration, E108; a zero horizon, E110.
  options.model = ModelFacts{true};
  CHECK(codes_of("segment s = p_alive() > 30d\n", options) == std::vector<std::string>{"E108"});
  CHECK(codes_of("segment s = expected_orders(0s) > 1\n", options) ==
        std::vector<std::string>{"E110"});
  CHECK(codes_of("segment s = p_alive()\n", options) == std::vector<std::string>{"E108"});
}

TEST_CASE("E111 event with no event in scope", "[check]") {
  const std::vector<std::string> e111{"E111"};
  CHECK(codes_of("segment s = event.x == 1\n") == e111);
  CHECK(codes_of("journey j {\n  entry when event.x == 1\n}\n") == e111);
  CHECK(codes_of("journey j {\n  entry on a\n  exit when event.x == 1\n}\n") == e111);
  CHECK(codes_of("journey j {\n  entry when customer.x == 1\n  send email \"t\" with { a: event.x "
                 "}\n}\n") == e111);
  // In scope: where clauses, journeys entered on an event, on branches and after them.
  CHECK(codes_of("journey j {\n  entry on a where event.x == 1\n  send email \"t\" with { a: "
                 "event.x }\n}\n")
            .empty());
  CHECK(codes_of("segment s = count(order where event.amount > 3) > 0\n").empty());
  CHECK(codes_of("journey j {\n  entry when customer.x == 1\n  wait up to 1d {\n    on b { send "
                 "email \"t\" with { a: event.x } }\n"
                 "  }\n  send email \"u\" with { a: event.y }\n}\n")
            .empty());
}

TEST_CASE("E112 trigger without an event entry", "[check]") {
  const std::vector<std::string> e112{"E112"};
  CHECK(codes_of("journey j {\n  entry when customer.x == 1\n  send email \"t\" with { a: "
                 "trigger.x }\n}\n") == e112);
  CHECK(codes_of("segment s = trigger.x == 1\n") == e112);
  CHECK(
      codes_of("journey j {\n  entry on a\n  send email \"t\" with { a: trigger.x }\n}\n").empty());
}

TEST_CASE("E113 unknown channel when a list is configured", "[check]") {
  const std::string text = "journey j {\n  entry on a\n  send emial \"x\"\n}\n";
  CHECK(lint(text).empty());
  CheckOptions options;
  options.channels = {"email", "sms"};
  const auto ds = lint(text, options);
  REQUIRE(codes(ds) == std::vector<std::string>{"E113"});
  CHECK(spanned(text, ds[0]) == "emial");
  CHECK(ds[0].help == "did you mean `email`?");
}

TEST_CASE("W104 undeclared topic when topics are declared", "[check]") {
  const std::string text =
      "journey j {\n  entry on a\n  send email \"x\" topic newsleter\n"
      "  send email \"y\" topic newsletter\n}\n";
  CHECK(lint(text).empty());  // nothing declared: any topic (opt-in)
  CheckOptions options;
  options.topics = {"newsletter", "promotions"};
  auto ds = lint(text, options);
  REQUIRE(codes(ds) == std::vector<std::string>{"W104"});
  CHECK(ds[0].severity == Severity::Warning);
  CHECK(spanned(text, ds[0]) == "newsleter");
  CHECK(ds[0].help == "did you mean `newsletter`?");
  options.topics = {"offers"};
  ds = lint(text, options);
  REQUIRE(codes(ds) == std::vector<std::string>{"W104", "W104"});
  CHECK(ds[1].help ==
        "the declared topics are: offers; an undeclared topic is opt-in (only customers who "
        "subscribed to it get it)");
}

TEST_CASE("E114 E115 E116 with a tracking plan", "[check]") {
  CheckOptions options;
  options.plan = shop_plan();
  const std::string text =
      "journey j {\n"
      "  entry on signp\n"
      "  exit on order_completed where event.ammount > 3\n"
      "  goal g: order_completed where event.amount == \"x\" within 7d\n"
      "  if sum(order_completed.sku) > 1 and last(order_completed).amount == 2 and count(sigup) > "
      "0 { exit }\n"
      "  emit my_event\n"
      "  wait up to 1d { on my_event { exit } }\n"
      "}\n";
  const auto ds = lint(text, options);
  REQUIRE(codes(ds) == std::vector<std::string>{"E114", "E115", "E116", "E116", "E114"});
  CHECK(ds[0].help == "did you mean `signup`?");
  CHECK(spanned(text, ds[1]) == "event.ammount");
  CHECK(ds[1].help == "did you mean `amount`?");
  CHECK(ds[2].message.find("tracking plan") != std::string::npos);
  CHECK(spanned(text, ds[3]) == "sku");
  // Without a plan, none of these are reported.
  CHECK(codes_of(text) == std::vector<std::string>{});
}

TEST_CASE("E117 a once-only header clause repeated", "[check]") {
  const std::string text =
      "journey j {\n  title \"a\"\n  entry on a\n  cap 1 per 1d\n  title \"b\"\n  cap 2 per "
      "1d\n}\n";
  const auto ds = lint(text);
  REQUIRE(codes(ds) == std::vector<std::string>{"E117", "E117"});
  CHECK(spanned(text, ds[0]) == "title \"b\"");
  CHECK(ds[0].notes.at(0).span.begin == text.find("title \"a\""));
  CHECK(spanned(text, ds[1]) == "cap 2 per 1d");
  const std::string twice = "journey j {\n  entry on a\n  on update migrate\n  on update keep\n}\n";
  const auto repeated = lint(twice);
  REQUIRE(codes(repeated) == std::vector<std::string>{"E117"});
  CHECK(spanned(twice, repeated[0]) == "on update keep");
  CHECK(repeated[0].message == "`on update` is given more than once in journey `j`");
  // entry, exit and goal clauses may repeat.
  CHECK(codes_of("journey j {\n  entry on a\n  entry on b\n  exit on c\n  exit on d\n}\n").empty());
}

TEST_CASE("E118 duplicate goal or variant name", "[check]") {
  CHECK(codes_of("journey j {\n  entry on a\n  goal g: b within 1d\n  goal g: c within 1d\n}\n") ==
        std::vector<std::string>{"E118"});
  CHECK(codes_of("journey j {\n  entry on a\n  split {\n    50% x { }\n    50% x { }\n  }\n}\n") ==
        std::vector<std::string>{"E118"});
}

TEST_CASE("checks keep going and diagnostics come in file order", "[check]") {
  const std::string text =
      "journey j {\n  entry on a\n  goto nowhere\n  wait 0s\n}\njourney k {\n  send email "
      "\"x\"\n}\n";
  const auto ds = lint(text);
  CHECK(codes(ds) == std::vector<std::string>{"E101", "W101", "E110", "E100"});
  CHECK(std::is_sorted(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.span.begin < b.span.begin;
  }));
}

TEST_CASE("diagnostics per file are capped", "[check]") {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "journey j" + std::to_string(i) + " { send email \"x\" }\n";
  CHECK(lint(text).size() == kMaxDiagnosticsPerFile);
}

TEST_CASE("tracking plans load from JSON and TOML, bad ones name the place", "[check][plan]") {
  const auto toml =
      parse_plan("plan.toml",
                 "[events.order_completed.properties]\namount = \"number\"\nsku = \"string\"\n"
                 "[events.signup]\n",
                 true);
  REQUIRE(toml.plan);
  CHECK(toml.plan->events.size() == 2);
  CHECK(toml.plan->events.at("order_completed").size() == 2);
  const auto bad_type =
      parse_plan("p.json", R"({"events":{"a":{"properties":{"x":"float"}}}})", false);
  CHECK_FALSE(bad_type.plan);
  CHECK(bad_type.error.find("events.a.properties.x") != std::string::npos);
  const auto bad_json = parse_plan("p.json", "{\"events\": ", false);
  CHECK_FALSE(bad_json.plan);
  CHECK(bad_json.error.rfind("p.json: invalid JSON", 0) == 0);
  const auto bad_toml = parse_plan("p.toml", "[events\n", true);
  CHECK_FALSE(bad_toml.plan);
  CHECK(bad_toml.error.rfind("p.toml:1:", 0) == 0);
}
