// Where actions go: an NDJSON file (append + fsync; each action id once: after a crash the lines
// already in the file's tail are not written again) or a webhook (HTTP POST with
// Idempotency-Key). Shared by the dispatcher of the outbox table and a cluster node's dispatcher
// of the outbox stream; retries and marks are theirs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runtime/common/config.hpp"

namespace journey::runtime {

/// One action to deliver: its id and its JSON line (engine::to_json_line).
struct Delivery {
  std::string action_id;
  std::string payload;
};

/// A destination of actions.
class Sink {
 public:
  virtual ~Sink() = default;
  /// Delivers the actions, in order, until `give_up()` says stop; one entry per action attempted
  /// (so at most actions.size()): empty when delivered, else why not.
  virtual std::vector<std::string> deliver(const std::vector<Delivery>& actions,
                                           const std::function<bool()>& give_up) = 0;
  /// Actions one pass takes at most: a file writes and fsyncs them at once, a webhook posts them
  /// in turn.
  virtual std::size_t pass_size() const = 0;
  /// Whether a pass delivers its actions together (a file: one write and one fsync) rather than
  /// one by one (a webhook: a request each).
  virtual bool batched() const = 0;
  /// Forgets what it knows of its destination: a file is opened (and its tail read) again at the
  /// next delivery, after a delivery whose mark failed.
  virtual void reopen() {}
  /// What the sink is (its path or URL), for logs.
  virtual const std::string& target() const = 0;
};

/// The sink of a spec. A file sink opens its file at the first delivery.
std::unique_ptr<Sink> open_sink(const SinkSpec& spec, const WebhookPolicy& policy);

/// The delay before retry number `attempts` (1 = after the first failure): initial * 2^(n-1),
/// capped, then scaled by a jitter factor in [0.5, 1.5) drawn from `jitter_seed`.
std::int64_t retry_delay_ms(const WebhookPolicy& policy, int attempts, std::uint64_t jitter_seed);

}  // namespace journey::runtime
