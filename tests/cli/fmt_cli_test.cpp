// `journey fmt` run as the real binary on files in a temporary folder.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "cli_support.hpp"

namespace fs = std::filesystem;

using namespace journey::test;

namespace {

const char* const kMessy = "journey j {\n    entry on signup\n  send email \"a\" ;wait 1d\n}\n";
const char* const kTidy = "journey j {\n  entry on signup\n\n  send email \"a\"\n  wait 1d\n}\n";

}  // namespace

TEST_CASE("fmt cli: --check lists the files that would change and changes nothing", "[cli][fmt]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  write_file(dir / "flows" / "messy.journey", kMessy);
  write_file(dir / "flows" / "deeper" / "tidy.journey", kTidy);
  write_file(dir / "flows" / "notes.txt", "not a journey");

  RunResult o = run_journey(dir, "fmt --check flows");
  CHECK(o.code == 1);
  CHECK(o.out == "flows/messy.journey\n");
  CHECK(o.err.empty());
  CHECK(slurp(dir / "flows" / "messy.journey") == kMessy);

  o = run_journey(dir, "fmt --check flows/deeper/tidy.journey");
  CHECK(o.code == 0);
  CHECK(o.out.empty());
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: without --check rewrites files in place", "[cli][fmt]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  write_file(dir / "a.journey", kMessy);
  RunResult o = run_journey(dir, "fmt .");
  CHECK(o.code == 0);
  CHECK(slurp(dir / "a.journey") == kTidy);
  o = run_journey(dir, "fmt --check a.journey");
  CHECK(o.code == 0);
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: a file with syntax errors is reported and left alone", "[cli][fmt]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  const std::string bad = "journey j {\n  entry on a\n  sned email \"x\"\n}\n";
  write_file(dir / "bad.journey", bad);
  write_file(dir / "good.journey", kMessy);
  const RunResult o = run_journey(dir, "fmt bad.journey good.journey");
  CHECK(o.code == 1);
  CHECK(o.err ==
        "bad.journey:3:3: error[E001]: expected a step (send, wait, if, split, set, tag, untag, "
        "emit, goto, exit), "
        "found `sned`\n");
  CHECK(slurp(dir / "bad.journey") == bad);
  CHECK(slurp(dir / "good.journey") == kTidy);
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: usage and missing paths exit 2", "[cli][fmt]") {
  const TempDir tmp;
  const fs::path& dir = tmp.path;
  RunResult o = run_journey(dir, "fmt");
  CHECK(o.code == 2);
  CHECK_FALSE(o.err.empty());
  o = run_journey(dir, "fmt --check does-not-exist.journey");
  CHECK(o.code == 2);
  CHECK(o.err == "journey fmt: does-not-exist.journey: no such file or folder\n");
  fs::remove_all(dir);
}
