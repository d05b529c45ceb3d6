// bench_cluster: durable ingest into a three-server JetStream cluster (R3), the way a cluster
// node of issue 12 will publish accepted events: batches of --batch events, one subject per
// partition, a Nats-Msg-Id each, every event acknowledged (stored on a quorum) before the next
// batch of that connection. Starts the servers itself (nats-server on the PATH) on free loopback
// ports in a temporary folder.
//
//   bench_cluster [--events N] [--batch N] [--connections N] [--partitions N] [--bytes N]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cluster/nats.hpp"
#include "support/jetstream.hpp"
#include "support/nats_cluster.hpp"

namespace {

struct Options {
  long events = 200'000;
  long batch = 500;
  int connections = 4;
  int partitions = 64;
  long bytes = 300;  // about a Segment track event
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long value = std::atol(argv[i + 1]);
    if (flag == "--events")
      options.events = value;
    else if (flag == "--batch")
      options.batch = value;
    else if (flag == "--connections")
      options.connections = static_cast<int>(value);
    else if (flag == "--partitions")
      options.partitions = static_cast<int>(value);
    else if (flag == "--bytes")
      options.bytes = value;
    else {
      std::cerr << "usage: bench_cluster [--events N] [--batch N] [--connections N] "
                   "[--partitions N] [--bytes N]\n";
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  journey::test::NatsCluster cluster;
  std::vector<std::unique_ptr<journey::runtime::Nats>> connections;
  for (int c = 0; c < options.connections; ++c) {
    connections.push_back(journey::test::connect_when_ready(cluster, "bench-" + std::to_string(c)));
  }
  connections[0]->ensure_stream({"EVENTS", {"events.*"}, 3});
  // A new stream answers once its replicas elected a leader: one warm-up message, retried until
  // stored (at most 30 s), before the clock starts; not counted below.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      connections[0]->publish("events.warm-up", "{}", "warm-up");
      break;
    } catch (const journey::runtime::NatsError& e) {
      if (!e.transient() || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const std::string body(static_cast<std::size_t>(options.bytes), 'x');
  std::atomic<long> next{0};
  std::atomic<long> failed{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      journey::runtime::AsyncPublisher publisher(*connections[static_cast<std::size_t>(c)],
                                                 4 * options.batch);
      for (;;) {
        const long first = next.fetch_add(options.batch);
        if (first >= options.events) break;
        std::vector<journey::runtime::Outgoing> batch;
        for (long i = first; i < std::min(options.events, first + options.batch); ++i) {
          batch.push_back(
              {"events." + std::to_string(i % options.partitions), "m" + std::to_string(i), body});
        }
        for (const auto& result : publisher.publish(batch, 30'000)) {
          if (!result.error.empty()) ++failed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto stored = connections[0]->message_count("EVENTS") - 1;  // the warm-up message
  std::printf(
      "durable ingest, R3, %ld events of %ld bytes, batches of %ld, %d connections: "
      "%.0f events/s (%.2f s); %llu stored, %ld failed\n",
      options.events, options.bytes, options.batch, options.connections,
      static_cast<double>(options.events) / seconds, seconds,
      static_cast<unsigned long long>(stored), failed.load());
  return stored == static_cast<std::uint64_t>(options.events) && failed == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "bench_cluster: " << e.what() << "\n";
  return 2;
}
