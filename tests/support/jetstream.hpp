// A connection to a test NatsCluster once JetStream answers (a new cluster takes a moment to elect
// its meta leader), for the cluster tests and bench_cluster.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "runtime/cluster/nats.hpp"
#include "support/nats_cluster.hpp"

namespace journey::test {

/// Connects as `name` and creates a replicated probe stream, retrying for at most 30 s; throws
/// the last NatsError after that.
inline std::unique_ptr<runtime::Nats> connect_when_ready(const NatsCluster& cluster,
                                                         const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      auto nats = std::make_unique<runtime::Nats>(cluster.urls(), name);
      nats->ensure_stream({"READY", {"ready.>"}, 3});
      return nats;
    } catch (const runtime::NatsError&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace journey::test
