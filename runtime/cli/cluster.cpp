// `journey cluster status`: the nodes, partitions, owners and lag of a cluster, read from its
// JetStream buckets (no running node needed). See docs/operations.md, Cluster.
#include <iomanip>
#include <iostream>
#include <map>

#include "runtime/cli/command.hpp"
#include "runtime/common/config.hpp"
#include "runtime/serve/cluster_node.hpp"

namespace journey::cli {

namespace {

struct StatusOptions {
  std::string config_path;
  bool json = false;
};

/// The status as a person reads it: one line per node, then the partitions by owner.
void print_status(const nlohmann::json& status) {
  std::cout << "nodes:\n";
  for (const auto& node : status["nodes"]) {
    std::cout << "  " << node.value("node", "?") << "  listen " << node.value("listen", "-")
              << "  owns " << (node.contains("owned") ? node["owned"].size() : 0)
              << " partitions\n";
  }
  std::map<std::string, std::vector<int>> by_owner;
  std::uint64_t lag = 0;
  std::uint64_t wakeups = 0;
  for (const auto& item : status["partition_owners"]) {
    const auto owner =
        item["owner"].is_null() ? std::string("(none)") : item["owner"].get<std::string>();
    by_owner[owner].push_back(item["partition"]);
    lag += item.value("lag", std::uint64_t{0});
    wakeups += item.value("pending_wakeups", std::uint64_t{0});
  }
  std::cout << "partitions: " << status["partitions"] << " (" << status["unowned"]
            << " without an owner)\n";
  for (const auto& [owner, partitions] : by_owner) {
    std::cout << "  " << std::left << std::setw(16) << owner;
    for (int p : partitions) std::cout << " " << p;
    std::cout << "\n";
  }
  std::cout << "lag: " << lag << " events not yet processed; pending wake-ups: " << wakeups << "\n";
  std::cout << "streams:";
  for (const auto& [name, count] : status["streams"].items()) {
    std::cout << " " << name << "=" << count;
  }
  std::cout << " messages\n";
}

int status(const StatusOptions& options) {
  try {
    auto config = runtime::load_config(options.config_path, {});
    if (!config.cluster) {
      std::cerr << "journey cluster status: " << options.config_path << " has no [cluster] table\n";
      return kExitUsage;
    }
    auto status = runtime::ClusterNode::read_status(*config.cluster, config.retention);
    if (options.json) {
      std::cout << status.dump(2) << "\n";
    } else {
      print_status(status);
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "journey cluster status: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace

void add_cluster(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("cluster", "Look at a cluster of daemons (NATS JetStream).");
  sub->require_subcommand(1);
  auto options = std::make_shared<StatusOptions>();
  auto* status_cmd =
      sub->add_subcommand("status", "Nodes, partitions, owners and lag, read from the cluster.");
  status_cmd->add_option("--config", options->config_path, "journey.toml with a [cluster] table")
      ->required();
  status_cmd->add_flag("--json", options->json, "the status as JSON (as GET /v1/cluster answers)");
  status_cmd->callback([&run, options] { run = [options] { return status(*options); }; });
}

}  // namespace journey::cli
