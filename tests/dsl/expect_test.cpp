// What the grammar expects at a place (dsl/expect.hpp): the probe runs the real parser over the
// text before the place, so each case is a piece of script with `|` where the cursor is.
#include "dsl/expect.hpp"

#include <algorithm>

#include <catch2/catch.hpp>

using namespace journey::dsl;

namespace {

/// What is expected at the `|` of `text` (the `|` removed).
Expected at_bar(std::string text) {
  const auto bar = text.find('|');
  REQUIRE(bar != std::string::npos);
  text.erase(bar, 1);
  const SourceFile file("t.journey", text);
  return expected_at(file, static_cast<std::uint32_t>(bar));
}

bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

TEST_CASE("expect: declarations at the top of a file") {
  const Expected e = at_bar("|");
  CHECK(e.words == std::vector<std::string>{"journey", "segment"});
  CHECK_FALSE(e.event);
  CHECK(e.journey.empty());
}

TEST_CASE("expect: header clauses and steps before the first step, steps only after it") {
  const Expected before = at_bar("journey j {\n  |\n}\n");
  for (const char* w : {"title", "entry", "reentry", "exit", "goal", "quiet", "cap", "send", "wait",
                        "if", "split", "set", "tag", "untag", "emit", "goto"}) {
    CHECK(has(before.words, w));
  }
  CHECK(before.journey == "j");
  const Expected after = at_bar("journey j {\n  entry on a\n  send email \"x\"\n  |\n}\n");
  CHECK(has(after.words, "send"));
  CHECK(has(after.words, "exit"));  // the step
  CHECK_FALSE(has(after.words, "entry"));
  CHECK_FALSE(has(after.words, "title"));
  CHECK_FALSE(has(after.words, "journey"));
}

TEST_CASE("expect: the word being typed is set aside") {
  const std::string text = "journey j {\n  entry on signup\n  se";
  const Expected e =
      expected_at(SourceFile("t.journey", text), static_cast<std::uint32_t>(text.size()));
  CHECK(has(e.words, "send"));
  CHECK(has(e.words, "set"));
  CHECK(e.word.begin == text.size() - 2);
  CHECK(e.word.end == text.size());
}

TEST_CASE("expect: the words after a keyword") {
  CHECK(at_bar("journey j {\n  entry |").words ==
        std::vector<std::string>{"at", "every", "on", "when"});
  CHECK(at_bar("journey j {\n  reentry |").words ==
        std::vector<std::string>{"after", "always", "never"});
  CHECK(at_bar("journey j {\n  entry on a\n  wait |").words ==
        std::vector<std::string>{"until", "up"});
  CHECK(has(at_bar("journey j {\n  entry every |").words, "monday"));
  CHECK(has(at_bar("journey j {\n  entry every |").words, "day"));
  CHECK(has(at_bar("journey j {\n  entry every |").words, "year"));
  CHECK(has(at_bar("journey j {\n  entry on a\n  wait until |").words, "weekdays"));
  CHECK(has(at_bar("journey j {\n  entry on a\n  wait until |").words, "monday"));
  CHECK(has(at_bar("journey j {\n  entry on a\n  send email \"x\" |").words, "with"));
  CHECK(has(at_bar("journey j {\n  entry on a |").words, "where"));
}

TEST_CASE("expect: the kind of name a place takes") {
  CHECK(at_bar("journey j {\n  entry on a\n  send |").channel);
  CHECK(at_bar("journey j {\n  entry on |").event);
  CHECK(at_bar("journey j {\n  entry on a\n  emit |").event);
  CHECK(at_bar("segment s = count(|").event);
  CHECK(at_bar("segment s = customer is |").segment);
  const Expected go = at_bar("journey j {\n  entry on a\n  x: wait 1d\n  goto |");
  CHECK(go.label);
  CHECK(go.journey == "j");
  CHECK_FALSE(at_bar("journey j {\n  entry on a\n  send email \"we|").channel);  // in a string
  CHECK(at_bar("journey j {\n  entry on a # |").words.empty());                  // in a comment
}

TEST_CASE("expect: expression words where an expression starts") {
  const Expected e = at_bar("segment s = |");
  for (const char* w : {"customer", "count", "sum", "since", "last", "has", "not", "now", "true"})
    CHECK(has(e.words, w));
  CHECK_FALSE(has(e.words, "send"));
  CHECK(has(at_bar("segment s = customer |").words, "is"));
}

TEST_CASE("expect: property paths and the events that fit them") {
  const Expected c = at_bar("segment s = customer.consent.|");
  CHECK(c.path == PathRoot::Customer);
  CHECK(c.path_prefix == std::vector<std::string>{"consent"});

  const Expected entry = at_bar("journey j {\n  entry on order_completed where event.|");
  CHECK(entry.path == PathRoot::Event);
  CHECK(entry.path_events == std::vector<std::string>{"order_completed"});

  // In the steps: the journey's entry events; in an aggregate's where: the aggregated event.
  const Expected step = at_bar(
      "journey j {\n  entry on signup\n  entry on \"Sign Up\"\n  send email \"x\" with { a: "
      "event.|");
  CHECK(step.path_events == std::vector<std::string>{"signup", "Sign Up"});
  const Expected agg =
      at_bar("journey j {\n  entry on signup\n  if count(order_completed where event.| ");
  CHECK(agg.path_events == std::vector<std::string>{"order_completed"});
  const Expected branch = at_bar(
      "journey j {\n  entry on signup\n  wait up to 1d {\n    on click { send email \"x\" with { "
      "a: event.| } }\n  }\n}\n");
  CHECK(branch.path_events == std::vector<std::string>{"click"});

  const Expected trig = at_bar("journey j {\n  entry on signup\n  set customer.x = trigger.|");
  CHECK(trig.path == PathRoot::Trigger);
  CHECK(trig.path_events == std::vector<std::string>{"signup"});

  const Expected last = at_bar("segment s = last(order_completed).|");
  CHECK(last.path == PathRoot::Named);
  CHECK(last.path_events == std::vector<std::string>{"order_completed"});
  const Expected sum = at_bar("segment s = sum(order_completed.|");
  CHECK(sum.path == PathRoot::Named);
  CHECK(sum.path_events == std::vector<std::string>{"order_completed"});
}

TEST_CASE("expect: deep nesting is bounded, not a crash") {
  const std::string deep = "segment s = " + std::string(100000, '(') + "|";
  const Expected e = at_bar(deep);
  CHECK(e.words.empty());
}

TEST_CASE("expect: the language's words come from the grammar") {
  CHECK(reserved_words().size() == 46);
  CHECK(has(reserved_words(), "untag"));
  CHECK(has(contextual_words(), "where"));
  CHECK(has(contextual_words(), "sunday"));
  CHECK(is_keyword("wait"));
  CHECK_FALSE(is_keyword("waiting"));
  CHECK(is_name("order_completed"));
  CHECK_FALSE(is_name("exit"));
  CHECK_FALSE(is_name("two words"));
  CHECK_FALSE(is_name("9lives"));
  CHECK_FALSE(is_name(""));
}
