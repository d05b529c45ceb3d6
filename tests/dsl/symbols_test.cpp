// The names written in a file (dsl/symbols.hpp): where each is, what it names, declarations.
#include "dsl/symbols.hpp"

#include <catch2/catch.hpp>

#include "dsl/parser.hpp"

using namespace journey::dsl;

namespace {

const std::string kText = R"(segment buyer = count(order_completed) >= 1
segment vip = customer is buyer and customer.tier == "gold"
journey welcome {
  entry on signup
  goal first: order_completed within 7d
  remind: send email "hi"
  wait up to 1d {
    on "Email Opened" { goto remind }
  }
  set customer.consent.email = true
}
)";

std::string text_at(const Symbol& s) {
  return kText.substr(s.span.begin, s.span.end - s.span.begin);
}

}  // namespace

TEST_CASE("symbols: every name, in source order, with its span and kind") {
  const SourceFile file("t.journey", kText);
  const auto parsed = parse(file);
  REQUIRE(parsed.diagnostics.empty());
  const auto all = symbols(parsed.module);
  std::vector<std::string> seen;
  for (const auto& s : all) {
    seen.push_back(std::to_string(static_cast<int>(s.kind)) + (s.declaration ? "+" : " ") +
                   text_at(s) + "=" + s.name + "@" + s.journey);
  }
  CHECK(seen == std::vector<std::string>{
                    "1+buyer=buyer@", "5 order_completed=order_completed@", "1+vip=vip@",
                    "1 buyer=buyer@", "7 customer.tier=tier@", "0+welcome=welcome@welcome",
                    "5 signup=signup@welcome", "3+first=first@welcome",
                    "5 order_completed=order_completed@welcome", "2+remind=remind@welcome",
                    "6 email=email@welcome", "5 \"Email Opened\"=Email Opened@welcome",
                    "2 remind=remind@welcome", "7 customer.consent.email=consent.email@welcome"});
}

TEST_CASE("symbols: the symbol at an offset, and which symbols name the same thing") {
  const SourceFile file("t.journey", kText);
  const auto all = symbols(parse(file).module);
  const auto goto_at = static_cast<std::uint32_t>(kText.find("goto remind") + 5);
  const Symbol* ref = symbol_at(all, goto_at);
  REQUIRE(ref != nullptr);
  CHECK(ref->kind == SymbolKind::Label);
  CHECK_FALSE(ref->declaration);
  // Just after the name still finds it (a cursor at the end of a word).
  CHECK(symbol_at(all, goto_at + 6) == ref);
  CHECK(symbol_at(all, static_cast<std::uint32_t>(kText.find("wait up"))) == nullptr);
  int same = 0;
  for (const auto& s : all) same += same_target(s, *ref) ? 1 : 0;
  CHECK(same == 2);
  Symbol other = *ref;
  other.journey = "another";
  CHECK_FALSE(same_target(other, *ref));  // labels are local to their journey
}
