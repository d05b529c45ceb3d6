// libFuzzer target: the parser never crashes, hangs or recurses without bound on any input, and
// on input without syntax errors the formatter keeps the tree and is idempotent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dsl/fmt.hpp"
#include "dsl/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace journey::dsl;
  const SourceFile file("fuzz.journey", std::string(reinterpret_cast<const char*>(data), size));
  const ParseResult parsed = parse(file);
  for (const auto& d : parsed.diagnostics) {
    if (d.span.begin > file.text().size() || d.span.end > file.text().size() ||
        d.span.begin > d.span.end)
      std::abort();
  }
  if (!parsed.diagnostics.empty()) return 0;
  const std::string once = format(file, parsed.module);
  const SourceFile formatted("fuzz.journey", once);
  const ParseResult again = parse(formatted);
  if (!again.diagnostics.empty()) std::abort();
  // A repeated once-only clause keeps only its last value in the tree; `journey fmt` refuses it.
  for (const auto& j : parsed.module.journeys) {
    for (std::size_t i = 0; i < j.once_clauses.size(); ++i) {
      for (std::size_t k = 0; k < i; ++k) {
        if (j.once_clauses[i].keyword == j.once_clauses[k].keyword) return 0;
      }
    }
  }
  if (!same_tree(parsed.module, again.module)) std::abort();
  if (format(formatted, again.module) != once) std::abort();
  return 0;
}
