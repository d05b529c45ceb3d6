// `dsl::format`: golden files, and two laws over every journey file in the repository:
// fmt(fmt(x)) == fmt(x), and fmt(x) parses to the same tree as x.
#include "dsl/fmt.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "dsl/parser.hpp"

using namespace journey::dsl;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> journey_files_under(const fs::path& root) {
  std::vector<fs::path> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().extension() == ".journey") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string fmt_text(const std::string& path, const std::string& text) {
  const SourceFile file(path, text);
  const ParseResult r = parse(file);
  REQUIRE(r.diagnostics.empty());
  return format(file, r.module);
}

/// A once-only header clause written twice: the tree keeps one, so fmt cannot keep both.
bool repeats_a_clause(const Module& m) {
  for (const auto& j : m.journeys) {
    for (std::size_t i = 0; i < j.once_clauses.size(); ++i) {
      for (std::size_t k = 0; k < i; ++k) {
        if (j.once_clauses[i].keyword == j.once_clauses[k].keyword) return true;
      }
    }
  }
  return false;
}

}  // namespace

TEST_CASE("fmt: golden files", "[fmt]") {
  const fs::path dir = fs::path(JOURNEY_TESTS_DIR) / "golden" / "fmt";
  const auto inputs = journey_files_under(dir);
  REQUIRE(inputs.size() >= 5);
  for (const auto& in : inputs) {
    fs::path expected = in;
    expected.replace_extension(".expected");
    SECTION(in.filename().string()) {
      REQUIRE(fs::exists(expected));
      const std::string got = fmt_text(in.string(), read(in));
      if (std::getenv("JOURNEY_UPDATE_GOLDEN") != nullptr)
        std::ofstream(expected, std::ios::binary) << got;
      CHECK(got == read(expected));
    }
  }
}

TEST_CASE("fmt: idempotent and tree-preserving on every journey file in the repository", "[fmt]") {
  std::vector<fs::path> files;
  for (const char* sub : {"tests", "stdlib-journeys", "examples"}) {
    const auto found = journey_files_under(fs::path(JOURNEY_SOURCE_DIR) / sub);
    files.insert(files.end(), found.begin(), found.end());
  }
  REQUIRE_FALSE(files.empty());
  std::size_t checked = 0;
  for (const auto& path : files) {
    const std::string text = read(path);
    const SourceFile file(path.string(), text);
    const ParseResult original = parse(file);
    if (!original.diagnostics.empty()) continue;      // syntax-error goldens
    if (repeats_a_clause(original.module)) continue;  // `journey fmt` refuses these (E117)
    INFO(path.string());
    const std::string once = format(file, original.module);
    const SourceFile formatted(path.string(), once);
    const ParseResult again = parse(formatted);
    REQUIRE(again.diagnostics.empty());
    CHECK(same_tree(original.module, again.module));
    CHECK(format(formatted, again.module) == once);
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("fmt: same_tree ignores spans but not content", "[fmt]") {
  const auto a = parse(SourceFile("a", "segment s = customer.a == 1\n")).module;
  const auto b = parse(SourceFile("b", "\n\nsegment   s=customer.a==1\n")).module;
  const auto c = parse(SourceFile("c", "segment s = customer.a == 2\n")).module;
  CHECK(same_tree(a, b));
  CHECK_FALSE(same_tree(a, c));
  CHECK_FALSE(a == b);
}

TEST_CASE("fmt: parentheses are kept only where they are needed", "[fmt]") {
  const auto f = [](const std::string& expr) {
    const std::string out = fmt_text("t", "segment s = " + expr + "\n");
    return out.substr(12, out.size() - 13);
  };
  CHECK(f("(customer.a or customer.b) and customer.c") ==
        "(customer.a or customer.b) and customer.c");
  CHECK(f("customer.a or (customer.b and customer.c)") ==
        "customer.a or customer.b and customer.c");
  CHECK(f("((1 - 2) - 3) == 1 - (2 - 3)") == "1 - 2 - 3 == 1 - (2 - 3)");
  CHECK(f("not (customer.a == 1)") == "not customer.a == 1");
  CHECK(f("(not customer.a) == true") == "(not customer.a) == true");
  CHECK(f("-(1 + 2) * 3 > - -4") == "-(1 + 2) * 3 > --4");
  CHECK(f("(1 < 2) == true") == "(1 < 2) == true");
  CHECK(f("since(x) >= 36h and count(\"a b\" within 2w) > 0.50") ==
        "since(x) >= 1d12h and count(\"a b\" within 14d) > 0.5");
  CHECK(f("(p_alive ( ) < 0.3) and expected_orders( 2w ) * (predicted_value(36h) + 1) >= 1") ==
        "p_alive() < 0.3 and expected_orders(14d) * (predicted_value(1d12h) + 1) >= 1");
}

TEST_CASE("fmt: comments stay where they were", "[fmt]") {
  const std::string in =
      "# top\n"
      "journey j { # opens\n"
      "  cap 1 per 1d # the cap\n"
      "  # about entry\n"
      "  entry on a\n"
      "  # before the first step\n"
      "  send email \"x\" # trailing\n"
      "\n"
      "  # a group\n"
      "  wait 1d\n"
      "  if customer.a { # why\n"
      "    exit # done\n"
      "    # end of block\n"
      "  }\n"
      "  # last\n"
      "}\n"
      "# end\n";
  const std::string want =
      "# top\n"
      "journey j { # opens\n"
      "  # about entry\n"
      "  entry on a\n"
      "  cap 1 per 1d # the cap\n"
      "\n"
      "  # before the first step\n"
      "  send email \"x\" # trailing\n"
      "\n"
      "  # a group\n"
      "  wait 1d\n"
      "  if customer.a { # why\n"
      "    exit # done\n"
      "    # end of block\n"
      "  }\n"
      "  # last\n"
      "}\n"
      "# end\n";
  CHECK(fmt_text("t", in) == want);
  CHECK(fmt_text("t", want) == want);
}
