// What the CLI tests share: temporary folders, small file helpers, and running the real
// `journey` binary (JOURNEY_BINARY) in a folder with its output and exit code captured.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace journey::test {

namespace fs = std::filesystem;

/// A whole file's bytes; empty when it cannot be read.
inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Writes `text` to `path`, creating the folders above it.
inline void write_file(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// A fresh empty folder under the system temp folder, unique to this process and `tag`; the
/// caller removes it (TempDir does).
inline fs::path fresh_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const fs::path dir =
      fs::temp_directory_path() /
      ("journey-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// A fresh folder for one test, removed at the end.
struct TempDir {
  fs::path path = fresh_dir("tmp");
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& relative, const std::string& text) const {
    write_file(path / relative, text);
  }
};

/// What one run of the binary printed, and its exit code (-1 when it did not exit normally).
struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs `journey ARGS` (ARGS as a shell would split them) with `dir` as the working folder.
inline RunResult run_journey(const fs::path& dir, const std::string& args) {
  const fs::path capture = fresh_dir("capture");
  const std::string command = "cd '" + dir.string() + "' && '" JOURNEY_BINARY "' " + args + " >'" +
                              (capture / "out").string() + "' 2>'" + (capture / "err").string() +
                              "'";
  const int status = std::system(command.c_str());
  RunResult result;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(capture / "out");
  result.err = slurp(capture / "err");
  fs::remove_all(capture);
  return result;
}

}  // namespace journey::test
