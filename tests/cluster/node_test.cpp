// `journey serve` as a cluster: real nats-servers, real nodes in child processes, a real webhook
// receiver. Each test states what an operator is promised (docs/operations.md, Cluster).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "cli/cli_support.hpp"
#include "cluster/node_support.hpp"
#include "runtime/cluster/layout.hpp"

using namespace journey::test::cluster;
using journey::runtime::Layout;
using journey::runtime::Message;
using journey::runtime::partition_of;
using journey::test::NatsCluster;

namespace {

/// Posts batches of sign-ups to the nodes in turn, from a thread of its own, until stopped; keeps
/// the customers of every batch a node acknowledged (200).
class Load {
 public:
  Load(std::vector<Node*> targets, std::string prefix)
      : targets_(std::move(targets)), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Load() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Stops sending to this node (it is about to die).
  void drop(Node* node) {
    std::lock_guard lock(mutex_);
    std::erase(targets_, node);
  }
  std::set<std::string> acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::size_t refused() const { return refused_; }

 private:
  void run() {
    constexpr int kBatch = 20;
    for (int batch = 0; !stopping_; ++batch) {
      Node* target = nullptr;
      {
        std::lock_guard lock(mutex_);
        if (targets_.empty()) break;
        target = targets_[static_cast<std::size_t>(batch) % targets_.size()];
      }
      auto answer =
          call("POST", target->url("/v1/batch"), signups(prefix_, batch * kBatch, kBatch));
      if (answer.status == 200) {
        std::lock_guard lock(mutex_);
        for (int i = batch * kBatch; i < (batch + 1) * kBatch; ++i) {
          acknowledged_.insert(prefix_ + std::to_string(i));
        }
      } else {
        ++refused_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::vector<Node*> targets_;
  std::string prefix_;
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  std::atomic<std::size_t> refused_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// No customer got one template under two different action ids, and no action id twice.
void check_exactly_once(Receiver& receiver) {
  for (const auto& [customer, templates] : sends(receiver)) {
    for (const auto& [name, ids] : templates) {
      INFO(customer << " " << name);
      CHECK(ids.size() == 1);
    }
  }
}

}  // namespace

TEST_CASE("ingest on node A of customers owned by node B: every send appears once", "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  const auto owners = cluster.owners(a);

  auto answer = call("POST", a.url("/v1/batch"), signups("c", 0, 100));
  REQUIRE(answer.status == 200);
  CHECK(body_of(answer)["accepted"] == 100);
  std::set<std::string> customers;
  std::size_t of_b = 0;
  for (int i = 0; i < 100; ++i) {
    const auto id = "c" + std::to_string(i);
    customers.insert(id);
    of_b += owners.at("b").count(partition_of(id, ClusterFixture::kPartitions));
  }
  REQUIRE(of_b > 0);  // some of them are B's
  REQUIRE(eventually([&] { return all_sent(cluster.receiver, customers); }, 30));
  check_exactly_once(cluster.receiver);
  CHECK(cluster.receiver.deliveries().size() == 200);
  // Both nodes delivered: each its own partitions' sends.
  CHECK(metric(*a.process, "journey_deliveries_total{result=\"delivered\"}") > 0);
  CHECK(metric(*b.process, "journey_deliveries_total{result=\"delivered\"}") > 0);

  // Every read works on every node: a customer of B's, asked of A.
  std::string of_b_id;
  for (const auto& id : customers) {
    if (owners.at("b").count(partition_of(id, ClusterFixture::kPartitions))) of_b_id = id;
  }
  auto view = call("GET", a.url("/v1/customers/" + of_b_id));
  REQUIRE(view.status == 200);
  CHECK(body_of(view)["customer_id"] == of_b_id);
  CHECK(body_of(view)["recent_actions"].size() == 2);
  auto explain = call("GET", a.url("/v1/customers/" + of_b_id + "/explain"));
  CHECK(explain.status == 200);
  CHECK(call("GET", a.url("/v1/customers/nobody")).status == 404);
  // The console reads alike: the page of a customer of B's, asked of A, has its actions.
  const auto page = call("GET", a.url("/ui/customers?id=" + of_b_id));
  CHECK(page.status == 200);
  CHECK(page.body.find("welcome-2") != std::string::npos);
  // The journey counters of the whole cluster, on either node, in the API and on the canvas.
  REQUIRE(eventually([&] {
    auto journeys = body_of(call("GET", b.url("/v1/journeys")));
    return journeys["journeys"][0]["versions"][0].value("entered", 0) == 100 &&
           journeys["journeys"][0]["versions"][0].value("sends", 0) == 200;
  }));
  const auto canvas = call("GET", a.url("/ui/journeys/welcome"));
  CHECK(canvas.status == 200);
  CHECK(canvas.body.find("100 entered") != std::string::npos);
}

TEST_CASE("SIGKILL of a journey node under load: nothing acknowledged is lost or sent twice",
          "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  Load load({&a, &b}, "k");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.drop(&b);
  b.process->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a"}); }, 30));
  std::cout << "takeover of the dead node's partitions: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count()
            << " s (lease TTL 3 s)\n";
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.stop();
  const auto acknowledged = load.acknowledged();
  REQUIRE(acknowledged.size() > 100);
  // Every acknowledged sign-up got both sends: the events B had not processed were processed by
  // A, and the waits B held fired on A.
  CHECK(eventually([&] { return all_sent(cluster.receiver, acknowledged); }, 60));
  check_exactly_once(cluster.receiver);
}

TEST_CASE("SIGKILL of one nats-server of three under load: ingest goes on, nothing is lost",
          "[cluster]") {
  ClusterFixture cluster;
  cluster.lease_ttl = "6s";
  cluster.lease_round = "1s";
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  Load load({&a, &b}, "s");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto before = load.acknowledged().size();
  cluster.servers.kill(0);
  std::this_thread::sleep_for(std::chrono::seconds(8));
  load.stop();
  const auto acknowledged = load.acknowledged();
  std::cout << "acknowledged " << before << " events before the server died, "
            << acknowledged.size() - before << " after; " << load.refused()
            << " batches refused meanwhile\n";
  CHECK(acknowledged.size() > before + 100);  // ingest went on
  CHECK(eventually([&] { return all_sent(cluster.receiver, acknowledged); }, 120));
  check_exactly_once(cluster.receiver);
}

TEST_CASE("a node started before its JetStream servers waits for them", "[cluster]") {
  NatsCluster servers;
  for (int i = 0; i < servers.size(); ++i) servers.kill(i);
  Receiver receiver;
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", node_config("a", servers.urls(), receiver.url(), "3s", "500ms"));
  // The servers come up two seconds after the node (say, a deployment that starts them in
  // another order); the node waits for them instead of exiting.
  std::thread later([&servers] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (int i = 0; i < servers.size(); ++i) servers.start(i);
  });
  DaemonProcess node(dir, {"--config", "journey.toml"}, std::chrono::seconds(75));
  later.join();
  INFO(node.log());
  REQUIRE(node.started());
  CHECK_THAT(node.log(), Catch::Contains("cluster: JetStream is not ready; trying again"));
  CHECK_THAT(node.log(), Catch::Contains("No server available"));
  // It serves: it owns every partition and delivers a sign-up's welcome.
  REQUIRE(eventually(
      [&] {
        const auto status = call("GET", node.url("/v1/cluster"));
        if (status.status != 200) return false;
        const json owners = body_of(status)["partition_owners"];
        return std::count_if(owners.begin(), owners.end(), [](const json& item) {
                 return item["owner"] == "a";
               }) == kClusterPartitions;
      },
      60));
  REQUIRE(call("POST", node.url("/v1/batch"), signups("early", 0, 1)).status == 200);
  CHECK(eventually([&] { return sends(receiver)["early0"].count("welcome-1") == 1; }, 30));
}

TEST_CASE("a node whose partition count is not the cluster's stops at once, naming both",
          "[cluster]") {
  ClusterFixture cluster;
  cluster.start("a");
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  std::string config =
      node_config("b", cluster.servers.urls(), cluster.receiver.url(), "3s", "500ms");
  const std::string eight = "partitions = " + std::to_string(kClusterPartitions);
  config.replace(config.find(eight), eight.size(), "partitions = 16");
  dir.write("journey.toml", config);
  DaemonProcess node(dir, {"--config", "journey.toml"});
  CHECK_FALSE(node.started());
  CHECK(node.wait() == 2);
  CHECK_THAT(node.log(),
             Catch::Contains("cluster.partitions is 16 but the cluster was created with 8"));
  CHECK_THAT(node.log(), !Catch::Contains("JetStream is not ready"));  // not retried
}

TEST_CASE("an owner stopped past its lease does not send for the partitions it lost", "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  // B's customers enter, then B stops (SIGSTOP) while they wait: their wake-ups come due while
  // it is stopped.
  auto answer = call("POST", a.url("/v1/batch"), signups("p", 0, 60));
  REQUIRE(answer.status == 200);
  std::set<std::string> customers;
  for (int i = 0; i < 60; ++i) customers.insert("p" + std::to_string(i));
  REQUIRE(eventually([&] {
    auto got = sends(cluster.receiver);
    std::size_t first = 0;
    for (const auto& id : customers) first += got[id].count("welcome-1");
    return first == customers.size();
  }));
  const auto delivered_by_b = metric(*b.process, "journey_deliveries_total{result=\"delivered\"}");
  b.process->signal(SIGSTOP);
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a"}); }, 30));
  REQUIRE(eventually([&] { return all_sent(cluster.receiver, customers); }, 30));
  // B resumes, with wake-ups due and partitions it believes its own for a moment.
  b.process->signal(SIGCONT);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  // It sent nothing more, took the partitions it could again (a fair share), and every send
  // was made once.
  CHECK(metric(*b.process, "journey_deliveries_total{result=\"delivered\"}") == delivered_by_b);
  check_exactly_once(cluster.receiver);
  CHECK(cluster.receiver.deliveries().size() == 2 * customers.size());
  CHECK(b.process->log().find("lease lost") != std::string::npos);
}

TEST_CASE("the same POST retried on two nodes is stored once", "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  const auto body = signups("r", 0, 50);
  auto first = body_of(call("POST", a.url("/v1/batch"), body));
  auto again = body_of(call("POST", b.url("/v1/batch"), body));
  CHECK(first["accepted"] == 50);
  CHECK(again["accepted"] == 0);
  CHECK(again["duplicates"] == 50);
  // Without messageIds the same text is the same event too (within the duplicate window).
  const std::string plain =
      R"({"event":"signup","userId":"r-plain","timestamp":"2026-12-01T00:00:00Z"})";
  CHECK(body_of(call("POST", a.url("/v1/track"), plain))["accepted"] == 1);
  CHECK(body_of(call("POST", b.url("/v1/track"), plain))["duplicates"] == 1);
  CHECK(cluster.nats().message_count("JOURNEY_EVENTS") == 51);
  std::set<std::string> customers;
  for (int i = 0; i < 50; ++i) customers.insert("r" + std::to_string(i));
  REQUIRE(eventually([&] { return all_sent(cluster.receiver, customers); }, 30));
  check_exactly_once(cluster.receiver);
}

TEST_CASE("an erasure on node A of a customer owned by node B leaves no trace in the cluster",
          "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  const auto owners = cluster.owners(a);
  // A customer of B's, and one of B's that stays (the control); ids with letters outside hex and
  // a suffix, so that a search for one in the log records cannot match a hashed key or the other
  // id.
  std::string gone;
  std::string kept;
  for (int i = 0; gone.empty() || kept.empty(); ++i) {
    const auto id = "customer-" + std::to_string(i) + "-x";
    if (owners.at("b").count(partition_of(id, ClusterFixture::kPartitions)) == 0) continue;
    (gone.empty() ? gone : kept) = id;
  }
  const int p = partition_of(gone, ClusterFixture::kPartitions);
  for (const auto& id : {gone, kept}) {
    REQUIRE(call("POST", a.url("/v1/identify"),
                 json{{"userId", id}, {"traits", {{"email", id + "@example.com"}}}}.dump())
                .status == 200);
    REQUIRE(call("POST", a.url("/v1/track"),
                 json{{"event", "signup"}, {"userId", id}, {"messageId", "m-" + id}}.dump())
                .status == 200);
  }
  REQUIRE(eventually([&] { return all_sent(cluster.receiver, {gone, kept}); }, 30));
  // The customer's key in subjects and buckets, from the cluster's secret.
  auto meta = cluster.nats().bucket({"journey_meta", 3});
  Layout layout(ClusterFixture::kPartitions, journey::runtime::unhex(meta->get("secret")->value));
  const auto key = layout.customer_key(gone);
  auto customers = cluster.nats().bucket({"journey_customers", 3});
  const auto entry = Layout::customer_entry(p, key);
  // Positive control: before the erasure its data is in the streams and the bucket.
  REQUIRE(eventually([&] {
    auto value = customers->get(entry);
    return value && value->value.find(gone + "@example.com") != std::string::npos;
  }));
  CHECK(cluster.nats().message_count("JOURNEY_EVENTS", layout.event_subject(p, key)) == 2);

  auto erased = call("DELETE", a.url("/v1/customers/" + gone));
  REQUIRE(erased.status == 200);
  CHECK(body_of(erased)["found"] == true);
  CHECK(call("GET", a.url("/v1/customers/" + gone)).status == 404);
  CHECK(call("GET", a.url("/v1/customers/" + kept)).status == 200);
  // Gone from the event and outbox streams, the bucket (its history too) and the partition log.
  CHECK(cluster.nats().message_count("JOURNEY_EVENTS", layout.event_subject(p, key)) == 0);
  CHECK(cluster.nats().message_count("JOURNEY_OUTBOX", layout.outbox_subject(p, key)) == 0);
  CHECK_FALSE(customers->get(entry));
  std::size_t with_data = 0;
  cluster.nats().read("KV_journey_customers", customers->subject(entry), 0,
                      [&](Message& message) { with_data += message.data().empty() ? 0 : 1; });
  CHECK(with_data == 0);
  std::size_t records = 0;
  cluster.nats().read("JOURNEY_LOG", Layout::log_subject(p), 0, [&](Message& message) {
    ++records;
    CHECK(message.data().find(gone + "@example.com") == std::string_view::npos);
    CHECK(message.data().find(gone) == std::string_view::npos);
  });
  CHECK(records > 0);
  // The control customer is untouched.
  CHECK(customers->get(Layout::customer_entry(partition_of(kept, ClusterFixture::kPartitions),
                                              layout.customer_key(kept))));
  // A replay of the erased customer's events is acknowledged and ignored, on any node.
  auto replay =
      body_of(call("POST", a.url("/v1/track"),
                   json{{"event", "signup"}, {"userId", gone}, {"messageId", "m-" + gone}}.dump()));
  CHECK(replay["erased"] == 1);
}

TEST_CASE(
    "a reload on one node reaches every node, and cluster status and metrics show the cluster",
    "[cluster]") {
  ClusterFixture cluster;
  auto& a = cluster.start("a");
  auto& b = cluster.start("b");
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  const auto before = body_of(call("GET", b.url("/v1/journeys")))["deployment"];
  // A's folder gets a new version; the reload on A goes live on B too.
  std::string changed = kWelcome;
  changed.replace(changed.find("\"welcome-1\""), 11, "\"welcome-1b\"");
  a.dir.write("journeys/welcome.journey", changed);
  auto reloaded = body_of(call("POST", a.url("/v1/journeys/reload")));
  REQUIRE(reloaded["reloaded"] == true);
  const auto deployment = reloaded["deployment"];
  CHECK(deployment != before);
  REQUIRE(eventually(
      [&] { return body_of(call("GET", b.url("/v1/journeys")))["deployment"] == deployment; }));
  // Customers of both nodes' partitions enter the new version.
  REQUIRE(call("POST", b.url("/v1/batch"), signups("v", 0, 20)).status == 200);
  REQUIRE(eventually([&] {
    auto got = sends(cluster.receiver);
    for (int i = 0; i < 20; ++i) {
      if (got["v" + std::to_string(i)].count("welcome-1b") == 0) return false;
    }
    return true;
  }));
  // Every node's metrics: its share of the partitions, and each one's lag.
  CHECK(metric(*a.process, "journey_cluster_partitions_owned") == 4);
  CHECK(metric(*b.process, "journey_cluster_partitions_owned") == 4);
  const auto owners = cluster.owners(a);
  const int of_a = *owners.at("a").begin();
  REQUIRE(eventually([&] {
    return metric(*a.process,
                  "journey_partition_lag{partition=\"" + std::to_string(of_a) + "\"}") == 0;
  }));
  // `journey cluster status`, without a node of its own.
  auto printed = journey::test::run_journey(a.dir.path, "cluster status --config journey.toml");
  CHECK(printed.code == 0);
  CHECK(printed.out.find("partitions: 8 (0 without an owner)") != std::string::npos);
  CHECK(printed.out.find("  a  listen 127.0.0.1:") != std::string::npos);
  CHECK(printed.out.find("  b  listen 127.0.0.1:") != std::string::npos);
  auto json_status =
      journey::test::run_journey(a.dir.path, "cluster status --json --config journey.toml");
  CHECK(body_of({200, json_status.out, ""})["partition_owners"].size() == 8);
  // A configuration without [cluster] is refused with a clear message.
  a.dir.write("single.toml", "journeys = \"journeys\"\n");
  auto single = journey::test::run_journey(a.dir.path, "cluster status --config single.toml");
  CHECK(single.code == 2);
  CHECK(single.err == "journey cluster status: single.toml has no [cluster] table\n");
}

TEST_CASE("a reload's dry run on a cluster node counts the runs of every partition", "[cluster]") {
  const std::string waiting = R"(journey welcome {
  entry on signup
  send email "welcome-1"
  wait 1d
  send email "welcome-2"
}
)";
  ClusterFixture cluster;
  auto& a = cluster.start("a", waiting);
  auto& b = cluster.start("b", waiting);
  REQUIRE(eventually([&] { return cluster.shared_by(a, {"a", "b"}); }, 30));
  const auto owners = cluster.owners(a);
  std::size_t of_b = 0;
  for (int i = 0; i < 40; ++i)
    of_b +=
        owners.at("b").count(partition_of("d" + std::to_string(i), ClusterFixture::kPartitions));
  REQUIRE(of_b > 0);  // A's own store does not hold them all
  REQUIRE(call("POST", a.url("/v1/batch"), signups("d", 0, 40)).status == 200);
  REQUIRE(eventually([&] {
    auto journeys = body_of(call("GET", a.url("/v1/journeys")));
    return journeys["journeys"][0]["versions"][0].value("active_runs", 0) == 40;
  }));
  std::string changed = waiting;
  changed.replace(changed.find("\"welcome-2\""), 11, "\"welcome-2b\"");
  a.dir.write("journeys/welcome.journey", changed);
  const auto preview = call("POST", a.url("/v1/journeys/reload?dry_run=1"));
  REQUIRE(preview.status == 200);
  const auto answer = body_of(preview);
  const auto& diff = answer["diff"]["journeys"][0];
  CHECK(diff["change"] == "changed");
  CHECK(diff["in_flight"] == 40);
  CHECK(diff["keep"] == 40);  // no `on update migrate`: they keep their version
  // Nothing was deployed, here or on B.
  CHECK(body_of(call("GET", b.url("/v1/journeys")))["journeys"][0]["versions"].size() == 1);
}
