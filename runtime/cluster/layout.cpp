#include "runtime/cluster/layout.hpp"

#include <chrono>
#include <thread>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "engine/hash.hpp"
#include "runtime/common/log.hpp"

namespace journey::runtime {

int partition_of(std::string_view customer_id, int partitions) {
  return static_cast<int>(engine::stable_hash(std::string(customer_id), 0) %
                          static_cast<std::uint64_t>(partitions));
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string unhex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return {};
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = digit(text[i]);
    const int low = digit(text[i + 1]);
    if (high < 0 || low < 0) return {};
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::string Layout::keyed_hash(std::string_view text) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(), out,
           &size) == nullptr) {
    throw NatsError("HMAC-SHA256 failed", 0, false);
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string Layout::customer_key(std::string_view customer_id) const {
  return hex(keyed_hash(customer_id).substr(0, 16));
}

std::string Layout::event_subject(int partition, const std::string& key) const {
  return "journey.events." + std::to_string(partition) + "." + key;
}

std::string Layout::outbox_subject(int partition, const std::string& key) const {
  return "journey.outbox." + std::to_string(partition) + "." + key;
}

std::string Layout::events_of(int partition) {
  return "journey.events." + std::to_string(partition) + ".>";
}

std::string Layout::outbox_of(int partition) {
  return "journey.outbox." + std::to_string(partition) + ".>";
}

std::string Layout::log_subject(int partition) {
  return "journey.log." + std::to_string(partition);
}

std::string Layout::customer_entry(int partition, const std::string& key) {
  return std::to_string(partition) + "." + key;
}

std::string Layout::customers_of(int partition) {
  return std::to_string(partition) + ".>";
}

std::string Layout::partition_entry(int partition) {
  return "p" + std::to_string(partition);
}

std::string Layout::outbox_consumer(int partition) {
  return "outbox-" + std::to_string(partition);
}

std::string Layout::read_subject(int partition) {
  return "journey.read." + std::to_string(partition);
}

namespace {

ClusterHandles open_once(const ClusterConfig& config, const Retention& retention) {
  ClusterHandles handles;
  handles.nats = std::make_unique<Nats>(config.servers, "journey " + config.node);
  auto& nats = *handles.nats;
  const int r = config.replicas;
  nats.ensure_stream({kEventsStream,
                      {"journey.events.>"},
                      r,
                      config.dedupe_window_ms,
                      retention.timeline_ms,
                      false});
  nats.ensure_stream({kLogStream, {"journey.log.*"}, r, 120'000, 0, false});
  nats.ensure_stream({kOutboxStream, {"journey.outbox.>"}, r, config.dedupe_window_ms, 0, true});
  handles.customers = nats.bucket({"journey_customers", r, 0, 1});
  handles.partition_meta = nats.bucket({"journey_partitions", r, 0, 1});
  handles.leases = nats.bucket({"journey_leases", r, config.lease_ttl_ms, 1});
  handles.nodes = nats.bucket({"journey_nodes", r, config.lease_ttl_ms, 1});
  handles.erased = nats.bucket({"journey_erased", r, retention.erased_ms, 1});
  handles.meta = nats.bucket({"journey_meta", r, 0, 1});
  // The partition count is the cluster's, fixed by the first node: every key depends on it.
  handles.meta->create("partitions", std::to_string(config.partitions));
  if (auto fixed = handles.meta->get("partitions");
      fixed && fixed->value != std::to_string(config.partitions)) {
    throw ClusterMismatch("cluster.partitions is " + std::to_string(config.partitions) +
                          " but the cluster was created with " + fixed->value);
  }
  // The first node makes the cluster's secret; every later one reads it.
  auto secret = handles.meta->get("secret");
  if (!secret) {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw NatsError("no random bytes", 0, false);
    handles.meta->create("secret", hex(std::string_view(reinterpret_cast<char*>(bytes), 32)));
    secret = handles.meta->get("secret");
    if (!secret) throw NatsError("nats: the cluster's secret could not be read", 0, true);
  }
  handles.layout = std::make_unique<Layout>(config.partitions, unhex(secret->value));
  return handles;
}

}  // namespace

ClusterHandles open_cluster(const ClusterConfig& config, const Retention& retention,
                            bool wait_for_servers) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string said;  // the failure last logged: each different one is logged once
  for (;;) {
    try {
      return open_once(config, retention);
    } catch (const ClusterMismatch&) {
      throw;
    } catch (const NatsError& e) {
      if ((!e.transient() && !wait_for_servers) || std::chrono::steady_clock::now() >= deadline)
        throw;
      if (wait_for_servers && said != e.what()) {
        said = e.what();
        log(LogLevel::Warn, "cluster: JetStream is not ready; trying again for up to 60 s",
            {{"error", said}});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

}  // namespace journey::runtime
