// The "did you mean" helper shared by the parser and the checks.
#include <catch2/catch.hpp>

#include "dsl/suggest.hpp"

using namespace journey::dsl;

TEST_CASE("suggest: edit distance counts edits and adjacent swaps", "[suggest]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("send", "send") == 0);
  CHECK(edit_distance("sned", "send") == 1);   // swap
  CHECK(edit_distance("sen", "send") == 1);    // insertion
  CHECK(edit_distance("sendd", "send") == 1);  // deletion
  CHECK(edit_distance("sand", "send") == 1);   // substitution
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("Send", "send") == 0);  // case-insensitive
}

TEST_CASE("suggest: the closest plausible candidate, or nothing", "[suggest]") {
  const std::vector<std::string> steps = {"send", "wait",  "if",   "split", "set",
                                          "tag",  "untag", "emit", "goto",  "exit"};
  CHECK(suggest("sned", steps) == std::optional<std::string>("send"));
  CHECK(suggest("wiat", steps) == std::optional<std::string>("wait"));
  CHECK(suggest("untga", steps) == std::optional<std::string>("untag"));
  CHECK_FALSE(suggest("banana", steps));
  CHECK_FALSE(suggest("send", steps));  // an exact match is not a misspelling
  CHECK_FALSE(suggest("", steps));
  CHECK_FALSE(suggest("x", {"y"}));  // one letter is never "close"
  // Ties go to the first candidate listed.
  CHECK(suggest("sat", {"set", "sit"}) == std::optional<std::string>("set"));
  const std::vector<std::string> events = {"order_completed", "order_cancelled", "signup"};
  CHECK(suggest("order_complted", events) == std::optional<std::string>("order_completed"));
  CHECK(suggest("ordr_cancelld", events) == std::optional<std::string>("order_cancelled"));
}
