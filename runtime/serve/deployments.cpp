#include "runtime/serve/deployments.hpp"

#include <algorithm>
#include <set>

#include "engine/diff.hpp"
#include "engine/program.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

using nlohmann::json;

namespace {

/// The answer of a reload (or its preview) refused because the scripts have errors.
json refused(const JourneySet& set) {
  return {{"reloaded", false},
          {"error", "journey scripts have errors; the running set stays"},
          {"diagnostics", set.diagnostics}};
}

/// The longest goal window of a program's journeys: how long after its replacement a goal can
/// still be counted against one of its versions.
engine::Millis longest_goal(const engine::Program& program) {
  engine::Millis longest = 0;
  for (const auto& j : program.journeys) {
    for (const auto& g : j.goals) longest = std::max(longest, g.within_ms);
  }
  return longest;
}

bool holds(const engine::Program& program, const std::string& journey, const std::string& version) {
  const auto* j = program.find_journey(journey);
  return j != nullptr && j->version == version;
}

}  // namespace

Deployments::Deployments(std::string journeys_dir, engine::Engine& engine,
                         std::shared_mutex& engine_mutex, Store& store, Metrics& metrics,
                         Clock clock)
    : journeys_dir_(std::move(journeys_dir)),
      engine_(engine),
      checks_(engine_checks(engine.config())),
      engine_mutex_(engine_mutex),
      store_(store),
      metrics_(metrics),
      clock_(std::move(clock)) {}

void Deployments::start(bool serve_last_stored) {
  std::shared_ptr<const engine::Program> last_stored;
  for (const auto& deployment : store_.deployments()) {
    auto set = compile_files(deployment.files, checks_, deployment.naming);
    if (!set.ok()) {
      log(LogLevel::Warn, "a stored deployment no longer compiles; its runs cannot continue",
          {{"deployment", deployment.id}});
      continue;
    }
    engine_.retain(set.program);
    last_stored = set.program;
    remember(deployment, set.program);
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
  auto set = compile_files(deployment.files, checks_, deployment.naming);
  if (!set.ok()) {
    throw DeployError("the deployment " + deployment.id + " does not compile here:\n" +
                      summarize_errors(set.diagnostics));
  }
  deploy(set, deployment);
}

void Deployments::deploy(const JourneySet& set, const Deployment& deployment) {
  store_.save_deployment(deployment);
  // A deployment kept already (the same files again: a restart, a rollback) is made live as it
  // is kept, so that the engine holds one program for it.
  auto program = set.program;
  {
    std::lock_guard lock(live_mutex_);
    for (const auto& d : deployed_) {
      if (d.deployment.id == deployment.id) program = d.program;
    }
  }
  {
    std::unique_lock lock(engine_mutex_);
    engine_.deploy(program);
  }
  remember(deployment, program);
  std::lock_guard lock(live_mutex_);
  live_id_ = deployment.id;
  live_journeys_ = engine::journeys_of(*program);
  json journeys = json::array();
  for (const auto& info : live_journeys_) journeys.push_back(info.name + "@" + info.version);
  log(LogLevel::Info, "journeys deployed", {{"deployment", live_id_}, {"journeys", journeys}});
}

void Deployments::remember(const Deployment& deployment,
                           std::shared_ptr<const engine::Program> program) {
  std::lock_guard lock(live_mutex_);
  const auto same = [&deployment](const Deployed& d) { return d.deployment.id == deployment.id; };
  deployed_.erase(std::remove_if(deployed_.begin(), deployed_.end(), same), deployed_.end());
  deployed_.push_back({deployment, std::move(program)});
}

std::pair<bool, json> Deployments::reload(const std::string& reason) {
  std::lock_guard reload_lock(reload_mutex_);
  auto set = load_journey_dir(journeys_dir_, checks_);
  checked(set, reason, set.ok());
  if (!set.ok()) {
    ++metrics_.reloads_refused;
    log(LogLevel::Error, "reload refused: journey scripts have errors; the running set stays",
        {{"trigger", reason}, {"diagnostics", set.diagnostics}});
    return {false, refused(set)};
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

std::pair<bool, json> Deployments::preview(
    const std::vector<std::pair<StoredRun, std::size_t>>& run_counts) {
  std::lock_guard reload_lock(reload_mutex_);
  auto set = load_journey_dir(journeys_dir_, checks_);
  if (!set.ok()) return {false, refused(set)};
  std::shared_ptr<const engine::Program> live_program;
  std::string live_id;
  {
    std::lock_guard lock(live_mutex_);
    live_id = live_id_;
    for (const auto& d : deployed_) {
      if (d.deployment.id == live_id_) live_program = d.program;
    }
  }
  json diff;
  {
    std::shared_lock lock(engine_mutex_);
    std::map<std::pair<std::string, std::string>, engine::RunsAt> versions;
    for (const auto& [run, count] : run_counts) {
      auto& at = versions[{run.journey, run.version}];
      at.version = engine_.find_version(run.journey, run.version);
      at.by_step[run.state] += count;
    }
    std::map<std::string, std::vector<engine::RunsAt>> runs;
    for (auto& [key, at] : versions) runs[key.first].push_back(std::move(at));
    diff = engine::program_diff(live_program.get(), set.program.get(), runs);
  }
  return {true,
          {{"dry_run", true},
           {"reloaded", false},
           {"would_reload", set.deployment.id != live_id},
           {"deployment", set.deployment.id},
           {"live_deployment", live_id},
           {"diff", std::move(diff)},
           {"diagnostics", set.diagnostics}}};
}

std::pair<std::string, std::vector<engine::JourneyInfo>> Deployments::live() const {
  std::lock_guard lock(live_mutex_);
  return {live_id_, live_journeys_};
}

void Deployments::checked(const JourneySet& set, const std::string& trigger, bool deployed) {
  std::lock_guard lock(live_mutex_);
  last_check_ = ScriptCheck{clock_(), trigger, deployed, set.diagnostics};
}

std::vector<DeployedVersion> Deployments::versions() const {
  std::lock_guard lock(live_mutex_);
  std::vector<DeployedVersion> out;
  for (const auto& d : deployed_) {
    for (const auto& journey : d.program->journeys) {
      const auto known = std::find_if(out.begin(), out.end(), [&](const DeployedVersion& v) {
        return v.journey == journey.name && v.version == journey.version;
      });
      if (known == out.end()) {
        out.push_back({journey.name, journey.version, d.deployment.deployed_at, d.program});
      } else {
        known->deployed_at = std::min(known->deployed_at, d.deployment.deployed_at);
      }
    }
  }
  return out;
}

std::optional<ScriptCheck> Deployments::last_check() const {
  std::lock_guard lock(live_mutex_);
  return last_check_;
}

std::optional<Deployment> Deployments::source_of(const std::string& journey,
                                                 const std::string& version) const {
  std::lock_guard lock(live_mutex_);
  for (auto it = deployed_.rbegin(); it != deployed_.rend(); ++it) {
    if (holds(*it->program, journey, version)) return it->deployment;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Deployments::migrating() const {
  std::lock_guard lock(live_mutex_);
  std::set<std::pair<std::string, std::string>> out;
  const auto live = std::find_if(deployed_.begin(), deployed_.end(),
                                 [this](const Deployed& d) { return d.deployment.id == live_id_; });
  if (live == deployed_.end()) return {};
  for (const auto& to : live->program->journeys) {
    if (to.on_update != engine::UpdatePolicy::Migrate) continue;
    for (const auto& d : deployed_) {
      const auto* from = d.program->find_journey(to.name);
      if (from != nullptr && from->version != to.version) out.emplace(to.name, from->version);
    }
  }
  return {out.begin(), out.end()};
}

std::size_t Deployments::collect(const std::function<void()>& settle) {
  std::lock_guard reload_lock(reload_mutex_);
  if (!collect_) return 0;
  const auto now = clock_();
  std::vector<Deployed> candidates;
  std::shared_ptr<const engine::Program> live_program;
  {
    std::lock_guard lock(live_mutex_);
    for (std::size_t k = 0; k < deployed_.size(); ++k) {
      const Deployed& d = deployed_[k];
      if (d.deployment.id == live_id_) {
        live_program = d.program;
        continue;
      }
      // Replaced when the next one was deployed: goals of its runs count until their windows end.
      const bool newest = k + 1 == deployed_.size();
      if (!newest && now >= deployed_[k + 1].deployment.deployed_at + longest_goal(*d.program))
        candidates.push_back(d);
    }
  }
  if (candidates.empty() || live_program == nullptr) return 0;
  settle();
  const auto in_use = store_.versions_in_use();
  std::size_t collected = 0;
  for (const auto& c : candidates) {
    const bool used = std::any_of(
        c.program->journeys.begin(), c.program->journeys.end(), [&](const engine::Journey& j) {
          return in_use.count({j.name, j.version}) != 0 && !holds(*live_program, j.name, j.version);
        });
    if (used) continue;
    store_.delete_deployment(c.deployment.id);
    {
      std::unique_lock lock(engine_mutex_);
      engine_.forget(c.program);
    }
    json versions = json::array();
    {
      std::lock_guard lock(live_mutex_);
      deployed_.erase(
          std::remove_if(deployed_.begin(), deployed_.end(),
                         [&c](const Deployed& d) { return d.deployment.id == c.deployment.id; }),
          deployed_.end());
      for (const auto& j : c.program->journeys) {
        const bool kept = std::any_of(deployed_.begin(), deployed_.end(), [&j](const Deployed& d) {
          return holds(*d.program, j.name, j.version);
        });
        if (kept) continue;
        versions.push_back(j.name + "@" + j.version);
        ++metrics_.versions_collected;
      }
    }
    ++collected;
    log(LogLevel::Info, "old journey versions collected: no run uses them",
        {{"deployment", c.deployment.id}, {"versions", versions}});
  }
  return collected;
}

}  // namespace journey::runtime
