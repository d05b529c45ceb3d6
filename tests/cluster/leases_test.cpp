// Partition leases and fencing against a real three-server JetStream cluster.
#include <iostream>
#include <set>

#include "cluster/cluster_support.hpp"

using namespace journey::test;
using journey::runtime::Fenced;
using journey::runtime::LeaseSettings;
using journey::runtime::Ownership;
using journey::runtime::PartitionLeases;

namespace {

constexpr int kPartitions = 8;
constexpr std::int64_t kTtlMs = 1500;

LeaseSettings settings(const std::string& node, std::int64_t ttl_ms = kTtlMs) {
  return {node, kPartitions, ttl_ms, 200};
}

/// The partitions two nodes own: disjoint, and together all of them.
bool split_between(const PartitionLeases& a, const PartitionLeases& b) {
  std::set<int> all;
  for (const auto& [p, o] : a.owned()) all.insert(p);
  for (const auto& [p, o] : b.owned()) {
    if (!all.insert(p).second) return false;
  }
  return all.size() == kPartitions;
}

}  // namespace

TEST_CASE("two nodes split the partitions, a joining node takes a fair share", "[cluster]") {
  NatsCluster cluster;
  NodeView view_a(cluster, "node-a", kTtlMs);
  NodeView view_b(cluster, "node-b", kTtlMs);
  std::atomic<int> acquired_a{0};
  PartitionLeases a(*view_a.leases, *view_a.nodes, *view_a.log, settings("node-a"),
                    {[&](const Ownership&) { ++acquired_a; }, nullptr});
  a.start();
  REQUIRE(eventually([&] { return a.owned().size() == kPartitions; }));
  CHECK(acquired_a == kPartitions);

  PartitionLeases b(*view_b.leases, *view_b.nodes, *view_b.log, settings("node-b"), {});
  // Node A gives back beyond its share once it sees B's heartbeat; B takes what is free.
  b.start();
  REQUIRE(eventually([&] { return a.owned().size() == 4 && b.owned().size() == 4; }));
  CHECK(split_between(a, b));
  // Every lease in the bucket is held by the node that thinks it owns it.
  for (const auto& [p, o] : b.owned()) {
    auto entry = view_a.leases->get(journey::runtime::lease_key(p));
    REQUIRE(entry);
    CHECK(entry->value == "node-b");
  }
  a.stop(true);
  b.stop(true);
}

TEST_CASE("a dead node's partitions are taken over after the lease expires", "[cluster]") {
  NatsCluster cluster;
  NodeView view_a(cluster, "node-a", kTtlMs);
  NodeView view_b(cluster, "node-b", kTtlMs);
  PartitionLeases a(*view_a.leases, *view_a.nodes, *view_a.log, settings("node-a"), {});
  PartitionLeases b(*view_b.leases, *view_b.nodes, *view_b.log, settings("node-b"), {});
  a.start();
  b.start();
  REQUIRE(eventually([&] { return a.owned().size() == 4 && b.owned().size() == 4; }));
  // A dies: no more renewals, nothing given back.
  a.stop(false);
  const auto died = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return b.owned().size() == kPartitions; }));
  std::cout << "takeover after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - died).count()
            << " s (lease TTL " << kTtlMs << " ms)\n";
  b.stop(true);
}

TEST_CASE("an owner that stalled past its lease cannot append once taken over", "[cluster]") {
  NatsCluster cluster;
  NodeView view_a(cluster, "node-a", kTtlMs);
  NodeView view_b(cluster, "node-b", kTtlMs);
  PartitionLeases a(*view_a.leases, *view_a.nodes, *view_a.log, settings("node-a"), {});
  a.round();  // alone: takes every partition, without a thread (a stalled owner renews nothing)
  REQUIRE(a.owned().size() == kPartitions);
  const Ownership stale = a.owned().at(3);
  // Its own appends go on while nobody took over.
  const auto next = view_a.log->append(3, stale.fence, R"({"type":"commit"})");
  CHECK(next > stale.fence);

  // A stalls past the TTL; B takes the partitions over.
  std::set<int> acquired_b;
  std::mutex acquired_mutex;
  PartitionLeases b(*view_b.leases, *view_b.nodes, *view_b.log, settings("node-b"),
                    {[&](const Ownership& o) {
                       std::lock_guard lock(acquired_mutex);
                       acquired_b.insert(o.partition);
                     },
                     nullptr});
  b.start();
  REQUIRE(eventually([&] {
    std::lock_guard lock(acquired_mutex);
    return acquired_b.count(3) == 1;
  }));
  // A wakes up and appends with the fence it had: refused by JetStream.
  CHECK_THROWS_AS(view_a.log->append(3, next, R"({"type":"commit"})"), Fenced);
  // Its renewal fails too, so it drops the partition.
  a.round();
  CHECK(a.owned().count(3) == 0);
  b.stop(true);
}

TEST_CASE("leases survive the loss of one JetStream server of three", "[cluster]") {
  // While a stream elects its new leader no lease can be renewed, so the TTL must outlast the
  // election: nats-server waits 4 to 9 s (its raft election timeout) after the lost leader's last
  // heartbeat, and a split vote between the two servers left starts another wait. That took more
  // than 8 s on a loaded CI machine; 30 s covers a split vote.
  constexpr std::int64_t kLongTtlMs = 30000;
  NatsCluster cluster;
  NodeView view_a(cluster, "node-a", kLongTtlMs);
  std::atomic<int> lost{0};
  PartitionLeases a(*view_a.leases, *view_a.nodes, *view_a.log, settings("node-a", kLongTtlMs),
                    {nullptr, [&](int, bool) { ++lost; }});
  a.start();
  REQUIRE(eventually([&] { return a.owned().size() == kPartitions; }));
  const auto before = a.owned().at(0).lease_revision;
  // The buckets are replicated on all three servers: with one gone, the other two are a quorum.
  cluster.kill(0);
  // Renewals go on once any election is over (the revision moves), and no lease was lost.
  REQUIRE(eventually(
      [&] { return a.owned().count(0) == 1 && a.owned().at(0).lease_revision > before + 5; }, 60));
  CHECK(lost == 0);
  CHECK(a.owned().size() == kPartitions);
  // Appends to the partition log go on too.
  const auto fence = a.owned().at(0).fence;
  CHECK(view_a.log->append(0, fence, R"({"type":"commit"})") > fence);
  a.stop(true);
}
