// Replays fuzz inputs without libFuzzer: calls LLVMFuzzerTestOneInput on every regular file of the
// directories (or files) given on the command line, in name order, and prints how many ran. A
// target that finds a bug aborts, which fails the CTest test that runs this. Files named
// .gitkeep or README* are not inputs and are skipped.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::string current;  // the input being run, named when it crashes

void on_crash(int signal) {
  const std::string line = "replay: crashed on " + current + "\n";
  if (::write(2, line.data(), line.size()) < 0) {
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

bool is_input(const fs::path& path) {
  const std::string name = path.filename().string();
  return name != ".gitkeep" && name.rfind("README", 0) != 0;
}

bool read_all(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      for (const auto& entry : fs::directory_iterator(arg, ec)) {
        if (entry.is_regular_file() && is_input(entry.path())) inputs.push_back(entry.path());
      }
      if (ec) {
        std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
        return 2;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      inputs.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, on_crash);
  std::size_t bytes = 0;
  for (const auto& path : inputs) {
    std::string data;
    if (!read_all(path, data)) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.string().c_str());
      return 2;
    }
    bytes += data.size();
    current = path.string();
    // A copy of exactly the input's size, so that reads past its end are caught under ASan.
    std::vector<std::uint8_t> copy(data.begin(), data.end());
    static std::uint8_t none = 0;
    LLVMFuzzerTestOneInput(copy.empty() ? &none : copy.data(), copy.size());
  }
  std::printf("replayed %zu inputs (%zu bytes)\n", inputs.size(), bytes);
  return 0;
}
