// The canvas: a compiled journey's steps and ways, the counters the engine's records add up to,
// the SVG Graphviz draws of them, and the goal chart.
#include <algorithm>
#include <regex>

#include <catch2/catch.hpp>

#include "engine/counts.hpp"
#include "engine/engine.hpp"
#include "engine/engine_support.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"
#include "runtime/canvas/page.hpp"
#include "runtime/canvas/steps.hpp"
#include "runtime/canvas/svg.hpp"
#include "runtime/canvas/text.hpp"

using namespace journey;

namespace {

constexpr const char* kJourney = R"(journey trial {
  entry on trial_started
  exit on unsubscribe
  goal upgraded: upgrade within 7d
  hello: send email "hello"
  wait up to 2d {
    on upgrade { thanks: send email "thanks"; exit "upgraded" }
  }
  check: if customer.plan == "pro" {
    tag "pro"
  } else if customer.plan == "team" {
    tag "team"
  }
  offer: split {
    50% control { }
    50% discount { send email "discount" }
  }
  bye: send email "bye"
}
)";

const canvas::StepEdge* edge(const canvas::StepGraph& g, const std::string& from,
                             const std::string& to) {
  for (const auto& e : g.edges) {
    if (e.from == from && e.to == to) return &e;
  }
  return nullptr;
}

engine::Event event(const std::string& customer, const std::string& name, const char* at,
                    nlohmann::json properties = nlohmann::json::object()) {
  engine::Event ev;
  ev.customer_id = customer;
  ev.type = engine::Event::Type::Track;
  ev.name = name;
  ev.at = test::at(at);
  ev.properties = std::move(properties);
  return ev;
}

/// The counts of customers run through the engine, as the daemon and the report count them.
engine::JourneyCounts run(const engine::Engine& engine,
                          const std::vector<std::vector<engine::Event>>& customers,
                          engine::Millis until) {
  std::map<std::pair<std::string, std::string>, std::int64_t> counters;
  engine::JourneyCounts counts;
  for (const auto& events : customers) {
    auto state = engine::new_customer(events.front().customer_id);
    std::vector<engine::Record> records;
    for (const auto& ev : events) {
      for (auto& r : engine.on_event(*state, ev).records) records.push_back(std::move(r));
    }
    for (auto& r : engine.on_time(*state, until).records) records.push_back(std::move(r));
    for (const auto& r : records) {
      engine::count_record(r, [&](const char* metric, std::string key) {
        ++counters[{metric, std::move(key)}];
      });
    }
    for (const auto& [name, r] : state->runs) counts.add_waiting(r.step, 1);
  }
  for (const auto& [key, n] : counters) counts.add(key.first, key.second, n);
  return counts;
}

/// Every `d="..."` and `points="..."` of an SVG: where Graphviz put things.
std::vector<std::string> geometry(const std::string& svg) {
  std::vector<std::string> out;
  const std::regex shape(R"((?:d|points|x|y)="[^"]*")");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), shape); it != std::sregex_iterator();
       ++it) {
    out.push_back(it->str());
  }
  return out;
}

}  // namespace

TEST_CASE("canvas: a journey's steps and the ways between them", "[canvas]") {
  const auto program = test::build(kJourney);
  const auto& j = program->journeys.at(0);
  const auto g = canvas::step_graph(j);
  // The entry, ten steps (hello, the wait, thanks, the exit, the if, two tags, the split, the
  // discount send, bye), the end.
  REQUIRE(g.nodes.size() == 12);
  CHECK(g.nodes.front().kind == canvas::StepNode::Kind::Entry);
  CHECK(g.nodes.front().does == "on trial_started");
  CHECK(g.nodes.back().kind == canvas::StepNode::Kind::End);
  CHECK(g.nodes[1].name == "hello");
  CHECK(g.nodes[1].does == "Send email \u201chello\u201d");
  CHECK(g.nodes[2].does == "Wait up to 2d for upgrade");

  REQUIRE(edge(g, "", "hello"));
  const auto* upgrade = edge(g, g.nodes[2].step, "thanks");
  REQUIRE(upgrade);
  CHECK(upgrade->labels == std::vector<std::string>{"on upgrade"});
  const auto* timeout = edge(g, g.nodes[2].step, "check");
  REQUIRE(timeout);
  CHECK(timeout->labels == std::vector<std::string>{"after 2d without it"});
  // The exit step leaves with its reason.
  const auto* exit = edge(g, g.nodes[4].step, "end");
  REQUIRE(exit);
  CHECK(exit->exit_reason == "upgraded");
  // An `if` with an `else if`: each condition, then "otherwise" (straight to the split).
  const auto* otherwise = edge(g, "check", "offer");
  REQUIRE(otherwise);
  CHECK(otherwise->labels == std::vector<std::string>{"otherwise"});
  // The empty control variant and the end of the discount variant both reach `bye`.
  const auto* control = edge(g, "offer", "bye");
  REQUIRE(control);
  CHECK(control->labels == std::vector<std::string>{"50% control"});
  const auto* last = edge(g, "bye", "end");
  REQUIRE(last);
  CHECK(last->exit_reason == "end");
  CHECK_FALSE(last->exit_clause);
  // The header's `exit on unsubscribe` leaves from the one step a run waits at (no quiet hours:
  // no send is ever held), after the ways of the steps.
  std::vector<const canvas::StepEdge*> clauses;
  for (const auto& e : g.edges) {
    if (e.exit_clause) clauses.push_back(&e);
  }
  REQUIRE(clauses.size() == 1);
  CHECK(clauses[0] == &g.edges.back());
  CHECK(clauses[0]->from == g.nodes[2].step);
  CHECK(clauses[0]->to == "end");
  CHECK(clauses[0]->exit_reason.empty());
  CHECK(g.exit_clauses == std::vector<std::string>{"exit on unsubscribe"});
  CHECK(g.exit_reasons == std::vector<std::string>{"exit on unsubscribe"});
  // The goal, beside the steps.
  REQUIRE(g.goals.size() == 1);
  CHECK(g.goals[0].name == "upgraded");
  CHECK(g.goals[0].does == "upgrade within 7d");
}

TEST_CASE("canvas: the exit clauses leave from every wait and every send quiet hours can hold",
          "[canvas]") {
  const auto program = test::build(R"(journey held {
  entry on signup
  exit on unsubscribe where event.channel == "email"
  exit on unsubscribe where event.channel == "sms"
  exit when customer.plan == "pro"
  quiet hours 21:00-09:00
  hello: send email "hello"
  nap: wait 1d
  tag "rested"
  bye: send email "bye"
}
)");
  const auto g = canvas::step_graph(program->journeys.at(0));
  std::vector<std::string> from;
  for (const auto& e : g.edges) {
    if (e.exit_clause) from.push_back(e.from);
  }
  // Not from the tag: a run never waits there.
  CHECK(from == std::vector<std::string>{"hello", "nap", "bye"});
  CHECK(g.exit_clauses ==
        std::vector<std::string>{"exit on unsubscribe where event.channel == \"email\"",
                                 "exit on unsubscribe where event.channel == \"sms\"",
                                 "exit when customer.plan == \"pro\""});
  // The two `exit on unsubscribe` share the reason the engine records.
  CHECK(g.exit_reasons == std::vector<std::string>{"exit on unsubscribe", "exit when"});
  CHECK(g.goals.empty());
}

TEST_CASE("canvas: the reasons the engine records for the exit clauses are the canvas's",
          "[canvas]") {
  engine::EngineConfig config;
  config.consent_assumed = true;
  engine::Engine engine(config);
  const auto program = test::build(R"(journey trial {
  entry on signup
  exit on unsubscribe where event.channel == "email"
  exit when customer.plan == "pro"
  nap: wait 3d
  send email "bye"
}
)");
  engine.deploy(program);
  const auto g = canvas::step_graph(program->journeys.at(0));
  const auto counts =
      run(engine,
          {{event("a", "signup", "2026-01-01T10:00:00Z"),
            event("a", "unsubscribe", "2026-01-02T10:00:00Z", {{"channel", "email"}})},
           {event("b", "signup", "2026-01-01T10:00:00Z"),
            test::identify_event("b", test::at("2026-01-02T10:00:00Z"), {{"plan", "pro"}})}},
          test::at("2026-01-10T00:00:00Z"));
  CHECK(counts.exits_at == std::map<std::pair<std::string, std::string>, std::int64_t>{
                               {{"nap", "exit on unsubscribe"}, 1}, {{"nap", "exit when"}, 1}});
  CHECK(g.exit_reasons == std::vector<std::string>{"exit on unsubscribe", "exit when"});
  canvas::CanvasOptions with_counts;
  with_counts.counts = &counts;
  CHECK(canvas::canvas_svg(program->journeys.at(0), with_counts).find("2 left this way") !=
        std::string::npos);
}

TEST_CASE("canvas: every move the engine counts lands on an edge of the canvas", "[canvas]") {
  engine::EngineConfig config;
  config.consent_assumed = true;
  engine::Engine engine(config);
  const auto program = test::build(kJourney);
  engine.deploy(program);
  const auto& j = program->journeys.at(0);
  std::vector<std::vector<engine::Event>> customers;
  for (int i = 0; i < 40; ++i) {
    const auto id = "c" + std::to_string(i);
    std::vector<engine::Event> events = {event(id, "trial_started", "2026-01-01T10:00:00Z")};
    if (i % 4 == 0) events.push_back(event(id, "upgrade", "2026-01-02T10:00:00Z"));
    if (i % 4 == 1) events.push_back(event(id, "unsubscribe", "2026-01-02T10:00:00Z"));
    customers.push_back(std::move(events));
  }
  const auto counts = run(engine, customers, test::at("2026-01-10T00:00:00Z"));
  CHECK(counts.entered == 40);
  CHECK(counts.exits.at("upgraded") == 10);
  CHECK(counts.exits.at("exit on unsubscribe") == 10);
  const auto g = canvas::step_graph(j);
  std::int64_t drawn = 0;
  for (const auto& [move, n] : counts.moves) {
    INFO(move.first << " -> " << move.second);
    CHECK(edge(g, move.first, move.second) != nullptr);
    drawn += n;
  }
  // Every visit of a step came along a drawn edge.
  std::int64_t visits = 0;
  for (const auto& [step, c] : counts.steps) visits += c.visits;
  CHECK(drawn == visits);
  CHECK(counts.exits_at.count({g.nodes[2].step, "exit on unsubscribe"}) == 1);
  for (const auto& [at, n] : counts.exits_at) {
    bool found = false;
    for (const auto& e : g.edges) {
      // An exit clause's reason, from a step where a run waits: on that step's way out by the
      // exit clauses.
      const bool clause =
          e.exit_clause && std::count(g.exit_reasons.begin(), g.exit_reasons.end(), at.second) == 1;
      found |= e.from == at.first && (e.exit_reason == at.second || clause);
    }
    INFO(at.first << " left: " << at.second);
    CHECK(found);
  }
  // On the canvas: the runs that left by the exit clause, and the goal's conversions.
  canvas::CanvasOptions with_counts;
  with_counts.counts = &counts;
  const auto svg = canvas::canvas_svg(j, with_counts);
  CHECK(svg.find("10 left this way") != std::string::npos);
  CHECK(svg.find("10 converted \u00b7 25.0% of entered") != std::string::npos);
  // The split put each run in one variant.
  CHECK(counts.variants.at("control") + counts.variants.at("discount") == 20);
  const auto rows = engine::goal_rows(counts, "upgraded");
  CHECK(rows.size() >= 2);  // the runs no split put anywhere, and the variants
}

TEST_CASE("canvas: the SVG is the same for the same journey, and counts do not move it",
          "[canvas]") {
  const auto program = test::build(kJourney);
  const auto& j = program->journeys.at(0);
  const auto plain = canvas::canvas_svg(j, {});
  CHECK(plain == canvas::canvas_svg(j, {}));
  CHECK(plain.rfind("<svg", 0) == 0);
  CHECK(plain.find("Generated by") == std::string::npos);
  CHECK(plain.find("id=\"step&#45;hello\"") != std::string::npos);
  CHECK(plain.find("waiting now") == std::string::npos);
  CHECK(plain.find("id=\"goal&#45;upgraded\" class=\"node goal\"") != std::string::npos);
  CHECK(plain.find("id=\"exit&#45;clauses\" class=\"node exit&#45;clauses\"") != std::string::npos);
  CHECK(plain.find("class=\"edge way exit&#45;clause\"") != std::string::npos);
  CHECK(plain.find("exit on unsubscribe") != std::string::npos);
  CHECK(plain.find("converted") == std::string::npos);

  engine::JourneyCounts few;
  few.entered = 3;
  few.add_waiting("hello", 1);
  engine::JourneyCounts many;
  many.entered = 123456789;
  many.add_waiting(j.ops[1].step_id, 98765432);
  many.add("visits", "hello", 123456789);
  many.add("suppressed_at", engine::pair_key("hello", "consent"), 4321);
  many.add("moves", engine::pair_key("", "hello"), 123456789);
  canvas::CanvasOptions with_few;
  with_few.counts = &few;
  canvas::CanvasOptions with_many;
  with_many.counts = &many;
  const auto a = canvas::canvas_svg(j, with_few);
  const auto b = canvas::canvas_svg(j, with_many);
  CHECK(a.find("3 entered") != std::string::npos);
  CHECK(b.find("123,456,789 entered") != std::string::npos);
  CHECK(b.find("98,765,432 waiting now") != std::string::npos);
  CHECK(b.find("consent 4,321") != std::string::npos);
  CHECK(a.find("0 converted \u00b7 0.0% of entered") != std::string::npos);
  CHECK(a.find("0 left this way") != std::string::npos);
  CHECK(geometry(a) != geometry(plain));
  // Only the numbers differ: the boxes, arrows and text positions stay.
  auto positions = [](const std::vector<std::string>& all) {
    std::vector<std::string> out;
    for (const auto& g : all) {
      if (g.rfind("x=", 0) != 0) out.push_back(g);  // text anchored at the start keeps x
    }
    return out;
  };
  CHECK(positions(geometry(a)) == positions(geometry(b)));

  canvas::CanvasOptions prefixed;
  prefixed.id_prefix = "v1-";
  CHECK(canvas::canvas_svg(j, prefixed).find("id=\"v1&#45;step&#45;hello\"") != std::string::npos);
}

TEST_CASE("canvas: step anchors, escaping and numbers", "[canvas]") {
  CHECK(canvas::step_anchor("L4:3") == "step-L4.3A3");
  CHECK(canvas::step_anchor("welcome_email") == "step-welcome_email");
  CHECK(canvas::step_anchor("a b") != canvas::step_anchor("a_b"));
  CHECK(canvas::html_escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  CHECK(canvas::html_escape("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(canvas::html_escape("bad \xff byte") == "bad \xef\xbf\xbd byte");
  CHECK(canvas::count_text(0) == "0");
  CHECK(canvas::count_text(1234567) == "1,234,567");
  CHECK(canvas::percent_text(1, 3) == "33.3%");
  CHECK(canvas::percent_text(1, 0) == "-");
}

TEST_CASE("canvas: the goal chart shows each variant's rate, runs and lift", "[canvas]") {
  engine::JourneyCounts counts;
  counts.add("entered", "", 40);
  counts.add("variants", "control", 20);
  counts.add("variants", "coupon", 20);
  counts.add("goals_by_variant", engine::pair_key("first_order", "control"), 2);
  counts.add("goals_by_variant", engine::pair_key("first_order", "coupon"), 5);
  const auto chart = canvas::goal_chart(counts, "first_order");
  CHECK(chart.find("10.0%") != std::string::npos);
  CHECK(chart.find("(2 of 20)") != std::string::npos);
  CHECK(chart.find("25.0%") != std::string::npos);
  CHECK(chart.find("+150.0% vs control") != std::string::npos);
  CHECK(chart.find("data-variant=\"coupon\"") != std::string::npos);
  CHECK(canvas::goal_chart(engine::JourneyCounts{}, "x").find("No one has entered yet") !=
        std::string::npos);

  const auto program = test::build(kJourney);
  const auto panel = canvas::journey_panel(program->journeys.at(0), counts, {"<h2>t</h2>", "p-"});
  CHECK(panel.find("40</b>entered") != std::string::npos);
  CHECK(panel.find("Goal upgraded") != std::string::npos);
  const auto html = canvas::page({"T <x>", "", false}, panel);
  CHECK(html.find("<title>T &lt;x&gt;</title>") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(canvas::page({"T", "", true}, "").find("<script>") != std::string::npos);
}

TEST_CASE(
    "canvas: a journey's panel shows the global holdout's lift, refused entries and goals by send",
    "[canvas][program]") {
  engine::JourneyCounts counts;
  counts.add("entered", "", 100);
  counts.add("holdout_entered", "", 10);
  counts.add("goals", "upgraded", 28);
  counts.add("holdout_goals", "upgraded", 1);
  counts.add("refused", "arbitration", 3);
  counts.add("goals_by_send", engine::pair_key("upgraded", "hello"), 4);
  const auto program = test::build(kJourney);
  const auto panel = canvas::journey_panel(program->journeys.at(0), counts, {"<h2>t</h2>", "p-"});
  CHECK(panel.find("Global holdout: program lift on upgraded") != std::string::npos);
  CHECK(panel.find("<td>treated</td><td>90</td><td>27</td><td>30.0%</td>") != std::string::npos);
  CHECK(panel.find("<td>holdout</td><td>10</td><td>1</td><td>10.0%</td>") != std::string::npos);
  CHECK(panel.find("+200.0%") != std::string::npos);
  CHECK(panel.find("3 entries refused (arbitration)") != std::string::npos);
  // Each send's box says which conversions it was the last send before.
  CHECK(panel.find("goals after it: upgraded 4") != std::string::npos);
  CHECK(panel.find("no goal after it") != std::string::npos);  // the other sends
  // Without held-out customers, no holdout table.
  engine::JourneyCounts plain;
  plain.add("entered", "", 5);
  CHECK(canvas::journey_panel(program->journeys.at(0), plain, {"<h2>t</h2>", "p-"})
            .find("Global holdout") == std::string::npos);
}
