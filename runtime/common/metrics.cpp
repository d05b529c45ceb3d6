#include "runtime/common/metrics.hpp"

#include <sstream>

namespace journey::runtime {

void Metrics::record_timer_lag(std::int64_t lag_ms) {
  timer_lag_last_ms = lag_ms;
  auto max = timer_lag_max_ms.load();
  while (lag_ms > max && !timer_lag_max_ms.compare_exchange_weak(max, lag_ms)) {
  }
}

void Metrics::record_commit(double seconds, std::size_t inputs) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < kCommitBuckets.size(); ++i) {
    if (seconds <= kCommitBuckets[i]) ++commit_buckets_[i];
  }
  ++commit_count_;
  commit_sum_ += seconds;
  commit_inputs_ += inputs;
}

void Metrics::record_response(unsigned status) {
  std::lock_guard lock(mutex_);
  ++responses_[status];
}

std::string Metrics::render(const std::map<std::string, double>& gauges) const {
  std::ostringstream out;
  auto counter = [&out](const char* name, const char* help, const char* type) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  counter("journey_events_in_total", "Input events received, by outcome.", "counter");
  out << "journey_events_in_total{result=\"accepted\"} " << events_accepted << '\n'
      << "journey_events_in_total{result=\"duplicate\"} " << events_duplicate << '\n'
      << "journey_events_in_total{result=\"rejected\"} " << events_rejected << '\n'
      << "journey_events_in_total{result=\"erased\"} " << events_erased << '\n';
  counter("journey_actions_created_total", "Actions written to the outbox.", "counter");
  out << "journey_actions_created_total " << actions_created << '\n';
  counter("journey_deliveries_total", "Delivery attempts, by result.", "counter");
  out << "journey_deliveries_total{result=\"delivered\"} " << actions_delivered << '\n'
      << "journey_deliveries_total{result=\"failed\"} " << delivery_failures << '\n'
      << "journey_deliveries_total{result=\"dead\"} " << actions_dead << '\n';
  counter("journey_timers_fired_total", "Customer wake-ups fired.", "counter");
  out << "journey_timers_fired_total " << timers_fired << '\n';
  counter("journey_timer_lag_seconds", "Lateness of the latest wake-up fired.", "gauge");
  out << "journey_timer_lag_seconds " << static_cast<double>(timer_lag_last_ms) / 1000.0 << '\n';
  counter("journey_timer_lag_max_seconds", "Largest wake-up lateness since start.", "gauge");
  out << "journey_timer_lag_max_seconds " << static_cast<double>(timer_lag_max_ms) / 1000.0 << '\n';
  counter("journey_queue_depth", "Inputs waiting in the shard queues.", "gauge");
  out << "journey_queue_depth " << queue_depth << '\n';
  counter("journey_engine_errors_total", "Engine errors recorded for customers.", "counter");
  out << "journey_engine_errors_total " << engine_errors << '\n';
  counter("journey_reloads_total", "Journey reloads, by result.", "counter");
  out << "journey_reloads_total{result=\"ok\"} " << reloads_ok << '\n'
      << "journey_reloads_total{result=\"refused\"} " << reloads_refused << '\n';
  counter("journey_runs_migrated_total",
          "Runs moved to a new version of their journey by a reload (on update migrate).",
          "counter");
  out << "journey_runs_migrated_total " << runs_migrated << '\n';
  counter("journey_identity_merges_total",
          "Customers merged into another by a link of ids (anonymousId, alias, identity key).",
          "counter");
  out << "journey_identity_merges_total " << identity_merges << '\n';
  counter("journey_identity_merges_refused_total",
          "Links of ids refused: the customer would have more than identity.max_ids ids.",
          "counter");
  out << "journey_identity_merges_refused_total " << identity_refused << '\n';
  counter("journey_versions_collected_total",
          "Old journey versions deleted once no run used them (their deployments).", "counter");
  out << "journey_versions_collected_total " << versions_collected << '\n';
  counter("journey_http_connections_total", "Connections refused (429) or evicted to make room.",
          "counter");
  out << "journey_http_connections_total{result=\"refused\"} " << connections_refused << '\n'
      << "journey_http_connections_total{result=\"evicted\"} " << connections_evicted << '\n';
  {
    std::lock_guard lock(mutex_);
    counter("journey_commit_latency_seconds", "Duration of one group commit.", "histogram");
    for (std::size_t i = 0; i < kCommitBuckets.size(); ++i) {
      out << "journey_commit_latency_seconds_bucket{le=\"" << kCommitBuckets[i] << "\"} "
          << commit_buckets_[i] << '\n';
    }
    out << "journey_commit_latency_seconds_bucket{le=\"+Inf\"} " << commit_count_ << '\n'
        << "journey_commit_latency_seconds_sum " << commit_sum_ << '\n'
        << "journey_commit_latency_seconds_count " << commit_count_ << '\n';
    counter("journey_committed_inputs_total", "Inputs committed by group commits.", "counter");
    out << "journey_committed_inputs_total " << commit_inputs_ << '\n';
    counter("journey_http_responses_total", "HTTP answers, by status code.", "counter");
    for (const auto& [code, count] : responses_) {
      out << "journey_http_responses_total{code=\"" << code << "\"} " << count << '\n';
    }
  }
  std::string last_family;
  for (const auto& [name, value] : gauges) {
    auto family = name.substr(0, name.find('{'));
    if (family != last_family) {
      out << "# TYPE " << family << " gauge\n";
      last_family = family;
    }
    out << name << ' ' << value << '\n';
  }
  return out.str();
}

}  // namespace journey::runtime
