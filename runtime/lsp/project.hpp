// The workspace model of the language server: the `.journey` files it knows (open in the editor,
// or on disk in a workspace folder), each program they form (a workspace folder's files are
// checked together, so segments from other files resolve), the lint settings that apply, and
// their analysis: parses, names and diagnostics, brought up to date after each change.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dsl/lint_config.hpp"
#include "dsl/symbols.hpp"
#include "dsl/workspace.hpp"
#include "runtime/lsp/document.hpp"

namespace journey::lsp {

/// The path of a `file:` URI (percent-decoded); empty for other schemes.
std::string uri_to_path(const std::string& uri);

/// The `file:` URI of an absolute path, percent-encoded as editors write it.
std::string path_to_uri(const std::string& path);

/// Lint settings the editor gives (`journey.plan`, `journey.channels`); each one given replaces
/// the project file's (`[lint]` of .journeyrc or journey.toml).
struct ClientSettings {
  std::string plan;  // a tracking plan; relative paths are against the first workspace folder
  std::optional<std::vector<std::string>> channels;
};

/// One journey file the server knows.
struct Script {
  std::string uri;
  std::string path;
  std::string program;  // the workspace folder it belongs to; empty outside every folder
  Document document;    // the editor's text when open, else the file's
  bool open = false;
  bool stale = true;                         // changed since `parsed`
  dsl::ParsedFile parsed;                    // `document` parsed
  std::vector<dsl::Symbol> symbols;          // the names written in it
  std::vector<dsl::Diagnostic> diagnostics;  // syntax and checks, as last checked
  bool unpublished = true;                   // diagnostics changed since last handed out
};

/// The files and programs, and their analysis.
class Project {
 public:
  /// A workspace folder: its `.journey` files (recursively, but for hidden folders and
  /// node_modules) become one program.
  void add_folder(const std::string& path);
  void remove_folder(const std::string& path);

  /// The editor opened a document: its text replaces the file's.
  Script& open(const std::string& uri, std::string text);
  /// The editor closed a document: the file's text on disk applies again (or it is forgotten,
  /// outside the workspace folders).
  void close(const std::string& uri);
  /// The script of a URI, or null.
  Script* find(const std::string& uri);
  /// The script of a file path, or null.
  const Script* find_path(const std::string& path) const;
  /// A script's text was changed through its document.
  void edited(Script& script);

  /// A file changed on disk (created, changed or deleted). Open documents keep the editor's
  /// text; a change of a `.journeyrc`, `journey.toml` or plan is taken into account too.
  void disk_changed(const std::string& uri);

  /// New settings from the editor.
  void set_settings(ClientSettings settings);

  /// Parses the scripts that changed and checks the programs they belong to. Afterwards every
  /// script's symbols and diagnostics are those of its current text.
  void analyse();

  /// The scripts whose diagnostics changed since the last call, and the URIs of scripts
  /// forgotten since (whose diagnostics are now none). Marks them handed out.
  std::vector<const Script*> take_unpublished(std::vector<std::string>& forgotten);

  /// The scripts of `script`'s program (itself included), in path order.
  std::vector<const Script*> program_of(const Script& script) const;

  /// The check options that apply to a script (its channels and plan).
  dsl::CheckOptions options_of(const Script& script);

 private:
  /// The settings of a folder, from its nearest project file, with the editor's settings over
  /// them; `error` says why some could not be used.
  struct Settings {
    std::string key;  // which project file (and so which group of scripts checked together)
    dsl::CheckOptions options;
    std::string error;
  };
  const Settings& settings_for(const std::string& folder);
  Script& add(const std::string& uri, const std::string& path);
  void read_from_disk(Script& script);
  std::string program_for(const std::string& path) const;
  void check_program(const std::string& program);
  void forget(const std::string& uri);
  void settings_changed();

  std::map<std::string, std::unique_ptr<Script>> scripts_;  // by path
  std::vector<std::string> folders_;
  std::set<std::string> dirty_programs_;
  std::map<std::string, Settings> settings_by_folder_;
  ClientSettings client_;
  std::vector<std::string> forgotten_;
};

}  // namespace journey::lsp
