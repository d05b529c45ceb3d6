// bench_cluster_serve: the cluster figures of issue 12, on the real `journey serve` nodes.
//
// Starts three nats-servers (JetStream, R3) and two nodes on loopback in a temporary folder,
// with bench/wait.journey (every sign-up waits one hour, then one send) and a file sink per node.
//
//   ingest    N sign-ups (one customer each) posted to /v1/batch on both nodes over C
//             connections as fast as JetStream acknowledges them (stored on a quorum of replicas):
//             the durable ingest rate; then the time until the nodes processed every event
//             (their consumption lag back at zero), the processing rate, the CPU the nodes used per
//             event, and the JetStream bytes per customer (every stream and bucket, one replica).
//   takeover  node B is killed (SIGKILL) with its customers' waits pending; the time until node A
//             owns every partition, rebuilt, and holds every pending wait.
//
//   bench_cluster_serve --journey BIN --wait FILE [--customers N] [--batch N] [--connections N]
//                       [--partitions N] [--keep]
#include <signal.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "runtime/cluster/layout.hpp"
#include "support/daemon_process.hpp"
#include "support/jetstream.hpp"
#include "support/nats_cluster.hpp"

namespace fs = std::filesystem;
using namespace journey::bench;
using nlohmann::json;

namespace {

struct Options {
  std::string journey_bin;
  std::string wait_journey;
  long customers = 100'000;
  std::size_t batch = 500;
  int connections = 8;
  int partitions = 64;
  bool keep = false;
};

[[noreturn]] void die(const std::string& message) {
  std::cerr << "bench_cluster_serve: " << message << "\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--journey") {
      options.journey_bin = value();
    } else if (flag == "--wait") {
      options.wait_journey = value();
    } else if (flag == "--customers") {
      options.customers = std::stol(value());
    } else if (flag == "--batch") {
      options.batch = std::stoul(value());
    } else if (flag == "--connections") {
      options.connections = std::stoi(value());
    } else if (flag == "--partitions") {
      options.partitions = std::stoi(value());
    } else if (flag == "--keep") {
      options.keep = true;
    } else {
      die("usage: bench_cluster_serve --journey BIN --wait FILE [--customers N] [--batch N] "
          "[--connections N] [--partitions N] [--keep]");
    }
  }
  if (options.journey_bin.empty() || options.wait_journey.empty()) die("--journey and --wait");
  return options;
}

/// One node: its folder, configuration and process.
struct Node {
  std::string name;
  std::unique_ptr<journey::test::TempFolder> dir;
  std::unique_ptr<journey::test::DaemonProcess> process;
};

Node start_node(const Options& options, const journey::test::NatsCluster& servers,
                const std::string& name) {
  Node node;
  node.name = name;
  node.dir = std::make_unique<journey::test::TempFolder>("bench-cluster-" + name + "-");
  if (options.keep) node.dir->keep();
  fs::copy_file(options.wait_journey, node.dir->path() / "journeys" / "wait.journey");
  std::string urls;
  for (const auto& url : servers.urls()) urls += (urls.empty() ? "\"" : ", \"") + url + "\"";
  node.dir->write("journey.toml",
                  "journeys = \"journeys\"\ndb = \"copy.db\"\n"
                  "[sink]\ndefault = \"file:actions.ndjson\"\n"
                  "[limits]\nrequests_per_connection = 100000000\n"
                  "[cluster]\nengine = \"nats\"\nservers = [" +
                      urls + "]\npartitions = " + std::to_string(options.partitions) +
                      "\nreplicas = 3\nnode = \"" + name + "\"\n");
  node.process = std::make_unique<journey::test::DaemonProcess>(
      options.journey_bin, node.dir->path(),
      std::vector<std::string>{"serve", "--config", "journey.toml", "--listen", "127.0.0.1:0"},
      std::chrono::seconds(60));
  if (!node.process->started()) {
    die("node " + name + " did not start; see " + (node.dir->path() / "daemon.log").string());
  }
  if (options.keep) std::cerr << "node " << name << ": " << node.dir->path() << "\n";
  return node;
}

/// GET /v1/cluster from a node (an empty object when it does not answer).
json status(const Node& node) {
  Connection connection(node.process->port());
  auto answer = connection.call(get_request("/v1/cluster"));
  auto body = json::parse(answer.body, nullptr, false);
  return answer.status == 200 && body.is_object() ? body : json::object();
}

/// The partitions each node owns and the cluster's lag and pending wake-ups, from the
/// heartbeats in a status.
struct Ownership {
  std::map<std::string, int> partitions;  // by owner
  std::uint64_t lag = 0;
  std::uint64_t wakeups = 0;
  int unowned = 0;
};

Ownership ownership(const json& status) {
  Ownership out;
  for (const auto& item : status.value("partition_owners", json::array())) {
    if (item["owner"].is_null()) {
      ++out.unowned;
      continue;
    }
    ++out.partitions[item["owner"].get<std::string>()];
    out.lag += item.value("lag", std::uint64_t{0});
    out.wakeups += item.value("pending_wakeups", std::uint64_t{0});
  }
  return out;
}

/// Polls `condition` every 100 ms for at most `seconds`; whether it held.
template <typename F>
bool wait_for(F condition, double seconds) {
  const auto deadline = SteadyClock::now() + std::chrono::duration<double>(seconds);
  while (SteadyClock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

/// One sample of a node's /metrics, or -1.
double node_metric(const Node& node, const std::string& name) {
  Connection connection(node.process->port());
  return metric(connection, name);
}

}  // namespace

int main(int argc, char** argv) try {
  const auto options = parse(argc, argv);
  journey::test::NatsCluster servers;
  auto nats = journey::test::connect_when_ready(servers, "bench");
  auto a = start_node(options, servers, "a");
  auto b = start_node(options, servers, "b");
  const auto half = options.partitions / 2;
  if (!wait_for(
          [&] {
            auto own = ownership(status(a));
            return own.partitions["a"] == half && own.partitions["b"] == half &&
                   node_metric(a, "journey_cluster_partitions_owned") == half &&
                   node_metric(b, "journey_cluster_partitions_owned") == half;
          },
          120)) {
    die("the nodes did not share the partitions out");
  }
  std::cout << "machine: " << std::thread::hardware_concurrency() << " cores; 3 nats-servers (R3), "
            << "2 nodes, " << options.partitions << " partitions" << std::endl;

  // --- ingest ---------------------------------------------------------------------------------
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto stamp = journey::engine::format_timestamp(now);
  std::vector<std::string> lines;
  lines.reserve(static_cast<std::size_t>(options.customers));
  for (long i = 0; i < options.customers; ++i) {
    lines.push_back(R"({"type":"track","event":"signup","userId":"u)" + std::to_string(i) +
                    R"(","messageId":"m)" + std::to_string(i) + R"(","timestamp":")" + stamp +
                    R"(","properties":{"plan":"trial","source":"bench"}})");
  }
  auto requests = batch_requests(lines, options.batch);
  auto servers_cpu = [&] {
    double total = 0;
    for (int i = 0; i < servers.size(); ++i)
      total += journey::test::process_cpu_seconds(servers.pid(i));
    return total;
  };
  const double cpu_before = a.process->cpu_seconds() + b.process->cpu_seconds();
  const double servers_before = servers_cpu();
  auto result = drive({a.process->port(), b.process->port()}, requests, options.connections, 0);
  const auto acknowledged = static_cast<double>(result.accepted + result.duplicates);
  const double rate = acknowledged / result.seconds;
  figure("durable ingest, /v1/batch on 2 nodes (" + std::to_string(options.batch) + "/batch, " +
             std::to_string(options.connections) + " conn)",
         grouped(rate) + " events/s (" + grouped(acknowledged) + " in " + fixed(result.seconds, 1) +
             " s; " + std::to_string(result.failed) + " requests refused)",
         ">= 30,000 events/s", rate >= 30'000 && result.failed == 0);
  note("ack latency under full load: p50 " + fixed(percentile(result.latencies, 0.5) * 1000, 1) +
       " ms, p99 " + fixed(percentile(result.latencies, 0.99) * 1000, 1) + " ms");
  const auto ingest_started =
      SteadyClock::now() - std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(result.seconds));
  if (!wait_for(
          [&] {
            auto own = ownership(status(a));
            return own.lag == 0 && own.wakeups >= static_cast<std::uint64_t>(result.accepted);
          },
          900)) {
    die("the nodes did not process every event in 15 minutes");
  }
  const double processed_after = since(ingest_started);
  const double cpu = a.process->cpu_seconds() + b.process->cpu_seconds() - cpu_before;
  const double servers_used = servers_cpu() - servers_before;
  figure("every event processed (consumed, committed to its partition log)",
         fixed(processed_after, 1) +
             " s after the first post = " + grouped(acknowledged / processed_after) + " events/s",
         "(none)", std::nullopt);
  figure("node CPU per event (both nodes, ingest + processing)",
         fixed(cpu * 1e6 / acknowledged, 1) + " us", "(none)", std::nullopt);
  figure("nats-server CPU per event (three servers)",
         fixed(servers_used * 1e6 / acknowledged, 1) + " us", "(none)", std::nullopt);
  // Let the materializers copy every customer, then count what JetStream holds.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::uint64_t bytes = 0;
  std::string per_stream;
  for (const char* stream : {"JOURNEY_EVENTS", "JOURNEY_LOG", "JOURNEY_OUTBOX",
                             "KV_journey_customers", "KV_journey_partitions"}) {
    const auto held = nats->stream_bytes(stream);
    bytes += held;
    per_stream += std::string(" ") + stream + "=" +
                  grouped(static_cast<double>(held) / static_cast<double>(options.customers));
  }
  figure("JetStream bytes per customer (one replica; x3 on disk)",
         grouped(static_cast<double>(bytes) / static_cast<double>(options.customers)) + " B",
         "(none)", std::nullopt);
  note("per stream, per customer:" + per_stream);

  // --- takeover -------------------------------------------------------------------------------
  const auto wakeups_before = ownership(status(a)).wakeups;
  b.process->signal(SIGKILL);
  const auto killed = SteadyClock::now();
  if (!wait_for(
          [&] { return node_metric(a, "journey_cluster_partitions_owned") == options.partitions; },
          120)) {
    die("node A did not take every partition over");
  }
  const double took = since(killed);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a heartbeat round counts them
  // The waits A now holds, from its own metrics (B's heartbeat is gone with it).
  double held = 0;
  {
    Connection connection(a.process->port());
    auto answer = connection.call(get_request("/metrics"));
    std::istringstream in(answer.body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("journey_partition_pending_wakeups{", 0) == 0) {
        held += std::atof(line.c_str() + line.rfind(' ') + 1);
      }
    }
  }
  figure("takeover of a dead node's " + std::to_string(options.partitions - half) +
             " partitions (" + grouped(static_cast<double>(wakeups_before)) + " pending waits)",
         fixed(took, 2) + " s from SIGKILL to every partition rebuilt on A", "< 10 s", took < 10);
  note("pending waits held by A afterwards: " + grouped(held) + " (counted once a round)");
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_cluster_serve: " << e.what() << "\n";
  return 2;
}
