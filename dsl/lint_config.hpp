// A project's lint settings, for `journey lint` and the language server: the `[lint]` table of
// the nearest `.journeyrc` or `journey.toml` (the daemon's configuration file, which ignores it),
// and the names of the subscription topics its `[topics]` table declares (the daemon's table):
//
//   [lint]
//   plan = "tracking-plan.json"       # relative to the file that names it
//   channels = ["email", "sms", "push"]
//
//   [topics]
//   newsletter = "opt-in"
#pragma once

#include <string>

#include "dsl/workspace.hpp"

namespace journey::dsl {

/// The settings found for a folder.
struct LintConfig {
  std::string path;      // the file read; empty when none was found
  CheckOptions options;  // its plan (loaded), channels and declared topics
  std::string error;     // why the file or its plan could not be used (naming it); empty if fine
};

/// Reads the `[lint]` table and the names of the `[topics]` table of one TOML file (which may
/// have neither). Other tables are ignored; the topics' values are the daemon's to check.
LintConfig read_lint_config(const std::string& path);

/// Looks in `folder` and each folder above it for `.journeyrc`, then `journey.toml`, and reads
/// the first one found. Nothing found is no error: the options are then empty.
LintConfig find_lint_config(const std::string& folder);

}  // namespace journey::dsl
