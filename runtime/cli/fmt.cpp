// `journey fmt [--check] PATH...`: rewrite journey files in the canonical layout.
#include "dsl/fmt.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/cli/command.hpp"

namespace journey::cli {

namespace {

namespace fs = std::filesystem;

struct FmtArgs {
  std::vector<std::string> paths;
  bool check = false;
};

/// The .journey files named by `path`: the file itself, or every *.journey below a folder,
/// sorted so that the output does not depend on the file system's order.
bool collect(const std::string& path, std::vector<std::string>& files) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    std::cerr << "journey fmt: " << path << ": no such file or folder\n";
    return false;
  }
  if (!fs::is_directory(status)) {
    files.push_back(path);
    return true;
  }
  std::vector<std::string> found;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".journey")
      found.push_back(it->path().string());
  }
  if (ec) {
    std::cerr << "journey fmt: " << path << ": " << ec.message() << "\n";
    return false;
  }
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return true;
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  text = ss.str();
  return true;
}

int run_fmt(const FmtArgs& args) {
  if (args.paths.empty()) {
    std::cerr << "journey fmt: no paths given (usage: journey fmt [--check] PATH...)\n";
    return kExitUsage;
  }
  std::vector<std::string> files;
  for (const auto& p : args.paths) {
    if (!collect(p, files)) return kExitUsage;
  }
  bool io_error = false;
  bool findings = false;
  for (const auto& path : files) {
    std::string text;
    if (!read_file(path, text)) {
      std::cerr << "journey fmt: " << path << ": cannot read the file\n";
      io_error = true;
      continue;
    }
    const dsl::SourceFile file(path, text);
    const dsl::Formatted formatted = dsl::format_source(file);
    if (!formatted.text) {
      for (const auto& d : formatted.problems) {
        const dsl::LineCol at = file.locate(d.span.begin);
        std::cerr << path << ":" << at.line << ":" << at.column << ": error[" << d.code
                  << "]: " << d.message << "\n";
      }
      findings = true;
      continue;
    }
    if (*formatted.text == text) continue;
    if (args.check) {
      std::cout << path << "\n";
      findings = true;
      continue;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << *formatted.text;
    out.close();
    if (!out) {
      std::cerr << "journey fmt: " << path << ": cannot write the file\n";
      io_error = true;
    }
  }
  if (io_error) return kExitUsage;
  return findings ? kExitFindings : kExitOk;
}

}  // namespace

void add_fmt(CLI::App& app, Run& run) {
  auto args = std::make_shared<FmtArgs>();
  auto* sub = app.add_subcommand("fmt", "Rewrite journey files in the canonical layout");
  sub->add_option("paths", args->paths, "Files or folders (folders are searched for *.journey)");
  sub->add_flag("--check", args->check,
                "Change nothing; list the files that would change and exit 1 if any");
  sub->callback([&run, args] { run = [args] { return run_fmt(*args); }; });
}

}  // namespace journey::cli
