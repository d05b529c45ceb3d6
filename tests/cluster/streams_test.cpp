// Reading, consuming, fetching and purging streams, and key-value entries, against a real
// three-server JetStream cluster: the pieces a node's takeover and dispatcher are made of.
#include <atomic>
#include <mutex>
#include <vector>

#include "cluster/cluster_support.hpp"

using namespace journey::test;
using journey::runtime::AsyncPublisher;
using journey::runtime::Message;
using journey::runtime::Outgoing;

TEST_CASE("read() returns a subject's messages in order, then stops", "[cluster]") {
  NatsCluster cluster;
  auto nats = connect_when_ready(cluster, "node-a");
  nats->ensure_stream({"LOG", {"log.*"}, 3});
  std::vector<std::uint64_t> sequences;
  for (int i = 0; i < 5; ++i) {
    sequences.push_back(nats->publish("log.1", "one-" + std::to_string(i)).sequence);
    nats->publish("log.2", "two-" + std::to_string(i));
  }
  std::vector<std::pair<std::uint64_t, std::string>> read;
  nats->read("LOG", "log.1", 0, [&](Message& message) {
    read.emplace_back(message.sequence(), std::string(message.data()));
  });
  REQUIRE(read.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(read[i].first == sequences[i]);
    CHECK(read[i].second == "one-" + std::to_string(i));
  }
  // From a sequence on; and nothing at all from an empty subject, without waiting.
  std::size_t from_third = 0;
  nats->read("LOG", "log.1", sequences[2], [&](Message&) { ++from_third; });
  CHECK(from_third == 3);
  std::size_t none = 0;
  nats->read("LOG", "log.3", 0, [&](Message&) { ++none; });
  CHECK(none == 0);
  // A purge keeps what comes from a sequence on.
  nats->purge("LOG", "log.1", sequences[3]);
  std::vector<std::uint64_t> kept;
  nats->read("LOG", "log.1", 0, [&](Message& message) { kept.push_back(message.sequence()); });
  CHECK(kept == std::vector<std::uint64_t>{sequences[3], sequences[4]});
  CHECK(nats->message_count("LOG", "log.2") == 5);
}

TEST_CASE(
    "consume() delivers from a sequence on, in order, and fetch() takes a work queue's messages",
    "[cluster]") {
  NatsCluster cluster;
  auto nats = connect_when_ready(cluster, "node-a");
  nats->ensure_stream({"EVENTS", {"events.>"}, 3});
  std::vector<std::uint64_t> sequences;
  for (int i = 0; i < 10; ++i) {
    sequences.push_back(
        nats->publish("events.1.k" + std::to_string(i % 3), std::to_string(i)).sequence);
    nats->publish("events.2.k", "other");
  }
  std::mutex mutex;
  std::vector<std::string> got;
  auto sub = nats->consume({"EVENTS", "events.1.>", sequences[4], 100, 30'000, false},
                           [&](Message message) {
                             std::lock_guard lock(mutex);
                             got.emplace_back(message.data());
                             message.ack();
                           });
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return got.size() == 6;
  }));
  CHECK(got == std::vector<std::string>{"4", "5", "6", "7", "8", "9"});

  nats->ensure_stream({"OUTBOX", {"outbox.>"}, 3, 120'000, 0, true});
  for (int i = 0; i < 5; ++i)
    nats->publish("outbox.1.k", "a" + std::to_string(i), "a" + std::to_string(i));
  auto pull = nats->pull("OUTBOX", "outbox.1.>", "outbox-1", 30'000);
  auto first = pull->fetch(3);
  REQUIRE(first.size() == 3);
  for (auto& message : first) message.ack();
  auto second = pull->fetch(10);
  REQUIRE(second.size() == 2);
  second[0].ack();
  second[1].nak(0);  // again at once
  auto third = pull->fetch(10);
  REQUIRE(third.size() == 1);
  CHECK(third[0].data() == "a4");
  CHECK(third[0].deliveries() == 2);
  third[0].ack();
  CHECK(pull->fetch(10).empty());
  // The work queue keeps only what nobody acknowledged.
  REQUIRE(eventually([&] { return nats->message_count("OUTBOX") == 0; }));
}

TEST_CASE("key-value entries by pattern, and a watch of later changes", "[cluster]") {
  NatsCluster cluster;
  auto nats = connect_when_ready(cluster, "node-a");
  auto kv = nats->bucket({"things", 3});
  kv->put("1.a", "x");
  kv->put("1.b", "y");
  kv->put("2.a", "z");
  kv->put("1.b", "y2");
  kv->erase("1.a");
  auto entries = kv->entries("1.>");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].key == "1.b");
  CHECK(entries[0].value == "y2");
  CHECK(kv->entries("3.>").empty());

  std::mutex mutex;
  std::vector<std::pair<std::string, bool>> seen;
  auto watch = kv->watch("2.>", [&](const journey::runtime::KeyedEntry& entry, bool deleted) {
    std::lock_guard lock(mutex);
    seen.emplace_back(entry.key, deleted);
  });
  kv->put("2.b", "w");
  kv->purge("2.a");
  // The watcher's consumer may sit on a replica that lags the leader under load: it delivers
  // the changes when it catches up.
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mutex);
        return seen.size() >= 3;
      },
      60));
  // The values present when the watch began, then the changes.
  CHECK(seen[0] == std::make_pair(std::string("2.a"), false));
  CHECK(seen[1] == std::make_pair(std::string("2.b"), false));
  CHECK(seen[2] == std::make_pair(std::string("2.a"), true));
  CHECK_FALSE(kv->get("2.a"));
}
