// A cluster node's side of the HTTP API and of delivery: events published to their partitions,
// erasures and reads sent to the customer's owner, the cluster's totals and status, and the
// dispatcher that delivers the outbox stream of the partitions this node owns.
#include <algorithm>
#include <map>

#include <boost/asio/post.hpp>

#include "engine/hash.hpp"
#include "runtime/common/log.hpp"
#include "runtime/serve/cluster_partition.hpp"

namespace journey::runtime {

using nlohmann::json;

namespace {

/// The cluster's status from its buckets: nodes (their heartbeats), owners, lag.
json cluster_status(ClusterHandles& handles, int partitions) {
  json nodes = json::array();
  std::map<std::string, json> beats;
  for (const auto& entry : handles.nodes->entries(">")) {
    auto beat = json::parse(entry.value, nullptr, false);
    if (!beat.is_object()) beat = {{"node", entry.key}};
    beats[entry.key] = beat;
    nodes.push_back(beat);
  }
  std::map<int, std::string> owners;
  for (const auto& entry : handles.leases->entries(">")) {
    if (entry.key.size() > 1 && entry.key[0] == 'p')
      owners[std::stoi(entry.key.substr(1))] = entry.value;
  }
  json list = json::array();
  std::size_t unowned = 0;
  for (int p = 0; p < partitions; ++p) {
    json item = {{"partition", p}};
    auto owner = owners.find(p);
    if (owner == owners.end()) {
      ++unowned;
      item["owner"] = nullptr;
    } else {
      item["owner"] = owner->second;
      const auto& beat = beats[owner->second];
      const auto key = std::to_string(p);
      if (beat.contains("lag") && beat["lag"].contains(key)) item["lag"] = beat["lag"][key];
      if (beat.contains("wakeups") && beat["wakeups"].contains(key)) {
        item["pending_wakeups"] = beat["wakeups"][key];
      }
    }
    list.push_back(std::move(item));
  }
  auto& nats = *handles.nats;
  return {{"partitions", partitions},
          {"nodes", nodes},
          {"unowned", unowned},
          {"streams",
           {{kEventsStream, nats.message_count(kEventsStream)},
            {kLogStream, nats.message_count(kLogStream)},
            {kOutboxStream, nats.message_count(kOutboxStream)}}},
          {"partition_owners", std::move(list)}};
}

}  // namespace

void ClusterNode::ingest(std::vector<IngestItem> items, std::function<void(IngestAnswer)> done) {
  auto answer = std::make_shared<IngestAnswer>();
  std::vector<Outgoing> out;
  out.reserve(items.size());
  const auto& layout = *handles_.layout;
  for (auto& item : items) {
    const auto& event = item.event;
    // A replay of an erased customer's data is acknowledged and dropped (as on a single node).
    if (!parts_->tombstones.empty()) {
      if (auto erased_at = parts_->tombstones.find(store_->keyed_hash(event.customer_id))) {
        if (event.at <= *erased_at ||
            (!event.message_id.empty() &&
             store_->erased_message(event.customer_id, event.message_id))) {
          ++answer->erased;
          ++metrics_.events_erased;
          continue;
        }
      }
    }
    const int p = partition_of(event.customer_id, cluster_.partitions);
    const auto key = layout.customer_key(event.customer_id);
    // Nats-Msg-Id: the messageId, else the event's text as received, so that the same POST
    // retried on any node is stored once (within the stream's duplicate window).
    const auto identity = event.message_id.empty() ? "c:" + item.raw : "m:" + event.message_id;
    Outgoing message{
        layout.event_subject(p, key),
        key + ":" + hex(layout.keyed_hash(identity).substr(0, 16)),
        std::move(item.raw),
        std::nullopt,
        {{"Journey-At", std::to_string(event.at)},
         {"Journey-Type", event.type == engine::Event::Type::Identify ? "identify" : "track"}}};
    out.push_back(std::move(message));
  }
  ingest_publisher_->submit(
      out, cluster_.ack_timeout_ms,
      [this, answer, done = std::move(done)](const std::vector<PublishResult>& results) {
        for (const auto& result : results) {
          if (!result.error.empty()) {
            if (answer->error.empty())
              answer->error = "the event stream did not take an event: " + result.error;
          } else if (result.duplicate) {
            ++answer->duplicates;
          } else {
            ++answer->accepted;
          }
        }
        metrics_.events_accepted += answer->accepted;
        metrics_.events_duplicate += answer->duplicates;
        done(std::move(*answer));
      });
}

void ClusterNode::erase(const std::string& customer_id, std::function<void(Answer)> done) {
  boost::asio::post(calls_, [this, customer_id, done = std::move(done)] {
    const int p = partition_of(customer_id, cluster_.partitions);
    const auto key = handles_.layout->customer_key(customer_id);
    Outgoing message{handles_.layout->event_subject(p, key),
                     "",
                     customer_id,
                     std::nullopt,
                     {{"Journey-Kind", "erase"}}};
    try {
      auto reply = handles_.nats->publish_for_reply(message, 10'000);
      if (!reply) {
        done({202,
              {{"customer_id", customer_id},
               {"queued", true},
               {"message",
                "the erasure is stored in the customer's partition; it runs when the "
                "partition's owner reaches it (a takeover is in progress)"}}});
        return;
      }
      auto answer = json::parse(*reply, nullptr, false);
      done({answer.value("status", 500), answer.value("body", json::object())});
    } catch (const NatsError& e) {
      done({503,
            {{"error", std::string("the cluster did not take the erasure; retry: ") + e.what()}}});
    }
  });
}

void ClusterNode::read(const std::string& kind, const std::string& customer_id,
                       std::function<void(Answer)> done) {
  const int p = partition_of(customer_id, cluster_.partitions);
  if (owns(p)) {
    done(parts_->read(kind, customer_id));
    return;
  }
  boost::asio::post(calls_, [this, p, kind, customer_id, done = std::move(done)] {
    try {
      const auto reply = handles_.nats->request(
          Layout::read_subject(p), json{{"kind", kind}, {"id", customer_id}}.dump(), 5'000);
      auto answer = reply ? json::parse(*reply, nullptr, false) : json();
      if (answer.is_object() && answer.value("status", 0) != 503) {
        done({answer.value("status", 500), answer.value("body", json::object())});
        return;
      }
    } catch (const NatsError& e) {
      log(LogLevel::Warn, "cluster: a read could not be sent", {{"error", e.what()}});
    }
    done({503,
          {{"error", "partition " + std::to_string(p) +
                         " has no owner right now (a takeover is in progress); retry"}}});
  });
}

std::string ClusterNode::answer_read(int p, std::string_view request) {
  const auto asked = json::parse(request, nullptr, false);
  if (!asked.is_object() || !asked.contains("id") || !asked["id"].is_string() || !owns(p) ||
      partition_of(asked["id"].get<std::string>(), cluster_.partitions) != p) {
    return json{{"status", 503}}.dump();
  }
  auto [status, body] = parts_->read(asked.value("kind", "customer"), asked["id"]);
  return json{{"status", status}, {"body", std::move(body)}}.dump();
}

std::pair<std::vector<CounterRow>, std::vector<std::pair<StoredRun, std::size_t>>>
ClusterNode::totals() {
  CounterValues counters;
  RunCounts runs;
  for (const auto& entry : handles_.partition_meta->entries(">")) {
    const auto value = decode_partition(entry.value);
    for (const auto& [key, count] : value.counters) counters[key] += count;
    for (const auto& [key, count] : value.runs) runs[key] += count;
  }
  std::vector<CounterRow> counter_rows;
  for (const auto& [key, value] : counters) {
    const auto& [journey, version, metric, name] = key;
    counter_rows.push_back({journey, version, metric, name, value});
  }
  std::vector<std::pair<StoredRun, std::size_t>> run_rows;
  for (const auto& [key, count] : runs) {
    const auto& [journey, version, step] = key;
    if (count > 0) run_rows.emplace_back(StoredRun{journey, version, step}, count);
  }
  return {std::move(counter_rows), std::move(run_rows)};
}

json ClusterNode::status() {
  auto out = cluster_status(handles_, cluster_.partitions);
  out["node"] = cluster_.node;
  return out;
}

json ClusterNode::read_status(const ClusterConfig& config, const Retention& retention) {
  auto status_config = config;
  status_config.node = "status-" + std::to_string(::getpid());
  auto handles = open_cluster(status_config, retention, false);
  return cluster_status(handles, config.partitions);
}

std::map<std::string, double> ClusterNode::gauges() {
  std::map<std::string, double> out;
  std::size_t owned = 0;
  for (int p = 0; p < cluster_.partitions; ++p) {
    auto& part = partition(p);
    if (!part.owned) continue;
    ++owned;
    const auto label = "{partition=\"" + std::to_string(p) + "\"}";
    out["journey_partition_lag" + label] = static_cast<double>(part.lag.load());
    out["journey_partition_pending_wakeups" + label] = static_cast<double>(part.wakeups.load());
  }
  out["journey_cluster_partitions_owned"] = static_cast<double>(owned);
  out["journey_cluster_takeover_last_seconds"] =
      static_cast<double>(last_takeover_ms_.load()) / 1000;
  out["journey_cluster_partitions_lost_total"] = static_cast<double>(fenced_.load());
  return out;
}

void ClusterNode::dispatch_loop() {
  auto swept = std::chrono::steady_clock::now();
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    lock.unlock();
    // Every second each partition is asked (retries come due, a takeover brings actions);
    // in between only those with new actions.
    const bool sweep = std::chrono::steady_clock::now() - swept >= std::chrono::seconds(1);
    if (sweep) swept = std::chrono::steady_clock::now();
    bool any = false;
    for (int p = 0; p < cluster_.partitions; ++p) {
      auto& part = partition(p);
      if (!part.owned || !(sweep || part.has_actions.exchange(false))) continue;
      try {
        while (owns(p) && dispatch(p, part)) any = true;
      } catch (const NatsError& e) {
        // The consumer is replicated: one that does not answer is electing a leader (the next
        // round tries again); one that is gone (deleted) is made again.
        log(LogLevel::Warn, "cluster: delivering failed", {{"partition", p}, {"error", e.what()}});
        if (!e.not_found() || !owns(p)) continue;
        try {
          open_outbox(part, p);
        } catch (const NatsError& again) {
          log(LogLevel::Warn, "cluster: the outbox consumer could not be made",
              {{"partition", p}, {"error", again.what()}});
        }
      } catch (const std::exception& e) {
        log(LogLevel::Warn, "cluster: delivering failed", {{"partition", p}, {"error", e.what()}});
      }
    }
    lock.lock();
    if (!any) wake_.wait_for(lock, std::chrono::milliseconds(200));
  }
}

bool ClusterNode::dispatch(int p, Partition& part) {
  std::lock_guard delivering(part.dispatch_mutex);
  std::shared_ptr<Subscription> outbox;
  {
    std::lock_guard lock(part.subs_mutex);
    outbox = part.outbox;
  }
  if (!outbox) return false;
  auto messages = outbox->fetch(256);
  if (messages.empty()) return false;
  struct Item {
    Message* message;
    std::string customer_id;
    Delivery delivery;
  };
  std::map<std::string, std::vector<Item>> by_sink;
  for (auto& message : messages) {
    const auto payload = json::parse(message.data(), nullptr, false);
    const auto channel = payload.is_object() ? payload.value("channel", std::string()) : "";
    Item item{&message,
              payload.is_object() ? payload.value("customer_id", std::string()) : "",
              {message.header("Nats-Msg-Id").value_or(""), std::string(message.data())}};
    by_sink[sink_key(config_.sink_for(channel))].push_back(std::move(item));
  }
  Batch marks;
  // What became of one action: delivered, failed (retried later, or dead), or not attempted.
  auto settle = [&](Item& item, const Sink& sink, const std::string* error) {
    if (error == nullptr) {
      item.message->nak(0);  // not attempted (stopping): at once, by whoever owns it next
      return;
    }
    const auto attempts = static_cast<int>(item.message->deliveries());
    ActionMark mark{item.customer_id, item.delivery.action_id, DeliveryStatus::Delivered, attempts,
                    *error};
    if (error->empty()) {
      item.message->ack();
      ++metrics_.actions_delivered;
    } else if (attempts >= config_.webhook.max_attempts) {
      item.message->term();
      mark.status = DeliveryStatus::Dead;
      ++metrics_.delivery_failures;
      ++metrics_.actions_dead;
      log(LogLevel::Error, "action is dead",
          {{"action_id", mark.action_id},
           {"attempts", attempts},
           {"error", *error},
           {"sink", sink.target()}});
    } else {
      const auto seed = engine::stable_hash(mark.action_id, static_cast<std::uint64_t>(attempts));
      item.message->nak(retry_delay_ms(config_.webhook, attempts, seed));
      mark.status = DeliveryStatus::Pending;
      ++metrics_.delivery_failures;
      log(LogLevel::Warn, "delivery failed",
          {{"action_id", mark.action_id},
           {"attempts", attempts},
           {"error", *error},
           {"sink", sink.target()}});
    }
    marks.action_marks.push_back(std::move(mark));
  };
  // Not one more action once the partition is not this node's (a stop past the lease, a
  // give-back), or the node stops.
  const auto give_up = [this, p] { return stopping_.load() || !owns(p); };
  for (auto& [key, items] : by_sink) {
    auto& sink = *sinks_.at(key);
    if (sink.batched()) {
      std::vector<Delivery> deliveries;
      for (const auto& item : items) deliveries.push_back(item.delivery);
      const auto results = sink.deliver(deliveries, give_up);
      for (std::size_t i = 0; i < items.size(); ++i) {
        settle(items[i], sink, i < results.size() ? &results[i] : nullptr);
      }
      continue;
    }
    // One at a time, each acknowledged as soon as it went out: a slow receiver does not keep a
    // batch unacknowledged past the consumer's wait (which would send it again).
    for (auto& item : items) {
      const auto results =
          give_up() ? std::vector<std::string>{} : sink.deliver({item.delivery}, give_up);
      settle(item, sink, results.empty() ? nullptr : &results[0]);
    }
  }
  if (!marks.action_marks.empty()) parts_->committer.write(std::move(marks));
  return true;
}

}  // namespace journey::runtime
