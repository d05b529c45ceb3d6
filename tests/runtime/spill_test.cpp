// Spill: records come back in the order they went in, from memory and from the temporary file.
#include "runtime/sim/spill.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using journey::runtime::Spill;

namespace {

std::vector<std::string> records(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(std::string(i % 97, static_cast<char>('a' + i % 26)) + std::to_string(i));
  out.push_back("");                         // an empty record
  out.push_back(std::string(3 << 20, 'z'));  // a record larger than a read block
  out.push_back("last");
  return out;
}

}  // namespace

TEST_CASE("spill keeps order across memory and disk", "[spill]") {
  const auto want = records(5000);
  for (const std::size_t limit : {std::size_t{0}, std::size_t{1000}, std::size_t{1} << 30}) {
    INFO("memory limit " << limit);
    Spill spill(limit);
    for (const auto& r : want) spill.add(r);
    CHECK(spill.size() == want.size());
    std::vector<std::string> got;
    spill.read([&got](std::string_view r) { got.emplace_back(r); });
    CHECK(got == want);
    // Two cursors read independently, with a small block.
    Spill::Cursor a(spill, 64);
    Spill::Cursor b(spill, 64);
    std::string_view ra;
    std::string_view rb;
    std::size_t i = 0;
    while (a.next(ra)) {
      REQUIRE(b.next(rb));
      REQUIRE(ra == want[i]);
      REQUIRE(rb == want[i]);
      ++i;
    }
    CHECK(i == want.size());
    CHECK_FALSE(b.next(rb));
  }
}
