// Asynchronous publishing of batches against a real three-server JetStream cluster.
#include <set>

#include "cluster/cluster_support.hpp"

using namespace journey::test;
using journey::runtime::AsyncPublisher;
using journey::runtime::Outgoing;

namespace {

std::vector<Outgoing> batch(int first, int count) {
  std::vector<Outgoing> out;
  for (int i = first; i < first + count; ++i) {
    out.push_back({"events." + std::to_string(i % 4), "m" + std::to_string(i),
                   R"({"n":)" + std::to_string(i) + "}"});
  }
  return out;
}

}  // namespace

TEST_CASE("a batch is acknowledged message by message, a retry through another node is stored once",
          "[cluster]") {
  NatsCluster cluster;
  auto node_a = connect_when_ready(cluster, "node-a");
  auto node_b = connect_when_ready(cluster, "node-b");
  node_a->ensure_stream({"EVENTS", {"events.*"}, 3});
  AsyncPublisher a(*node_a, 256);
  AsyncPublisher b(*node_b, 256);

  const auto first = a.publish(batch(0, 1000), 10'000);
  REQUIRE(first.size() == 1000);
  std::set<std::uint64_t> sequences;
  for (const auto& result : first) {
    CHECK(result.error.empty());
    CHECK_FALSE(result.duplicate);
    sequences.insert(result.sequence);
  }
  CHECK(sequences.size() == 1000);  // every message stored, each at its own sequence

  // The same POST retried on node B (half of it, then all of it with 500 new ones): the known
  // Nats-Msg-Ids are answered as duplicates with their first sequence.
  const auto retry = b.publish(batch(500, 1000), 10'000);
  for (std::size_t i = 0; i < retry.size(); ++i) {
    CHECK(retry[i].error.empty());
    CHECK(retry[i].duplicate == (i < 500));
    if (i < 500) CHECK(retry[i].sequence == first[500 + i].sequence);
  }
  CHECK(node_a->message_count("EVENTS") == 1500);
}

TEST_CASE("a publish nobody can store gets an error per message, not a hang", "[cluster]") {
  NatsCluster cluster;
  auto nats = connect_when_ready(cluster, "node-a");
  AsyncPublisher publisher(*nats, 64);
  // No stream listens on this subject: JetStream has no responder for it.
  const auto results =
      publisher.publish({{"nowhere.1", "x", "{}"}, {"nowhere.2", "y", "{}"}}, 3000);
  REQUIRE(results.size() == 2);
  for (const auto& result : results) CHECK_FALSE(result.error.empty());
}
