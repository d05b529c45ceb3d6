// "Did you mean" as data: each suggestion carries the edit that applies it (Diagnostic::fix), and
// applying it makes the finding go away.
#include <catch2/catch.hpp>

#include "dsl/plan.hpp"
#include "dsl/workspace.hpp"

using namespace journey::dsl;

namespace {

CheckOptions with_plan() {
  CheckOptions options;
  options.plan = parse_plan("plan.json", R"({"events": {
      "order_completed": {"properties": {"amount": "number"}},
      "Email Opened": {}}})",
                            false)
                     .plan;
  options.channels = {"email", "sms"};
  return options;
}

std::vector<Diagnostic> lint(const std::string& text) {
  Workspace ws;
  add_source(ws, "t.journey", text);
  check(ws, with_plan());
  return ws.diagnostics;
}

/// The text with the first diagnostic's fix applied.
std::string fixed(const std::string& text) {
  const auto ds = lint(text);
  REQUIRE_FALSE(ds.empty());
  REQUIRE(ds.front().fix);
  std::string out = text;
  const Fix& f = *ds.front().fix;
  out.replace(f.span.begin, f.span.end - f.span.begin, f.text);
  return out;
}

}  // namespace

TEST_CASE("fix: each did-you-mean carries its edit, and the edit fixes the finding") {
  const std::string head = "segment buyer = count(order_completed) >= 1\njourney j {\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      // misspelt keyword (E001), segment (E104), channel (E113), label (E101)
      {"  entry on order_completed\n  sned email \"x\"\n}\n", "  send email"},
      {"  entry when customer is buyr\n}\n", "customer is buyer"},
      {"  entry on order_completed\n  send emial \"x\"\n}\n", "send email \"x\""},
      {"  entry on order_completed\n  again: wait 1d\n  goto agian\n}\n", "goto again"},
      // event (E114), quoted when the name needs it; property (E115), the property only
      {"  entry on order_complete\n}\n", "entry on order_completed"},
      {"  entry on \"Email Opend\"\n}\n", "entry on \"Email Opened\""},
      {"  entry on order_completed where event.amont > 1\n}\n", "where event.amount > 1"},
      {"  entry on order_completed where sum(order_completed.amont) > 1\n}\n",
       "sum(order_completed.amount)"},
  };
  for (const auto& [body, expect] : cases) {
    INFO(body);
    const std::string after = fixed(head + body);
    CHECK(after.find(expect) != std::string::npos);
    CHECK(lint(after).empty());
  }
}

TEST_CASE("fix: findings without a suggestion carry no edit") {
  const auto ds = lint("journey j {\n  send email \"x\"\n}\n");  // E100: no entry
  REQUIRE(ds.size() == 1);
  CHECK_FALSE(ds.front().fix);
}
