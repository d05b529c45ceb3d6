// A real cluster for the node tests: three nats-servers (tests/support/nats_cluster.hpp), `journey
// serve` nodes in child processes with [cluster] configurations (tests/cli/serve_support.hpp),
// and one webhook receiver in this process that every node delivers to, so that a test sees
// every send of the cluster in one place. Every wait is bounded.
#pragma once

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/serve_support.hpp"
#include "support/jetstream.hpp"
#include "support/nats_cluster.hpp"

namespace journey::test::cluster {

using journey::test::eventually;
using serve::body_of;
using serve::call;
using serve::DaemonProcess;
using serve::json;
using serve::metric;
using serve::Receiver;
using serve::TempDir;

/// A welcome series: a send at once, another after a wait (so a takeover has waits to fire).
inline constexpr const char* kWelcome = R"(journey welcome {
  entry on signup
  send email "welcome-1"
  wait 3s
  send email "welcome-2"
}
)";

/// The partitions of the test clusters.
inline constexpr int kClusterPartitions = 8;

/// The journey.toml of node `name` of the cluster at `urls`, delivering to the webhook at
/// `receiver`, with the given lease TTL and round.
inline std::string node_config(const std::string& name, const std::vector<std::string>& urls,
                               const std::string& receiver, const std::string& lease_ttl,
                               const std::string& lease_round) {
  std::string servers;
  for (const auto& url : urls) servers += (servers.empty() ? "\"" : ", \"") + url + "\"";
  return "journeys = \"journeys\"\ndb = \"copy.db\"\nlisten = \"127.0.0.1:0\"\n"
         "[engine]\nconsent = \"assumed\"\n"
         "[sink]\ndefault = \"webhook:" +
         receiver +
         "\"\n"
         "[webhook]\nbackoff_initial = \"100ms\"\n"
         "[cluster]\nengine = \"nats\"\nservers = [" +
         servers + "]\npartitions = " + std::to_string(kClusterPartitions) +
         "\nreplicas = 3\nnode = \"" + name + "\"\nlease_ttl = \"" + lease_ttl +
         "\"\nlease_round = \"" + lease_round + "\"\nmaterialize_every = \"500ms\"\n";
}

/// One `journey serve` node of the cluster.
struct Node {
  std::string name;
  TempDir dir;
  std::unique_ptr<DaemonProcess> process;

  std::string url(const std::string& path) const { return process->url(path); }
};

class ClusterFixture {
 public:
  static constexpr int kPartitions = kClusterPartitions;

  ClusterFixture() { nats_ = connect_when_ready(servers, "test"); }
  /// With JOURNEY_KEEP set, the nodes' folders stay (their logs), named on stdout.
  ~ClusterFixture() {
    if (std::getenv("JOURNEY_KEEP") == nullptr) return;
    for (auto& node : nodes) {
      node->dir.folder.keep();
      std::cout << "node " << node->name << ": " << node->dir.path << "\n";
    }
  }

  NatsCluster servers;
  Receiver receiver;
  std::vector<std::unique_ptr<Node>> nodes;

  /// How long a lease lasts and how often it is renewed: short, so that the tests see takeovers
  /// quickly; a test that loses a JetStream server sets them nearer the defaults (electing new
  /// stream leaders takes seconds).
  std::string lease_ttl = "3s";
  std::string lease_round = "500ms";

  /// Starts node `name` (its configuration written anew); waits until it listens.
  Node& start(const std::string& name, const std::string& journey = kWelcome) {
    auto node = std::make_unique<Node>();
    node->name = name;
    node->dir.write("journeys/welcome.journey", journey);
    node->dir.write("journey.toml",
                    node_config(name, servers.urls(), receiver.url(), lease_ttl, lease_round));
    node->process = std::make_unique<serve::DaemonProcess>(
        node->dir, std::vector<std::string>{"--config", "journey.toml"});
    INFO("node " << name << " did not start; its log:\n" << node->process->log());
    REQUIRE(node->process->started());
    nodes.push_back(std::move(node));
    return *nodes.back();
  }

  /// GET /v1/cluster from a node (null when it does not answer).
  json status(const Node& node) const {
    auto answer = call("GET", node.url("/v1/cluster"));
    return answer.status == 200 ? body_of(answer) : json();
  }
  /// The partitions each node owns, by the leases (from `asking`'s GET /v1/cluster).
  std::map<std::string, std::set<int>> owners(const Node& asking) const {
    std::map<std::string, std::set<int>> out;
    auto s = status(asking);
    if (!s.is_object()) return out;
    for (const auto& item : s["partition_owners"]) {
      if (!item["owner"].is_null()) out[item["owner"]].insert(item["partition"].get<int>());
    }
    return out;
  }
  /// Whether every partition is owned by one of `names` and each of them owns some.
  bool shared_by(const Node& asking, const std::set<std::string>& names) const {
    auto by_owner = owners(asking);
    std::size_t owned = 0;
    for (const auto& [owner, partitions] : by_owner) {
      if (names.count(owner) == 0) return false;
      owned += partitions.size();
    }
    return by_owner.size() == names.size() && owned == kPartitions;
  }

  /// The NATS connection of the test itself (to read the streams).
  runtime::Nats& nats() { return *nats_; }

 private:
  std::unique_ptr<runtime::Nats> nats_;
};

/// Sign-ups of customers `prefix`0 .. `prefix`N-1 as one batch, each with a messageId.
inline std::string signups(const std::string& prefix, int first, int count) {
  json batch = json::array();
  for (int i = first; i < first + count; ++i) {
    batch.push_back({{"type", "track"},
                     {"event", "signup"},
                     {"userId", prefix + std::to_string(i)},
                     {"messageId", "m-" + prefix + std::to_string(i)}});
  }
  return json{{"batch", batch}}.dump();
}

/// The sends the receiver got: customer -> template -> the distinct action ids.
inline std::map<std::string, std::map<std::string, std::set<std::string>>> sends(
    Receiver& receiver) {
  std::map<std::string, std::map<std::string, std::set<std::string>>> out;
  for (const auto& delivery : receiver.deliveries()) {
    out[delivery.body.value("customer_id", "")][delivery.body.value("template", "")].insert(
        delivery.idempotency_key);
  }
  return out;
}

/// Whether every customer of `customers` got welcome-1 and welcome-2.
inline bool all_sent(Receiver& receiver, const std::set<std::string>& customers) {
  auto got = sends(receiver);
  for (const auto& customer : customers) {
    auto it = got.find(customer);
    if (it == got.end() || it->second.count("welcome-1") == 0 ||
        it->second.count("welcome-2") == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace journey::test::cluster
