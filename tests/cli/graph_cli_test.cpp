// `journey graph --format dot|mermaid`: the header's exit clauses leave from every wait point and
// each goal is a node reached from the start, beside the edges of the steps.
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_support.hpp"

namespace fs = std::filesystem;

using namespace journey::test;

namespace {

const fs::path kCart =
    fs::path(JOURNEY_SOURCE_DIR) / "stdlib-journeys" / "cart_abandonment.journey";

/// Whether `line` is a whole line of `text`.
bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

/// The ids (`s2`, ...) of the states a dot or mermaid drawing declares, start and end aside.
std::vector<std::string> wait_states(const std::string& text, const std::regex& declaration) {
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), declaration);
       it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

}  // namespace

TEST_CASE("graph: cart abandonment's exit on order_completed leaves from every wait point",
          "[graph]") {
  const TempDir tmp;
  const auto dot = run_journey(tmp.path, "graph '" + kCart.string() + "' --format dot");
  REQUIRE(dot.code == 0);
  // s0 is the start and s1 the end; every other state is a wait point (the idle wait, the two
  // waits between reminders, the three sends held by quiet hours).
  const auto dot_waits =
      wait_states(dot.out, std::regex(R"(\n  (s(?:[2-9]|[1-9][0-9]+)) \[label=)"));
  CHECK(dot_waits.size() == 6);
  for (const auto& s : dot_waits) {
    INFO(s);
    CHECK(has_line(dot.out,
                   "  " + s + " -> s1 [label=\"exit on order_completed\\l\", style=dashed];"));
    CHECK(has_line(dot.out, "  " + s + " -> s1 [label=\"exit on unsubscribe\\l\", style=dashed];"));
  }
  CHECK(has_line(dot.out,
                 "  g0 [label=\"goal recovered\\norder_completed within 3d\", shape=note, "
                 "style=dashed];"));
  CHECK(has_line(dot.out, "  s0 -> g0 [label=\"measured from entry\\l\", style=dotted];"));

  const auto mermaid = run_journey(tmp.path, "graph '" + kCart.string() + "' --format mermaid");
  REQUIRE(mermaid.code == 0);
  const auto mermaid_waits =
      wait_states(mermaid.out, std::regex(R"(\n  state "[^"]*" as (s[0-9]+)(?=\n))"));
  CHECK(mermaid_waits == dot_waits);
  for (const auto& s : mermaid_waits) {
    INFO(s);
    CHECK(has_line(mermaid.out, "  " + s + " --> [*] : exit on order_completed"));
    CHECK(has_line(mermaid.out, "  " + s + " --> [*] : exit on unsubscribe"));
  }
  CHECK(has_line(mermaid.out, "  state \"goal recovered: order_completed within 3d\" as g0"));
  CHECK(has_line(mermaid.out, "  [*] --> g0 : measured from entry"));
  CHECK(has_line(mermaid.out, "  class g0 goal"));
}

TEST_CASE("graph: exit when, exit on where and goals with where, in dot and mermaid", "[graph]") {
  const TempDir tmp;
  tmp.write("j.journey", R"(journey trial {
  entry on trial_started
  exit on unsubscribe where event.channel == "email"
  exit when customer.plan == "pro"
  goal upgraded: upgrade where event.plan == "pro" within 7d
  goal stayed: login within 30d
  send email "hello"
  wait 2d
  send email "bye"
}
)");
  const auto dot = run_journey(tmp.path, "graph j.journey --format dot");
  REQUIRE(dot.code == 0);
  // No quiet hours: the one wait is the only point a run waits at.
  CHECK(
      has_line(dot.out,
               "  s2 -> s1 [label=\"exit on unsubscribe where event.channel == \\\"email\\\"\\l\", "
               "style=dashed];"));
  CHECK(has_line(
      dot.out, "  s2 -> s1 [label=\"exit when customer.plan == \\\"pro\\\"\\l\", style=dashed];"));
  CHECK(dot.out.find("s0 -> s1 [label=\"exit") == std::string::npos);
  CHECK(has_line(dot.out,
                 "  g0 [label=\"goal upgraded\\nupgrade where event.plan == \\\"pro\\\" "
                 "within 7d\", shape=note, style=dashed];"));
  CHECK(has_line(dot.out,
                 "  g1 [label=\"goal stayed\\nlogin within 30d\", shape=note, "
                 "style=dashed];"));
  CHECK(has_line(dot.out, "  s0 -> g1 [label=\"measured from entry\\l\", style=dotted];"));

  const auto mermaid = run_journey(tmp.path, "graph j.journey --format mermaid");
  REQUIRE(mermaid.code == 0);
  CHECK(has_line(mermaid.out,
                 "  s2 --> [*] : exit on unsubscribe where event.channel == \u201cemail\u201d"));
  CHECK(has_line(mermaid.out, "  s2 --> [*] : exit when customer.plan == \u201cpro\u201d"));
  CHECK(has_line(mermaid.out, "  state \"goal stayed: login within 30d\" as g1"));
  CHECK(has_line(mermaid.out, "  class g0,g1 goal"));
  // The same bytes each time.
  CHECK(dot.out == run_journey(tmp.path, "graph j.journey --format dot").out);
  CHECK(mermaid.out == run_journey(tmp.path, "graph j.journey --format mermaid").out);
}
