// What the cluster tests share: a node's view of a test JetStream cluster (a connection, the
// lease buckets, the partition log).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "runtime/cluster/leases.hpp"
#include "runtime/cluster/nats.hpp"
#include "support/eventually.hpp"
#include "support/jetstream.hpp"
#include "support/nats_cluster.hpp"

namespace journey::test {

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

}  // namespace journey::test
