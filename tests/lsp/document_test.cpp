// Documents in LSP's terms (runtime/lsp/document.hpp): UTF-16 columns to byte offsets and back,
// and incremental edits.
#include "runtime/lsp/document.hpp"

#include <random>

#include <catch2/catch.hpp>

using journey::lsp::Document;
using journey::lsp::Position;

TEST_CASE("document: columns count UTF-16 code units") {
  // a (1 byte, 1 unit), é (2 bytes, 1 unit), 中 (3 bytes, 1 unit), 😀 (4 bytes, 2 units)
  const Document doc("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80z\nnext");
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> columns_offsets = {
      {0, 0}, {1, 1}, {2, 3}, {3, 6}, {5, 10}, {6, 11}};
  for (const auto& [column, offset] : columns_offsets) {
    INFO(column);
    CHECK(doc.offset({0, column}) == offset);
    CHECK(doc.position(offset) == Position{0, column});
  }
  CHECK(doc.offset({0, 4}) == 6);            // inside the surrogate pair: the character's start
  CHECK(doc.position(8) == Position{0, 3});  // inside a character's bytes: its start
  CHECK(doc.offset({1, 2}) == 14);
  CHECK(doc.position(14) == Position{1, 2});
}

TEST_CASE("document: positions past a line or the text are clamped") {
  const Document doc("ab\r\ncd");
  CHECK(doc.offset({0, 99}) == 2);  // the end of the line, before \r\n
  CHECK(doc.offset({7, 0}) == 6);   // past the last line: the end of the text
  CHECK(doc.position(3) == Position{0, 2});
  CHECK(doc.position(99) == Position{1, 2});
  CHECK(doc.end() == Position{1, 2});
}

TEST_CASE("document: incremental edits") {
  Document doc("journey a {\n  entry on x\n}\n");
  doc.replace({1, 11}, {1, 12}, "signup");  // replace `x`
  CHECK(doc.text() == "journey a {\n  entry on signup\n}\n");
  doc.replace({1, 17}, {1, 17}, "\n  send email \"w\"");  // insert a line
  CHECK(doc.text() == "journey a {\n  entry on signup\n  send email \"w\"\n}\n");
  doc.replace({0, 8}, {2, 0}, "b {\n");  // delete across lines
  CHECK(doc.text() == "journey b {\n  send email \"w\"\n}\n");
  CHECK(doc.offset({2, 0}) == 29);
  doc.replace({2, 1}, {0, 0}, "");  // ends given in reverse order still mean that range
  CHECK(doc.text() == "\n");
}

TEST_CASE("document: offsets and positions agree for random text and edits") {
  std::mt19937 random(7);
  const std::vector<std::string> pieces = {"a", "\n", "\xC3\xA9", "\xF0\x9F\x98\x80", " ", "\r\n"};
  std::string reference;
  Document doc;
  for (int round = 0; round < 300; ++round) {
    std::string insert;
    for (int i = random() % 4; i > 0; --i) insert += pieces[random() % pieces.size()];
    // Pick a place at a character boundary, through a position, and edit both texts.
    const std::uint32_t at = doc.offset(doc.position(random() % (doc.text().size() + 1)));
    const Position p = doc.position(at);
    REQUIRE(doc.offset(p) == at);
    reference.insert(at, insert);
    doc.replace(p, p, insert);
    REQUIRE(doc.text() == reference);
  }
}
