// `journey lint PATH...`: parse and check journey files, print the findings.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "dsl/codes.hpp"
#include "dsl/lint_config.hpp"
#include "dsl/plan.hpp"
#include "dsl/render.hpp"
#include "dsl/workspace.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/load.hpp"

namespace journey::cli {

namespace {

struct LintArgs {
  std::vector<std::string> paths;
  std::string format = "text";
  bool strict = false;
  std::string plan;
  std::vector<std::string> channels;
  std::string color = "auto";
  std::string explain;
  std::string model;
};

int explain_code(const std::string& code) {
  const auto info = dsl::find_code(code);
  if (!info) {
    std::cerr << "journey lint: unknown code `" << code
              << "` (codes look like E104 or W101; see `journey lint --explain E100`)\n";
    return kExitUsage;
  }
  std::cout << info->code << ": " << info->title << "\n\n" << info->explanation << "\n";
  return kExitOk;
}

int lint(const LintArgs& args) {
  if (!args.explain.empty()) return explain_code(args.explain);
  if (args.paths.empty()) {
    std::cerr << "journey lint: no paths given (usage: journey lint PATH... [options])\n";
    return kExitUsage;
  }
  // The project's settings (the [lint] table of the nearest .journeyrc or journey.toml above the
  // first path); --plan and --channels override them.
  const std::filesystem::path first(args.paths.front());
  std::error_code ec;
  dsl::LintConfig config = dsl::find_lint_config(
      std::filesystem::is_directory(first, ec) ? first.string() : first.parent_path().string());
  if (!config.error.empty()) {
    std::cerr << "journey lint: " << config.error << "\n";
    return kExitUsage;
  }
  dsl::CheckOptions options = std::move(config.options);
  if (!args.channels.empty()) options.channels.clear();
  for (std::string c : args.channels) {
    c.erase(0, c.find_first_not_of(" \t"));
    c.erase(c.find_last_not_of(" \t") + 1);
    if (!c.empty()) options.channels.push_back(c);
  }
  if (!args.plan.empty()) {
    dsl::PlanLoad loaded = dsl::load_plan(args.plan);
    if (!loaded.plan) {
      std::cerr << "journey lint: " << loaded.error << "\n";
      return kExitUsage;
    }
    options.plan = std::move(loaded.plan);
  }
  const auto model = load_model_flag(args.model, "lint");
  if (model.exit_code != kExitOk) return model.exit_code;
  options.model = engine::model_facts(model.model);

  dsl::Workspace ws;
  dsl::add_paths(ws, args.paths);
  dsl::check(ws, options);

  if (args.format == "json") {
    std::cout << dsl::render_json(ws);
  } else if (args.format == "sarif") {
    std::cout << dsl::render_sarif(ws);
  } else {
    const bool color =
        args.color == "always" || (args.color == "auto" && ::isatty(STDOUT_FILENO) != 0);
    std::cout << dsl::render_text(ws, color);
  }
  std::cout.flush();

  for (const auto& d : ws.diagnostics) {
    if (d.code == "E000") return kExitUsage;
  }
  const dsl::Tally t = dsl::tally(ws.diagnostics);
  if (t.errors > 0 || (args.strict && t.warnings > 0)) return kExitFindings;
  return kExitOk;
}

}  // namespace

void add_lint(CLI::App& app, Run& run) {
  auto args = std::make_shared<LintArgs>();
  auto* sub =
      app.add_subcommand("lint", "Check journey files and folders (recursively) for errors");
  sub->add_option("paths", args->paths, "Journey files or folders");
  sub->add_option("--format", args->format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  sub->add_flag("--strict", args->strict, "Fail on warnings too");
  sub->add_option("--plan", args->plan,
                  "Tracking plan (JSON or TOML): events and their properties (default: the "
                  "[lint] plan of the nearest .journeyrc or journey.toml)");
  sub->add_option("--channels", args->channels,
                  "Allowed channels, comma-separated (default: the [lint] channels of the "
                  "nearest .journeyrc or journey.toml)")
      ->delimiter(',');
  sub->add_option("--color", args->color, "Colour the text output")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  sub->add_option("--model", args->model,
                  "Purchase model (journey model fit --out): without one, p_alive(), "
                  "expected_orders() and predicted_value() are errors (E119)");
  sub->add_option("--explain", args->explain, "Explain a diagnostic code, e.g. E104");
  sub->footer(
      "The subscription topics a send may name come from the [topics] table of the same file "
      "(another one is warning W104); with no topic declared, any is accepted.");
  sub->callback([&run, args] { run = [args] { return lint(*args); }; });
}

}  // namespace journey::cli
