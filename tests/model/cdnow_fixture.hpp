// The CDNOW sample of tests/data/cdnow as NDJSON events, converted by the checked-in
// tests/data/cdnow/to_ndjson.sh at test time (only the original text file is kept).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace journey::test {

/// Writes `dir`/cdnow.ndjson (6,919 `order_completed` events) and returns its path; empty when
/// the conversion failed.
inline std::filesystem::path write_cdnow_events(const std::filesystem::path& dir) {
  const auto out = dir / "cdnow.ndjson";
  const std::string command =
      "sh '" JOURNEY_TESTS_DIR "/data/cdnow/to_ndjson.sh' > '" + out.string() + "'";
  if (std::system(command.c_str()) != 0) return {};
  return out;
}

}  // namespace journey::test
