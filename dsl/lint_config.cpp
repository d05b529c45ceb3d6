#include "dsl/lint_config.hpp"

#include <filesystem>
#include <system_error>

#include <toml++/toml.h>

#include "dsl/plan.hpp"

namespace journey::dsl {

namespace {

namespace fs = std::filesystem;

std::string where(const std::string& path, const toml::source_region& source) {
  return path + ":" + std::to_string(source.begin.line) + ":" + std::to_string(source.begin.column);
}

}  // namespace

LintConfig read_lint_config(const std::string& path) {
  LintConfig out;
  out.path = path;
  toml::table top;
  try {
    top = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    out.error = path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                ": invalid TOML: " + std::string(e.description());
    return out;
  }
  if (const toml::node* topics = top.get("topics")) {
    if (!topics->is_table()) {
      out.error = where(path, topics->source()) + ": `topics` must be a table";
      return out;
    }
    for (auto&& [name, value] : *topics->as_table()) out.options.topics.emplace_back(name.str());
  }
  const toml::node* lint = top.get("lint");
  if (lint == nullptr) return out;
  if (!lint->is_table()) {
    out.error = where(path, lint->source()) + ": `lint` must be a table";
    return out;
  }
  for (auto&& [key, node] : *lint->as_table()) {
    if (key == "channels") {
      const toml::array* list = node.as_array();
      if (list == nullptr) {
        out.error = where(path, node.source()) + ": lint.channels must be a list of names";
        return out;
      }
      for (const auto& item : *list) {
        if (!item.is_string()) {
          out.error = where(path, item.source()) + ": lint.channels must be a list of names";
          return out;
        }
        out.options.channels.push_back(item.as_string()->get());
      }
    } else if (key == "plan") {
      if (!node.is_string()) {
        out.error = where(path, node.source()) + ": lint.plan must be a file name";
        return out;
      }
      fs::path plan = node.as_string()->get();
      if (plan.is_relative()) plan = fs::path(path).parent_path() / plan;
      PlanLoad loaded = load_plan(plan.lexically_normal().string());
      if (!loaded.plan) {
        out.error = loaded.error;
        return out;
      }
      out.options.plan = std::move(loaded.plan);
    } else {
      out.error = where(path, key.source()) + ": unknown key lint." + std::string(key.str()) +
                  " (expected plan or channels)";
      return out;
    }
  }
  return out;
}

LintConfig find_lint_config(const std::string& folder) {
  std::error_code ec;
  fs::path dir = fs::absolute(folder.empty() ? "." : folder, ec).lexically_normal();
  if (ec) return {};
  if (!dir.has_filename()) dir = dir.parent_path();  // "a/b/" is the folder "a/b"
  while (true) {
    for (const char* name : {".journeyrc", "journey.toml"}) {
      const fs::path candidate = dir / name;
      if (fs::is_regular_file(candidate, ec)) return read_lint_config(candidate.string());
    }
    if (!dir.has_parent_path() || dir.parent_path() == dir) return {};
    dir = dir.parent_path();
  }
}

}  // namespace journey::dsl
