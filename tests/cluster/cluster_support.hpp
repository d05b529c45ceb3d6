// What the cluster tests share: a JetStream cluster that has elected its leader, and a node's
// view of it (a connection, the lease buckets, the partition log).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "runtime/cluster/leases.hpp"
#include "runtime/cluster/nats.hpp"
#include "support/nats_cluster.hpp"

namespace journey::test {

/// Connects once JetStream answers with a replicated stream (a cluster takes a moment to elect
/// its meta leader), at most 30 s.
inline std::unique_ptr<runtime::Nats> connect_when_ready(const NatsCluster& cluster,
                                                         const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      auto nats = std::make_unique<runtime::Nats>(cluster.urls(), name);
      nats->ensure_stream({"READY", {"ready.>"}, 3});
      return nats;
    } catch (const runtime::NatsError& e) {
      if (std::chrono::steady_clock::now() > deadline) FAIL("JetStream not ready: " << e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

/// One node's handles on the cluster's lease buckets and partition log.
struct NodeView {
  std::unique_ptr<runtime::Nats> nats;
  std::unique_ptr<runtime::KeyValue> leases;
  std::unique_ptr<runtime::KeyValue> nodes;
  std::unique_ptr<runtime::PartitionLog> log;

  NodeView(const NatsCluster& cluster, const std::string& name, std::int64_t ttl_ms) {
    nats = connect_when_ready(cluster, name);
    nats->ensure_stream({"LOG", {"log.*"}, 3});
    leases = nats->bucket({"leases", 3, ttl_ms});
    nodes = nats->bucket({"nodes", 3, ttl_ms});
    log = std::make_unique<runtime::PartitionLog>(*nats, "LOG", "log");
  }
};

/// Polls `condition` every 50 ms for at most `seconds`.
template <typename F>
bool eventually(F condition, double seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace journey::test
