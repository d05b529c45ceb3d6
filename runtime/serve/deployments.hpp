// The live journeys of the daemon: the versions stored by earlier runs, the deployment of the
// journeys directory at start, reloads (POST /v1/journeys/reload, SIGHUP) that keep the running
// set when a script has errors, their preview (`?dry_run=1`), and the collection of old versions
// no run uses any more.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "runtime/common/clock.hpp"
#include "runtime/common/metrics.hpp"
#include "runtime/http/console.hpp"
#include "runtime/serve/journey_set.hpp"
#include "runtime/store/store.hpp"

namespace journey::runtime {

/// The journey scripts could not be deployed (and no earlier deployment was stored).
class DeployError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Deployments {
 public:
  /// Deploys into `engine`, under `engine_mutex` held exclusively; stores each deployment in
  /// `store` (which it shares with other readers: calls are serialised by the store).
  Deployments(std::string journeys_dir, engine::Engine& engine, std::shared_mutex& engine_mutex,
              Store& store, Metrics& metrics, Clock clock);

  /// At start: keeps every stored version available to the runs that entered it (each compiled
  /// with the naming it was stored with), then deploys the journeys directory, or on errors serves
  /// the last stored deployment. With `serve_last_stored` (a cluster node: the cluster's live
  /// deployment was stored last) it serves that one instead of the directory. Throws DeployError
  /// (errors and nothing stored) or StoreError.
  void start(bool serve_last_stored = false);

  /// Called after each deployment of the journeys directory (at start or by a reload): a cluster
  /// node shares it with the others.
  void on_deployed(std::function<void(const Deployment&)> shared) { shared_ = std::move(shared); }
  /// Deploys a deployment made elsewhere (another node's reload). Throws DeployError when it does
  /// not compile here, StoreError.
  void adopt(const Deployment& deployment);

  /// Reloads the journeys directory. True with {"reloaded", "deployment", "journeys",
  /// "diagnostics"}; false with {"reloaded": false, "error", ...} and the running set kept.
  std::pair<bool, nlohmann::json> reload(const std::string& reason);

  /// What reload() would do, done to nothing: true with {"dry_run": true, "reloaded": false,
  /// "would_reload", "deployment", "live_deployment", "diff"} (engine::program_diff of the live
  /// set and the directory, with the runs in flight of every version, from `run_counts`); false as
  /// reload() when the scripts have errors.
  std::pair<bool, nlohmann::json> preview(
      const std::vector<std::pair<StoredRun, std::size_t>>& run_counts);

  /// The live deployment: its id and journeys.
  std::pair<std::string, std::vector<engine::JourneyInfo>> live() const;

  /// Every journey version of the deployments kept (old versions go once collect() drops
  /// them), with when it was first deployed and its compiled program: what the console draws.
  std::vector<DeployedVersion> versions() const;
  /// The last check of the journeys folder (at start or by a reload); nothing before one.
  std::optional<ScriptCheck> last_check() const;

  /// The stored deployment holding a journey version (the newest such), if any: its files are the
  /// version's source (GET /v1/journeys/{name}/versions/{version}/source).
  std::optional<Deployment> source_of(const std::string& journey, const std::string& version) const;

  /// The (journey, older version) pairs whose runs move to the live version: the journey says
  /// `on update migrate` and an older version of it is kept.
  std::vector<std::pair<std::string, std::string>> migrating() const;

  /// Collects old versions: deletes every stored deployment but the live one whose versions no
  /// active run uses (nor is live) and whose goal windows have passed since it was replaced, and
  /// drops it from the engine. `settle` returns once every commit already handed to the writer
  /// is durable (the runs table then holds every run computed with an older live set). Returns
  /// how many deployments went. A cluster node never collects (its runs table holds only its own
  /// partitions' customers).
  std::size_t collect(const std::function<void()>& settle);
  /// Turns collect() off (a cluster node).
  void keep_all() { collect_ = false; }

 private:
  /// A stored deployment and its compiled program.
  struct Deployed {
    Deployment deployment;
    std::shared_ptr<const engine::Program> program;
  };

  /// Makes the set live: stored (under `deployment`'s id and time), then in the engine.
  void deploy(const JourneySet& set, const Deployment& deployment);
  /// Keeps a deployment as the newest (the live one when deployed), once.
  void remember(const Deployment& deployment, std::shared_ptr<const engine::Program> program);
  /// Keeps a check of the journeys folder for last_check().
  void checked(const JourneySet& set, const std::string& trigger, bool deployed);

  std::string journeys_dir_;
  engine::Engine& engine_;
  dsl::CheckOptions checks_;  // what the checks know of the engine: its model and topics
  std::shared_mutex& engine_mutex_;
  Store& store_;
  Metrics& metrics_;
  Clock clock_;
  std::mutex reload_mutex_;  // one reload (or collection) at a time
  mutable std::mutex live_mutex_;
  std::string live_id_;
  std::vector<engine::JourneyInfo> live_journeys_;
  std::vector<Deployed> deployed_;  // under live_mutex_: stored ones compiled, oldest first
  std::function<void(const Deployment&)> shared_;
  std::optional<ScriptCheck> last_check_;  // under live_mutex_
  bool collect_ = true;
};

}  // namespace journey::runtime
