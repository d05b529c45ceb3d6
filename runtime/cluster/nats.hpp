// A thin RAII layer over the official NATS C client (nats.c): one connection with its JetStream
// context, streams, and key-value buckets. Replication, deduplication, ordering and
// revision-checked updates are JetStream's; this file only turns its C calls into C++ ones that
// throw NatsError with the server's message.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <nats/nats.h>

namespace journey::runtime {

/// A NATS or JetStream failure: the call, the client's status text and the server's message.
class NatsError : public std::runtime_error {
 public:
  NatsError(const std::string& what, int js_code, bool transient)
      : std::runtime_error(what), js_code_(js_code), transient_(transient) {}
  /// The JetStream API error code (10071: wrong last sequence), or 0.
  int js_code() const { return js_code_; }
  /// No answer in time, or nobody to answer (a stream electing its leader): worth retrying.
  bool transient() const { return transient_; }

 private:
  int js_code_;
  bool transient_;
};

/// JetStream's "wrong last sequence" (a publish whose expected last sequence did not hold).
inline constexpr int kJsWrongLastSequence = JSStreamWrongLastSequenceErr;

/// One stream of the cluster, created if missing (an existing one is left as it is).
struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  int replicas = 1;
  std::int64_t duplicate_window_ms = 120'000;  // Nats-Msg-Id deduplication
  std::int64_t max_age_ms = 0;                 // 0: kept until purged
};

/// One key-value bucket of the cluster, created if missing.
struct BucketSpec {
  std::string name;
  int replicas = 1;
  std::int64_t ttl_ms = 0;  // entries not written again for this long expire; 0: never
  int history = 1;          // values kept per key
};

/// What a publish was acknowledged with.
struct Published {
  std::uint64_t sequence = 0;
  bool duplicate = false;  // the stream already held this Nats-Msg-Id
};

/// One message to publish asynchronously.
struct Outgoing {
  std::string subject;
  std::string msg_id;  // Nats-Msg-Id; empty for none
  std::string data;
};

/// What JetStream answered for one asynchronous publish.
struct PublishResult {
  std::uint64_t sequence = 0;
  bool duplicate = false;
  std::string error;  // empty when stored
};

/// One key-value entry.
struct Entry {
  std::string value;
  std::uint64_t revision = 0;
};

/// A key-value bucket.
class KeyValue {
 public:
  explicit KeyValue(kvStore* kv) : kv_(kv) {}
  ~KeyValue();
  KeyValue(const KeyValue&) = delete;
  KeyValue& operator=(const KeyValue&) = delete;

  /// The entry, or nothing when the key is absent, deleted or expired.
  std::optional<Entry> get(const std::string& key);
  /// Creates the key (absent, deleted or expired before); its revision, or nothing when it exists.
  std::optional<std::uint64_t> create(const std::string& key, const std::string& value);
  /// Replaces the key if its revision is still `revision`; the new revision, or nothing when not.
  std::optional<std::uint64_t> update(const std::string& key, const std::string& value,
                                      std::uint64_t revision);
  /// Sets the key whatever it holds; the new revision.
  std::uint64_t put(const std::string& key, const std::string& value);
  /// Deletes the key (a delete marker; history is kept up to the bucket's depth).
  void erase(const std::string& key);
  /// Every live key.
  std::vector<std::string> keys();

 private:
  kvStore* kv_;
};

/// One connection to a NATS cluster, with its JetStream context.
class Nats {
 public:
  /// Connects to any of `servers` (reconnecting to the others on failure). Throws NatsError.
  Nats(const std::vector<std::string>& servers, const std::string& name);
  ~Nats();
  Nats(const Nats&) = delete;
  Nats& operator=(const Nats&) = delete;

  /// Creates the stream unless it exists. Throws NatsError.
  void ensure_stream(const StreamSpec& spec);
  /// The key-value bucket, created unless it exists (an existing one is left as it is).
  std::unique_ptr<KeyValue> bucket(const BucketSpec& spec);

  /// Publishes and waits for the acknowledgement (stored on a quorum of the stream's replicas).
  /// `msg_id` (Nats-Msg-Id) deduplicates within the stream's window; `expect_last_subject_seq`,
  /// when set, makes the server refuse the message unless the subject's last sequence is that
  /// (NatsError with kJsWrongLastSequence). Throws NatsError.
  Published publish(const std::string& subject, const std::string& data,
                    const std::string& msg_id = "",
                    std::optional<std::uint64_t> expect_last_subject_seq = std::nullopt);
  /// The sequence of the subject's last message in `stream`, 0 when it has none.
  std::uint64_t last_sequence(const std::string& stream, const std::string& subject);
  /// Messages held by `stream` now.
  std::uint64_t message_count(const std::string& stream);

 private:
  friend class AsyncPublisher;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

/// Publishes batches of messages asynchronously on a JetStream context of its own, each
/// acknowledged on its own (stored on a quorum of the stream's replicas): a batch of N costs about
/// one round trip, not N.
class AsyncPublisher {
 public:
  /// At most `max_pending` messages in flight at once (a publish waits for room).
  AsyncPublisher(Nats& nats, std::int64_t max_pending);
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  /// Publishes the messages (in order) and waits for their acknowledgements, at most
  /// `timeout_ms`; one result per message, in order. Thread-safe.
  std::vector<PublishResult> publish(const std::vector<Outgoing>& messages,
                                     std::int64_t timeout_ms);

 private:
  struct Pending;
  static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* self);

  jsCtx* js_ = nullptr;
  std::mutex mutex_;
  std::condition_variable answered_;
  std::uint64_t next_token_ = 0;
  // token (the message's Journey-Token header) -> its batch and its place there
  std::unordered_map<std::uint64_t, std::pair<Pending*, std::size_t>> waiting_;
};

}  // namespace journey::runtime
