#include "dsl/workspace.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "dsl/parser.hpp"

namespace journey::dsl {

namespace {

namespace fs = std::filesystem;

Diagnostic unreadable(const std::string& path, const std::string& reason) {
  Diagnostic d;
  d.severity = Severity::Error;
  d.code = "E000";
  d.file = path;
  d.message = "cannot read `" + path + "`: " + reason;
  return d;
}

/// Reads a whole file; on failure returns nothing and sets `reason`.
std::optional<std::string> read_file(const std::string& path, std::string& reason) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reason = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    reason = "read failed";
    return std::nullopt;
  }
  return std::move(text).str();
}

void add_file(Workspace& ws, const std::string& path) {
  if (ws.find_file(path) != nullptr) return;  // the same path given twice is loaded once
  std::string reason;
  auto text = read_file(path, reason);
  if (!text) {
    ws.diagnostics.push_back(unreadable(path, reason));
    return;
  }
  add_source(ws, path, std::move(*text));
}

}  // namespace

bool Workspace::has_errors() const {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

const SourceFile* Workspace::find_file(const std::string& path) const {
  for (const auto& f : files) {
    if (f.source->path() == path) return f.source.get();
  }
  return nullptr;
}

ParsedFile parse_source(std::string path, std::string text) {
  ParsedFile out;
  out.file.source = std::make_unique<SourceFile>(std::move(path), std::move(text));
  ParseResult parsed = parse(*out.file.source);
  out.file.module = std::move(parsed.module);
  for (auto& d : parsed.diagnostics) {
    if (out.syntax.size() >= kMaxDiagnosticsPerFile) break;
    if (d.file.empty()) d.file = out.file.source->path();
    out.syntax.push_back(std::move(d));
  }
  return out;
}

void add_source(Workspace& ws, std::string path, std::string text) {
  ParsedFile parsed = parse_source(std::move(path), std::move(text));
  for (auto& d : parsed.syntax) ws.diagnostics.push_back(std::move(d));
  ws.files.push_back(std::move(parsed.file));
}

void add_paths(Workspace& ws, const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || status.type() == fs::file_type::not_found) {
      ws.diagnostics.push_back(
          unreadable(path, ec ? ec.message() : std::string("No such file or directory")));
      continue;
    }
    if (!fs::is_directory(status)) {
      add_file(ws, path);
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(path, fs::directory_options::none, ec);
    if (ec) {
      ws.diagnostics.push_back(unreadable(path, ec.message()));
      continue;
    }
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
      if (ec) break;
      std::error_code entry_ec;
      if (it->is_regular_file(entry_ec) && it->path().extension() == ".journey") {
        found.push_back(it->path().generic_string());
      }
    }
    if (ec) {
      ws.diagnostics.push_back(unreadable(path, ec.message()));
    }
    std::sort(found.begin(), found.end());
    for (const auto& file : found) add_file(ws, file);
  }
}

}  // namespace journey::dsl
