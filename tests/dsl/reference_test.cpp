// The words' help from the built-in language reference (dsl/reference.hpp).
#include "dsl/reference.hpp"

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "dsl/expect.hpp"

using namespace journey::dsl;

TEST_CASE("reference: the built-in text is docs/language.md") {
  std::ifstream in(std::string(JOURNEY_SOURCE_DIR) + "/docs/language.md", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  CHECK(language_reference() == text.str());
}

TEST_CASE("reference: every word of the language has help") {
  for (const auto& words : {reserved_words(), contextual_words()}) {
    for (const auto& w : words) {
      INFO(w);
      CHECK_FALSE(word_help(w).empty());
    }
  }
  CHECK(word_help("frobnicate").empty());
}

TEST_CASE("reference: help is the construct's opening text and first example") {
  const std::string send = word_help("send");
  // Two constructs start with `send`: the step and the `send window` header clause.
  CHECK(send.find("**`send CHANNEL STRING [with OBJECT]`**\n\nEmits an action") !=
        std::string::npos);
  CHECK(send.find("**`send window DAYS HH:MM-HH:MM [except holidays]`**") != std::string::npos);
  CHECK(send.find("```journey\nreminder_1: send email") != std::string::npos);
  // Three constructs start with `wait`.
  const std::string wait = word_help("wait");
  CHECK(wait.find("`wait DURATION`") != std::string::npos);
  CHECK(wait.find("`wait until HH:MM`") != std::string::npos);
  CHECK(wait.find("`wait up to DURATION") != std::string::npos);
  // A function: its row of the table of forms.
  const std::string count = word_help("count");
  CHECK(count.find("`count(EVENT [where EXPR] [within DURATION])`") != std::string::npos);
  CHECK(count.find("how many such events") != std::string::npos);
  CHECK(word_help("monday").find("entry every WEEKDAY") != std::string::npos);
  // The calendar clauses and function.
  CHECK(word_help("year").find("entry every year on customer.PATH") != std::string::npos);
  CHECK(word_help("offset").find("entry on date customer.PATH") != std::string::npos);
  CHECK(word_help("is_holiday").find("holiday calendar") != std::string::npos);
}
