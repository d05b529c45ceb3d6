// `journey fmt` run as the real binary on files in a temporary folder.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

/// Runs `journey ARGS` in `dir`, capturing stdout, stderr and the exit code.
Outcome run_in(const fs::path& dir, const std::string& args) {
  const std::string cmd = "cd '" + dir.string() + "' && '" + JOURNEY_BINARY + "' " + args + " >out.txt 2>err.txt";
  const int status = std::system(cmd.c_str());
  Outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = slurp(dir / "out.txt");
  o.err = slurp(dir / "err.txt");
  fs::remove(dir / "out.txt");
  fs::remove(dir / "err.txt");
  return o;
}

/// A fresh empty folder for one test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("journey-fmt-cli-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const char* const kMessy = "journey j {\n    entry on signup\n  send email \"a\" ;wait 1d\n}\n";
const char* const kTidy = "journey j {\n  entry on signup\n\n  send email \"a\"\n  wait 1d\n}\n";

}  // namespace

TEST_CASE("fmt cli: --check lists the files that would change and changes nothing", "[cli][fmt]") {
  const fs::path dir = scratch("check");
  write(dir / "flows" / "messy.journey", kMessy);
  write(dir / "flows" / "deeper" / "tidy.journey", kTidy);
  write(dir / "flows" / "notes.txt", "not a journey");

  Outcome o = run_in(dir, "fmt --check flows");
  CHECK(o.code == 1);
  CHECK(o.out == "flows/messy.journey\n");
  CHECK(o.err.empty());
  CHECK(slurp(dir / "flows" / "messy.journey") == kMessy);

  o = run_in(dir, "fmt --check flows/deeper/tidy.journey");
  CHECK(o.code == 0);
  CHECK(o.out.empty());
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: without --check rewrites files in place", "[cli][fmt]") {
  const fs::path dir = scratch("write");
  write(dir / "a.journey", kMessy);
  Outcome o = run_in(dir, "fmt .");
  CHECK(o.code == 0);
  CHECK(slurp(dir / "a.journey") == kTidy);
  o = run_in(dir, "fmt --check a.journey");
  CHECK(o.code == 0);
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: a file with syntax errors is reported and left alone", "[cli][fmt]") {
  const fs::path dir = scratch("errors");
  const std::string bad = "journey j {\n  entry on a\n  sned email \"x\"\n}\n";
  write(dir / "bad.journey", bad);
  write(dir / "good.journey", kMessy);
  const Outcome o = run_in(dir, "fmt bad.journey good.journey");
  CHECK(o.code == 1);
  CHECK(o.err ==
        "bad.journey:3:3: error[E001]: expected a step (send, wait, if, split, set, tag, untag, emit, goto, exit), "
        "found `sned`\n");
  CHECK(slurp(dir / "bad.journey") == bad);
  CHECK(slurp(dir / "good.journey") == kTidy);
  fs::remove_all(dir);
}

TEST_CASE("fmt cli: usage and missing paths exit 2", "[cli][fmt]") {
  const fs::path dir = scratch("usage");
  Outcome o = run_in(dir, "fmt");
  CHECK(o.code == 2);
  CHECK_FALSE(o.err.empty());
  o = run_in(dir, "fmt --check does-not-exist.journey");
  CHECK(o.code == 2);
  CHECK(o.err == "journey fmt: does-not-exist.journey: no such file or folder\n");
  fs::remove_all(dir);
}
