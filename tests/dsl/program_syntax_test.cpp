// The program-control clauses (issue 21): `topic` and `transactional` on a send, `priority` and
// `transactional` in a journey header, `in_holdout()`: what they parse into, how they print, and
// the errors at their place. The words stay usable as names.
#include <catch2/catch.hpp>

#include "dsl/parser.hpp"
#include "dsl_support.hpp"

using namespace journey::dsl;
using journey::test::formatted;
using journey::test::one_journey;
using journey::test::parse_text;

TEST_CASE("program syntax: send options and header clauses", "[program]") {
  const Journey j = one_journey(R"(journey j {
  entry on signup
  priority -7
  transactional
  send email "a" topic newsletter
  send email "b" transactional
  send email "c" with { x: 1 } topic news
  send email "d" transactional with { x: 1 }
  if in_holdout() { tag "held" }
})");
  REQUIRE(j.priority);
  CHECK(j.priority->value == -7);
  CHECK(j.transactional);
  REQUIRE(j.steps.size() == 5);
  CHECK(j.steps[0].topic == "newsletter");
  CHECK_FALSE(j.steps[0].transactional);
  CHECK(j.steps[1].transactional);
  CHECK(j.steps[2].topic == "news");
  CHECK(j.steps[2].with.size() == 1);
  CHECK(j.steps[3].transactional);
  CHECK(j.steps[4].arms.at(0).condition.kind == ExprKind::InHoldout);
}

TEST_CASE("program syntax: one canonical print", "[program]") {
  CHECK(formatted(R"(journey j {
  transactional
  priority 3
  entry on signup
  send email "c" with { x: 1 } transactional
  send email "d" with { x: 1 } topic news
  if in_holdout( ) { exit }
}
)") == R"(journey j {
  entry on signup
  priority 3
  transactional

  send email "c" transactional with { x: 1 }
  send email "d" topic news with { x: 1 }
  if in_holdout() {
    exit
  }
}
)");
}

TEST_CASE("program syntax: the words are not reserved", "[program]") {
  // A label, an event and a property named like the new words.
  const Journey j = one_journey(R"(journey j {
  entry on priority where event.topic == "x"
  transactional: send email "a" with { topic: event.transactional }
  priority: wait 1d
})");
  CHECK_FALSE(j.transactional);
  CHECK_FALSE(j.priority);
  CHECK(j.steps.at(0).label == "transactional");
  CHECK(j.steps.at(1).label == "priority");
}

TEST_CASE("program syntax: errors at their place", "[program]") {
  const auto first = [](const std::string& text) {
    const auto r = parse_text(text);
    REQUIRE_FALSE(r.diagnostics.empty());
    return r.diagnostics.front();
  };
  auto d = first("journey j {\n  entry on a\n  send email \"x\" topic\n}\n");
  CHECK(d.code == "E001");
  CHECK(d.message.find("topic name") != std::string::npos);
  d = first("journey j {\n  entry on a\n  send email \"x\" topic a topic b\n}\n");
  CHECK(d.code == "E117");
  CHECK(d.span.begin ==
        std::string("journey j {\n  entry on a\n  send email \"x\" topic a ").size());
  d = first("journey j {\n  entry on a\n  priority 1001\n  send email \"x\"\n}\n");
  CHECK(d.code == "E005");
  CHECK(d.message.find("-1000 to 1000") != std::string::npos);
  d = first("journey j {\n  entry on a\n  priority high\n  send email \"x\"\n}\n");
  CHECK(d.code == "E001");
  d = first("journey j {\n  entry on a\n  send email \"x\"\n  transactional\n}\n");
  CHECK(d.code == "E007");  // a header clause after the first step
}
