// The example of spec section 1, read from its one copy in the tests
// (tests/scenarios/spec_example/journeys.journey, which the spec_example scenario also runs).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace journey::test {

/// The text of the spec's section 1 example.
inline const std::string& spec_example() {
  static const std::string text = [] {
    std::ifstream in(JOURNEY_TESTS_DIR "/scenarios/spec_example/journeys.journey",
                     std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }();
  return text;
}

}  // namespace journey::test
