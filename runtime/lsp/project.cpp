#include "runtime/lsp/project.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "dsl/plan.hpp"

namespace journey::lsp {

namespace {

namespace fs = std::filesystem;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_project_file(const fs::path& path) {
  return path.filename() == ".journeyrc" || path.filename() == "journey.toml";
}

/// Whether two diagnostics say the same at the same place.
bool same(const dsl::Diagnostic& a, const dsl::Diagnostic& b) {
  return a.code == b.code && a.span == b.span && a.message == b.message &&
         a.severity == b.severity && a.help == b.help && a.notes.size() == b.notes.size();
}

bool same(const std::vector<dsl::Diagnostic>& a, const std::vector<dsl::Diagnostic>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return same(x, y); });
}

/// A path with `folder` as a prefix, component by component.
bool is_inside(const std::string& path, const std::string& folder) {
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
         (folder.back() == '/' || path[folder.size()] == '/');
}

}  // namespace

std::string uri_to_path(const std::string& uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.compare(0, kScheme.size(), kScheme) != 0) return {};
  std::string path;
  for (std::size_t i = kScheme.size(); i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && hex_value(uri[i + 1]) >= 0 &&
        hex_value(uri[i + 2]) >= 0) {
      path += static_cast<char>(hex_value(uri[i + 1]) * 16 + hex_value(uri[i + 2]));
      i += 2;
    } else {
      path += uri[i];
    }
  }
  // `file://host/path` names a host; only local files are served.
  if (path.empty() || path.front() != '/') return {};
  return fs::path(path).lexically_normal().string();
}

std::string path_to_uri(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file://";
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      uri += c;
    } else {
      uri += '%';
      uri += kHex[u >> 4];
      uri += kHex[u & 0xF];
    }
  }
  return uri;
}

void Project::add_folder(const std::string& path) {
  const std::string folder = fs::path(path).lexically_normal().string();
  if (std::find(folders_.begin(), folders_.end(), folder) != folders_.end()) return;
  folders_.push_back(folder);
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (it->is_directory(ec) && (name.front() == '.' || name == "node_modules")) {
      it.disable_recursion_pending();
    } else if (p.extension() == ".journey" && it->is_regular_file(ec)) {
      const std::string file = p.lexically_normal().string();
      if (scripts_.count(file) == 0) read_from_disk(add(path_to_uri(file), file));
    }
  }
  // Scripts already open may now belong to this folder.
  for (auto& [file, script] : scripts_) script->program = program_for(file);
  for (const auto& f : folders_) dirty_programs_.insert(f);
  dirty_programs_.insert("");
  if (folders_.size() == 1) settings_changed();  // a relative plan setting is against it
}

void Project::remove_folder(const std::string& path) {
  const std::string folder = fs::path(path).lexically_normal().string();
  folders_.erase(std::remove(folders_.begin(), folders_.end(), folder), folders_.end());
  std::vector<std::string> gone;
  for (auto& [file, script] : scripts_) {
    script->program = program_for(file);
    if (!script->open && is_inside(file, folder) && script->program.empty()) gone.push_back(file);
  }
  for (const auto& file : gone) forget(scripts_.at(file)->uri);
  dirty_programs_.insert(folder);
  dirty_programs_.insert("");
  for (const auto& f : folders_) dirty_programs_.insert(f);
}

Script& Project::add(const std::string& uri, const std::string& path) {
  auto script = std::make_unique<Script>();
  script->uri = uri;
  script->path = path;
  script->program = program_for(path);
  Script& added = *script;
  scripts_[path] = std::move(script);
  dirty_programs_.insert(added.program);
  return added;
}

void Project::read_from_disk(Script& script) {
  std::ifstream in(script.path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  script.document.set(std::move(text).str());
  edited(script);
}

std::string Project::program_for(const std::string& path) const {
  std::string best;
  for (const auto& folder : folders_) {
    if (is_inside(path, folder) && folder.size() > best.size()) best = folder;
  }
  return best;
}

Script& Project::open(const std::string& uri, std::string text) {
  std::string path = uri_to_path(uri);
  if (path.empty()) path = uri;  // an unsaved or remote document: its URI names it
  auto it = scripts_.find(path);
  Script& script = it != scripts_.end() ? *it->second : add(uri, path);
  script.uri = uri;  // answer in the editor's own spelling of it
  script.open = true;
  script.unpublished = true;  // an editor that opens a file is told its diagnostics
  script.document.set(std::move(text));
  edited(script);
  return script;
}

void Project::close(const std::string& uri) {
  Script* script = find(uri);
  if (script == nullptr) return;
  script->open = false;
  if (script->program.empty()) {
    forget(uri);
  } else {
    read_from_disk(*script);
  }
}

Script* Project::find(const std::string& uri) {
  std::string path = uri_to_path(uri);
  if (path.empty()) path = uri;
  const auto it = scripts_.find(path);
  return it == scripts_.end() ? nullptr : it->second.get();
}

const Script* Project::find_path(const std::string& path) const {
  const auto it = scripts_.find(path);
  return it == scripts_.end() ? nullptr : it->second.get();
}

void Project::edited(Script& script) {
  script.stale = true;
  dirty_programs_.insert(script.program);
}

void Project::forget(const std::string& uri) {
  Script* script = find(uri);
  if (script == nullptr) return;
  dirty_programs_.insert(script->program);
  forgotten_.push_back(script->uri);
  scripts_.erase(script->path);
}

void Project::disk_changed(const std::string& uri) {
  const std::string path = uri_to_path(uri);
  if (path.empty()) return;
  const fs::path p(path);
  if (p.extension() != ".journey") {
    // A project file or a plan: the settings are read again.
    if (is_project_file(p) || p.extension() == ".json" || p.extension() == ".toml")
      settings_changed();
    return;
  }
  std::error_code ec;
  const bool exists = fs::is_regular_file(p, ec);
  auto it = scripts_.find(path);
  if (it != scripts_.end() && it->second->open) return;  // the editor's text wins
  if (!exists) {
    if (it != scripts_.end()) forget(it->second->uri);
    return;
  }
  if (program_for(path).empty()) return;  // outside the workspace folders
  read_from_disk(it != scripts_.end() ? *it->second : add(path_to_uri(path), path));
}

void Project::set_settings(ClientSettings settings) {
  client_ = std::move(settings);
  settings_changed();
}

void Project::settings_changed() {
  settings_by_folder_.clear();
  dirty_programs_.insert("");
  for (const auto& f : folders_) dirty_programs_.insert(f);
}

const Project::Settings& Project::settings_for(const std::string& folder) {
  auto it = settings_by_folder_.find(folder);
  if (it != settings_by_folder_.end()) return it->second;
  dsl::LintConfig config = dsl::find_lint_config(folder);
  Settings s{config.path, std::move(config.options), std::move(config.error)};
  if (client_.channels) s.options.channels = *client_.channels;
  if (!client_.plan.empty()) {
    fs::path plan(client_.plan);
    if (plan.is_relative() && !folders_.empty()) plan = fs::path(folders_.front()) / plan;
    dsl::PlanLoad loaded = dsl::load_plan(plan.lexically_normal().string());
    if (loaded.plan) {
      s.options.plan = std::move(loaded.plan);
    } else {
      s.error = "the plan of the editor's settings: " + loaded.error;
    }
    s.key += "+settings";
  }
  return settings_by_folder_.emplace(folder, std::move(s)).first->second;
}

dsl::CheckOptions Project::options_of(const Script& script) {
  return settings_for(fs::path(script.path).parent_path().string()).options;
}

std::vector<const Script*> Project::program_of(const Script& script) const {
  std::vector<const Script*> out;
  for (const auto& [path, s] : scripts_) {
    if (s->program == script.program) out.push_back(s.get());
  }
  return out;
}

void Project::analyse() {
  for (auto& [path, script] : scripts_) {
    if (!script->stale) continue;
    script->parsed = dsl::parse_source(script->path, script->document.text());
    script->symbols = dsl::symbols(script->parsed.file.module);
    script->stale = false;
  }
  const auto programs = std::move(dirty_programs_);
  dirty_programs_.clear();
  for (const auto& program : programs) check_program(program);
}

void Project::check_program(const std::string& program) {
  std::vector<Script*> members;
  for (auto& [path, s] : scripts_) {
    if (s->program == program) members.push_back(s.get());
  }
  // Scripts under different project files are checked apart, each with its own settings, but
  // always against the whole program, so that names from every file resolve.
  std::map<std::string, std::vector<Script*>> groups;
  std::map<std::string, const Settings*> settings;
  for (Script* s : members) {
    const Settings& found = settings_for(fs::path(s->path).parent_path().string());
    groups[found.key].push_back(s);
    settings[found.key] = &found;
  }
  for (auto& [key, group] : groups) {
    dsl::Workspace ws;
    for (Script* s : members) {
      ws.files.push_back(std::move(s->parsed.file));
      ws.diagnostics.insert(ws.diagnostics.end(), s->parsed.syntax.begin(), s->parsed.syntax.end());
    }
    dsl::check(ws, settings[key]->options);
    for (std::size_t i = 0; i < members.size(); ++i)
      members[i]->parsed.file = std::move(ws.files[i]);
    std::map<std::string, std::vector<dsl::Diagnostic>> by_file;
    for (auto& d : ws.diagnostics) by_file[d.file].push_back(std::move(d));
    for (Script* s : group) {
      std::vector<dsl::Diagnostic> found = std::move(by_file[s->path]);
      if (!settings[key]->error.empty()) {
        dsl::Diagnostic d;
        d.severity = dsl::Severity::Warning;
        d.file = s->path;
        d.message = "lint settings not used: " + settings[key]->error;
        found.insert(found.begin(), std::move(d));
      }
      if (!same(found, s->diagnostics)) {
        s->diagnostics = std::move(found);
        s->unpublished = true;
      }
    }
  }
}

std::vector<const Script*> Project::take_unpublished(std::vector<std::string>& forgotten) {
  forgotten = std::move(forgotten_);
  forgotten_.clear();
  std::vector<const Script*> out;
  for (auto& [path, s] : scripts_) {
    if (!s->unpublished) continue;
    s->unpublished = false;
    out.push_back(s.get());
  }
  return out;
}

}  // namespace journey::lsp
