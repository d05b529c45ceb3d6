#include "runtime/cli/load.hpp"

#include <algorithm>
#include <iostream>

#include <CLI/CLI.hpp>

#include "dsl/render.hpp"
#include "dsl/workspace.hpp"
#include "engine/rules.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/common/config.hpp"

namespace journey::cli {

Loaded load_program(const std::vector<std::string>& paths,
                    const std::optional<dsl::ModelFacts>& model) {
  dsl::Workspace ws;
  dsl::add_paths(ws, paths);
  dsl::CheckOptions options;
  options.model = model;
  dsl::check(ws, options);
  if (ws.has_errors()) {
    std::cerr << dsl::render_text(ws, false);
    const bool unreadable = std::any_of(ws.diagnostics.begin(), ws.diagnostics.end(),
                                        [](const dsl::Diagnostic& d) { return d.code == "E000"; });
    return {nullptr, unreadable ? kExitUsage : kExitFindings};
  }
  auto compiled = engine::compile(ws);
  if (!compiled.program) {
    for (const auto& d : compiled.diagnostics) std::cerr << d.file << ": " << d.message << "\n";
    return {nullptr, kExitFindings};
  }
  return {std::move(compiled.program), kExitOk};
}

ModelFlag load_model_flag(const std::string& path, const std::string& command) {
  ModelFlag out;
  if (path.empty()) return out;
  try {
    out.model = runtime::load_model(path);
  } catch (const runtime::ConfigError& e) {
    std::cerr << "journey " << command << ": --model: " << e.what() << "\n";
    out.exit_code = kExitUsage;
  }
  return out;
}

std::vector<const engine::Journey*> select_journeys(const engine::Program& program,
                                                    const std::string& name,
                                                    const std::string& command) {
  std::vector<const engine::Journey*> selected;
  for (const auto& journey : program.journeys) {
    if (name.empty() || journey.name == name) selected.push_back(&journey);
  }
  if (selected.empty()) {
    std::cerr << "journey " << command << ": "
              << (name.empty() ? std::string("no journeys in the given paths")
                               : "no journey named `" + name + "` in the given paths")
              << "\n";
  }
  return selected;
}

void add_identity_flags(CLI::App& sub, engine::IdentityConfig& identity) {
  sub.add_option("--identity-keys", identity.keys,
                 "Traits whose equal values mean one person, e.g. email,phone (identify traits; "
                 "off by default)")
      ->delimiter(',');
  sub.add_option("--max-ids", identity.max_ids,
                 "Ids one customer may have: a link beyond them is refused (default 20)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
}

void add_program_flags(CLI::App& sub, ProgramFlags& flags) {
  sub.add_option("--holdout", flags.holdout,
                 "Global holdout: this share of customers (e.g. 5%) gets no marketing sends, so "
                 "the report can show the program's lift on every goal");
  sub.add_option("--holdout-salt", flags.salt,
                 "Mixed into the holdout hash (default \"journey\"); a new salt draws a new "
                 "holdout");
  sub.add_option("--max-active", flags.max_active,
                 "Active marketing runs a customer may have at once; a higher `priority` entry "
                 "pre-empts, others are refused (default: no limit)")
      ->check(CLI::Range(0, 1000));
  sub.add_option("--topic", flags.topics,
                 "Subscription topic NAME=opt-in|opt-out (unlisted topics are opt-in); may "
                 "repeat");
}

bool read_program_flags(const ProgramFlags& flags, engine::ProgramRules& rules,
                        const std::string& command) {
  if (!flags.holdout.empty()) {
    const auto share = engine::parse_share(flags.holdout);
    if (!share) {
      std::cerr << "journey " << command << ": --holdout: expected a share from 0% to 100% such "
                << "as 5% or 2.5%, got \"" << flags.holdout << "\"\n";
      return false;
    }
    rules.holdout_bp = *share;
  }
  if (!flags.salt.empty()) rules.salt = flags.salt;
  rules.max_active = flags.max_active;
  for (const auto& spec : flags.topics) {
    const auto eq = spec.find('=');
    const auto policy = eq == std::string::npos
                            ? std::nullopt
                            : engine::parse_topic_default(std::string_view(spec).substr(eq + 1));
    if (eq == 0 || !policy) {
      std::cerr << "journey " << command << ": --topic: expected NAME=opt-in or NAME=opt-out, "
                << "got \"" << spec << "\"\n";
      return false;
    }
    rules.topics[spec.substr(0, eq)] = *policy;
  }
  return true;
}

}  // namespace journey::cli
