// A thin RAII layer over the official NATS C client (nats.c): one connection with its JetStream
// context, streams, consumers, key-value buckets and request/reply. Replication, deduplication,
// ordering, acknowledgements and revision-checked updates are JetStream's; this file only turns
// its C calls into C++ ones that throw NatsError with the server's message.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nats/nats.h>

namespace journey::runtime {

/// A NATS or JetStream failure: the call, the client's status text and the server's message.
class NatsError : public std::runtime_error {
 public:
  NatsError(const std::string& what, int js_code, bool transient, bool not_found = false)
      : std::runtime_error(what), js_code_(js_code), transient_(transient), not_found_(not_found) {}
  /// The JetStream API error code (10071: wrong last sequence), or 0.
  int js_code() const { return js_code_; }
  /// No answer in time, or nobody to answer (a stream electing its leader): worth retrying.
  bool transient() const { return transient_; }
  /// What the call named does not exist (a consumer deleted, a stream missing).
  bool not_found() const { return not_found_; }

 private:
  int js_code_;
  bool transient_;
  bool not_found_;
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
  bool work_queue = false;  // a message is removed once a consumer acknowledged it
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
  /// Nats-Expected-Last-Subject-Sequence: the server refuses the message unless the subject's
  /// last message has this sequence (0: the subject has none). A key-value update by revision.
  std::optional<std::uint64_t> expect_last_subject_seq{};
  std::vector<std::pair<std::string, std::string>> headers{};  // more headers
};

/// What JetStream answered for one asynchronous publish.
struct PublishResult {
  std::uint64_t sequence = 0;
  bool duplicate = false;
  std::string error;  // empty when stored
  int js_code = 0;    // the JetStream error code with the error (kJsWrongLastSequence...), or 0
};

/// One key-value entry.
struct Entry {
  std::string value;
  std::uint64_t revision = 0;
};

/// One key-value entry with its key.
struct KeyedEntry {
  std::string key;
  std::string value;
  std::uint64_t revision = 0;
};

/// A message received from a subscription; destroyed (and, for JetStream, neither acknowledged
/// nor refused) when it goes.
class Message {
 public:
  explicit Message(natsMsg* msg) : msg_(msg) {}
  ~Message();
  Message(Message&& other) noexcept : msg_(std::exchange(other.msg_, nullptr)) {}
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  std::string_view subject() const;
  std::string_view data() const;
  /// A header's value, or nothing.
  std::optional<std::string> header(const char* name) const;
  /// JetStream: the message's sequence in its stream (0 when it has none).
  std::uint64_t sequence() const;
  /// JetStream: how many times the message was delivered (1 the first time).
  std::uint64_t deliveries() const;
  /// JetStream acknowledgements: done; try again after `delay_ms`; never again.
  void ack();
  void nak(std::int64_t delay_ms);
  void term();

 private:
  natsMsg* msg_;
};

/// A key-value bucket.
class KeyValue {
 public:
  /// `js` is the context the bucket was opened with (entries() asks the stream's leader with it).
  KeyValue(kvStore* kv, jsCtx* js) : kv_(kv), js_(js) {}
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
  /// Removes the key and every value it had (a purge marker without data stays).
  void purge(const std::string& key);
  /// Every live key.
  std::vector<std::string> keys();
  /// Every live entry whose key matches `pattern` (`*` one token, `>` the rest: "3.>"), as of
  /// the stream leader's newest message of the pattern at the call (read your writes).
  std::vector<KeyedEntry> entries(const std::string& pattern);
  /// Calls `changed` on a thread of its own with every later put, delete or purge of a key that
  /// matches `pattern` (value empty for deletes), until the returned handle goes.
  std::shared_ptr<void> watch(const std::string& pattern,
                              std::function<void(const KeyedEntry&, bool deleted)> changed);

  /// The subject a key's values are stored under ($KV.<bucket>.<key>), for direct publishes.
  std::string subject(const std::string& key) const;
  /// The bucket's stream (KV_<bucket>).
  std::string stream() const;

 private:
  kvStore* kv_;
  jsCtx* js_;
};

/// A subscription; unsubscribed when it goes (an ephemeral consumer goes with it, a durable one
/// stays).
class Nats;

class Subscription {
 public:
  explicit Subscription(natsSubscription* sub, Nats* owner = nullptr) : sub_(sub), owner_(owner) {}
  /// A durable consumer's: the consumer `consumer` of `stream` outlives the subscription (it is
  /// shared by whoever binds to it), and is asked about by name (the client cannot ask through a
  /// subscription that bound to a consumer made by another).
  Subscription(natsSubscription* sub, jsCtx* js, std::string stream, std::string consumer)
      : sub_(sub),
        owner_(nullptr),
        js_(js),
        stream_(std::move(stream)),
        consumer_(std::move(consumer)) {}
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  /// JetStream: messages the consumer has not delivered yet plus those awaiting an
  /// acknowledgement (the lag), or nothing when the server does not answer.
  std::optional<std::uint64_t> lag();
  /// A pull consumer: at most `batch` messages available now (none: an empty list).
  std::vector<Message> fetch(int batch);

 private:
  /// The consumer's information: an error status, or OK with `info` set (to destroy).
  natsStatus info(jsConsumerInfo** info, jsErrCode* code);

  natsSubscription* sub_;
  Nats* owner_;          // told when it goes (consume()'s `broken`)
  jsCtx* js_ = nullptr;  // a durable consumer's (below)
  std::string stream_;
  std::string consumer_;
};

/// How consume() makes its consumer.
struct ConsumeSpec {
  std::string stream;
  std::string subject;                  // a filter
  std::uint64_t start = 1;              // the first sequence delivered
  std::int64_t max_ack_pending = 4096;  // unacknowledged messages at most
  std::int64_t ack_wait_ms = 60'000;    // redelivered when not acknowledged within this
  /// false: one copy in memory on one server, quick to make; true: replicated like the stream,
  /// made even while a server is gone (slower to make).
  bool replicated = false;
};

/// A message handler of a subscription; runs on the client's delivery threads.
using MessageHandler = std::function<void(Message)>;

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
  /// Messages held by `stream` now (of `subject` only, a filter, when given).
  std::uint64_t message_count(const std::string& stream, const std::string& subject = "");
  /// Bytes `stream` holds now (on each of its replicas).
  std::uint64_t stream_bytes(const std::string& stream);
  /// Removes the messages of `subject` (a filter) from `stream`; with `keep_from`, only those
  /// before that sequence.
  void purge(const std::string& stream, const std::string& subject, std::uint64_t keep_from = 0);
  /// Removes every message of `subject` (a filter) from `stream` before the sequence `before`
  /// (0: all), their content overwritten on the servers' disks (not only marked deleted).
  void erase(const std::string& stream, const std::string& subject, std::uint64_t before = 0);
  /// The largest message the servers take.
  std::int64_t max_payload();

  /// Every message of `stream` matching `subject` (a filter), from `start` (a sequence; 0: the
  /// first), in order, up to the last one held when the call began. Throws NatsError.
  void read(const std::string& stream, const std::string& subject, std::uint64_t start,
            const std::function<void(Message&)>& each);
  /// Delivers the messages of `spec.stream` matching `spec.subject` from the sequence
  /// `spec.start` on, in order, to `handler` (which must acknowledge each), through an ephemeral
  /// consumer. `broken` (on a client thread) when the consumer stopped answering (its server
  /// went away): make another.
  std::unique_ptr<Subscription> consume(const ConsumeSpec& spec, MessageHandler handler,
                                        std::function<void()> broken = nullptr);
  /// A durable pull consumer `durable` of `stream` over `subject` (replicated like the stream;
  /// made when missing, bound to when it exists), to fetch() from. Any other consumer over
  /// exactly that subject (a work queue takes only one) is deleted.
  std::unique_ptr<Subscription> pull(const std::string& stream, const std::string& subject,
                                     const std::string& durable, std::int64_t ack_wait_ms);

  /// Answers requests sent to `subject`: `answer` gets the request's data and returns the reply.
  std::unique_ptr<Subscription> serve(const std::string& subject,
                                      std::function<std::string(std::string_view)> answer);
  /// Sends a request and waits at most `timeout_ms` for its reply; nothing when none came.
  std::optional<std::string> request(const std::string& subject, const std::string& data,
                                     std::int64_t timeout_ms);
  /// Sends a message without JetStream (no acknowledgement).
  void send(const std::string& subject, const std::string& data);
  /// Publishes `message` to JetStream with a `Journey-Reply` header naming a fresh inbox, waits for
  /// the acknowledgement, then at most `timeout_ms` for a message on the inbox (sent by whoever
  /// handles the stored message): its data, or nothing when none came. Throws NatsError when the
  /// message was not stored.
  std::optional<std::string> publish_for_reply(const Outgoing& message, std::int64_t timeout_ms);

 private:
  friend class AsyncPublisher;
  friend class Subscription;
  static void on_error(natsConnection* nc, natsSubscription* sub, natsStatus error, void* self);
  void forget(natsSubscription* sub);

  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex handlers_mutex_;
  std::vector<std::unique_ptr<MessageHandler>> handlers_;  // closures of the subscriptions
  std::vector<std::unique_ptr<std::function<std::string(std::string_view)>>> answers_;
  std::unordered_map<natsSubscription*, std::function<void()>> broken_;  // consume()'s
};

/// Publishes batches of messages asynchronously on a JetStream context of its own, each
/// acknowledged on its own (stored on a quorum of the stream's replicas): a batch of N costs about
/// one round trip, not N.
class AsyncPublisher {
 public:
  /// One result per message, in order; called once per batch, on a client thread.
  using Done = std::function<void(std::vector<PublishResult>)>;

  /// At most `max_pending` messages in flight at once (a publish waits for room).
  AsyncPublisher(Nats& nats, std::int64_t max_pending);
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  /// Publishes the messages (in order) and waits for their acknowledgements, at most
  /// `timeout_ms`; one result per message, in order. Thread-safe.
  std::vector<PublishResult> publish(const std::vector<Outgoing>& messages,
                                     std::int64_t timeout_ms);
  /// Publishes the messages (in order) and returns at once; `done` gets the results when every
  /// message is answered, or after `timeout_ms` with "no acknowledgement in time" for the rest.
  /// Thread-safe.
  void submit(const std::vector<Outgoing>& messages, std::int64_t timeout_ms, Done done);

 private:
  struct Pending;
  static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* self);
  /// Gives up on batches past their deadline (on the sweeper thread).
  void sweep();
  /// Finishes a batch whose last message was answered (called without the mutex).
  static void complete(const std::shared_ptr<Pending>& pending);

  jsCtx* js_ = nullptr;
  std::mutex mutex_;
  std::condition_variable sweep_wake_;
  bool stopping_ = false;
  std::uint64_t next_token_ = 0;
  // token (the message's Journey-Token header) -> its batch and its place there
  std::unordered_map<std::uint64_t, std::pair<std::shared_ptr<Pending>, std::size_t>> waiting_;
  std::thread sweeper_;
};

}  // namespace journey::runtime
