#include "runtime/serve/journey_set.hpp"

#include "dsl/render.hpp"
#include "dsl/workspace.hpp"
#include "engine/hash.hpp"

namespace journey::runtime {
namespace {

// The same files compiled with another naming are another deployment: an upgraded daemon stores
// its journeys directory anew rather than taking the old build's deployment for its own.
std::string deployment_id(const std::vector<std::pair<std::string, std::string>>& files,
                          engine::StepNaming naming) {
  std::uint64_t hash = naming == engine::StepNaming::Positions ? 0 : 0x7472656531ULL;
  for (const auto& [path, text] : files)
    hash = engine::stable_hash(engine::hash_key({path, text}), hash);
  return engine::hex16(hash);
}

JourneySet finish(dsl::Workspace& ws, const dsl::CheckOptions& options, engine::StepNaming naming) {
  JourneySet set;
  dsl::check(ws, options);
  for (const auto& file : ws.files) {
    set.deployment.files.emplace_back(file.source->path(), file.source->text());
  }
  set.deployment.naming = naming;
  set.deployment.id = deployment_id(set.deployment.files, naming);
  if (!ws.has_errors()) {
    auto compiled = engine::compile(ws, naming);
    ws.diagnostics.insert(ws.diagnostics.end(), compiled.diagnostics.begin(),
                          compiled.diagnostics.end());
    set.program = compiled.program;
  }
  set.diagnostics = nlohmann::json::parse(dsl::render_json(ws));
  return set;
}

}  // namespace

JourneySet load_journey_dir(const std::string& dir, const dsl::CheckOptions& options) {
  dsl::Workspace ws;
  dsl::add_paths(ws, {dir});
  return finish(ws, options, engine::StepNaming::Tree);
}

JourneySet compile_files(const std::vector<std::pair<std::string, std::string>>& files,
                         const dsl::CheckOptions& options, engine::StepNaming naming) {
  dsl::Workspace ws;
  for (const auto& [path, text] : files) dsl::add_source(ws, path, text);
  return finish(ws, options, naming);
}

std::string summarize_errors(const nlohmann::json& diagnostics) {
  std::string out;
  auto list = diagnostics.find("diagnostics");
  if (list == diagnostics.end() || !list->is_array()) return out;
  for (const auto& d : *list) {
    if (d.value("severity", std::string()) != "error") continue;
    if (!out.empty()) out += "\n";
    out += d.value("file", std::string());
    if (d.contains("line") && d["line"].is_number()) {
      out += ":" + d["line"].dump();
      if (d.contains("column") && d["column"].is_number()) out += ":" + d["column"].dump();
    }
    out += ": error[" + d.value("code", std::string()) + "]: " + d.value("message", std::string());
  }
  return out;
}

dsl::CheckOptions engine_checks(const engine::EngineConfig& config) {
  dsl::CheckOptions checks;
  checks.model = engine::model_facts(config.model);
  for (const auto& [topic, policy] : config.program.topics) checks.topics.push_back(topic);
  return checks;
}

nlohmann::json lint_script(const std::string& text, const dsl::CheckOptions& options) {
  dsl::Workspace ws;
  dsl::add_source(ws, "request.journey", text);
  dsl::check(ws, options);
  return nlohmann::json::parse(dsl::render_json(ws));
}

}  // namespace journey::runtime
