#include "runtime/serve/deployments.hpp"

#include <algorithm>

#include "runtime/common/log.hpp"

namespace journey::runtime {

using nlohmann::json;

Deployments::Deployments(std::string journeys_dir, engine::Engine& engine,
                         std::shared_mutex& engine_mutex, Store& store, Metrics& metrics,
                         Clock clock)
    : journeys_dir_(std::move(journeys_dir)),
      engine_(engine),
      engine_mutex_(engine_mutex),
      store_(store),
      metrics_(metrics),
      clock_(std::move(clock)) {
  checks_.model = engine::model_facts(engine_.config().model);
}

void Deployments::start(bool serve_last_stored) {
  std::shared_ptr<const engine::Program> last_stored;
  for (const auto& deployment : store_.deployments()) {
    auto set = compile_files(deployment.files, checks_);
    if (!set.ok()) {
      log(LogLevel::Warn, "a stored deployment no longer compiles; its runs cannot continue",
          {{"deployment", deployment.id}});
      continue;
    }
    engine_.retain(set.program);
    remember(set.program, deployment.deployed_at);
    last_stored = set.program;
    std::lock_guard lock(live_mutex_);
    live_id_ = deployment.id;
    live_journeys_ = engine::journeys_of(*set.program);
  }
  if (serve_last_stored && last_stored) {
    std::unique_lock lock(engine_mutex_);
    engine_.deploy(last_stored);
    log(LogLevel::Info, "serving the cluster's live deployment", {{"deployment", live().first}});
    return;
  }
  auto set = load_journey_dir(journeys_dir_, checks_);
  checked(set, "start", set.ok());
  if (set.ok()) {
    auto deployment = set.deployment;
    deployment.deployed_at = clock_();
    deploy(set, deployment);
    if (shared_) shared_(deployment);
  } else if (last_stored) {
    engine_.deploy(last_stored);
    log(LogLevel::Error, "journey scripts have errors; serving the last deployment",
        {{"dir", journeys_dir_}, {"deployment", live().first}, {"diagnostics", set.diagnostics}});
  } else {
    throw DeployError("journey scripts have errors and no earlier deployment is stored:\n" +
                      summarize_errors(set.diagnostics));
  }
}

void Deployments::adopt(const Deployment& deployment) {
  std::lock_guard reload_lock(reload_mutex_);
  if (deployment.id == live().first) return;
  auto set = compile_files(deployment.files, checks_);
  if (!set.ok()) {
    throw DeployError("the deployment " + deployment.id + " does not compile here:\n" +
                      summarize_errors(set.diagnostics));
  }
  deploy(set, deployment);
}

void Deployments::deploy(const JourneySet& set, const Deployment& deployment) {
  store_.save_deployment(deployment);
  {
    std::unique_lock lock(engine_mutex_);
    engine_.deploy(set.program);
  }
  remember(set.program, deployment.deployed_at);
  std::lock_guard lock(live_mutex_);
  live_id_ = deployment.id;
  live_journeys_ = engine::journeys_of(*set.program);
  json journeys = json::array();
  for (const auto& info : live_journeys_) journeys.push_back(info.name + "@" + info.version);
  log(LogLevel::Info, "journeys deployed", {{"deployment", live_id_}, {"journeys", journeys}});
}

std::pair<bool, json> Deployments::reload(const std::string& reason) {
  std::lock_guard reload_lock(reload_mutex_);
  auto set = load_journey_dir(journeys_dir_, checks_);
  checked(set, reason, set.ok());
  if (!set.ok()) {
    ++metrics_.reloads_refused;
    log(LogLevel::Error, "reload refused: journey scripts have errors; the running set stays",
        {{"trigger", reason}, {"diagnostics", set.diagnostics}});
    return {false,
            {{"reloaded", false},
             {"error", "journey scripts have errors; the running set stays"},
             {"diagnostics", set.diagnostics}}};
  }
  const bool unchanged = set.deployment.id == live().first;
  if (!unchanged) {
    try {
      auto deployment = set.deployment;
      deployment.deployed_at = clock_();
      deploy(set, deployment);
      if (shared_) shared_(deployment);
    } catch (const std::exception& e) {
      ++metrics_.reloads_refused;
      return {false, {{"reloaded", false}, {"error", std::string("storage failure: ") + e.what()}}};
    }
  }
  ++metrics_.reloads_ok;
  auto [id, live_journeys] = live();
  json journeys = json::array();
  for (const auto& info : live_journeys) {
    journeys.push_back({{"name", info.name}, {"version", info.version}});
  }
  return {true,
          {{"reloaded", !unchanged},
           {"deployment", id},
           {"journeys", journeys},
           {"diagnostics", set.diagnostics}}};
}

std::pair<std::string, std::vector<engine::JourneyInfo>> Deployments::live() const {
  std::lock_guard lock(live_mutex_);
  return {live_id_, live_journeys_};
}

void Deployments::remember(const std::shared_ptr<const engine::Program>& program,
                           engine::Millis deployed_at) {
  std::lock_guard lock(live_mutex_);
  for (const auto& journey : program->journeys) {
    const bool known = std::any_of(versions_.begin(), versions_.end(), [&](const auto& v) {
      return v.journey == journey.name && v.version == journey.version;
    });
    if (!known) versions_.push_back({journey.name, journey.version, deployed_at, program});
  }
}

void Deployments::checked(const JourneySet& set, const std::string& trigger, bool deployed) {
  std::lock_guard lock(live_mutex_);
  last_check_ = ScriptCheck{clock_(), trigger, deployed, set.diagnostics};
}

std::vector<DeployedVersion> Deployments::versions() const {
  std::lock_guard lock(live_mutex_);
  return versions_;
}

std::optional<ScriptCheck> Deployments::last_check() const {
  std::lock_guard lock(live_mutex_);
  return last_check_;
}

}  // namespace journey::runtime
