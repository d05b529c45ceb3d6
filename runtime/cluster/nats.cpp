#include "runtime/cluster/nats.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace journey::runtime {

namespace {

/// Throws NatsError for a failed call: the call's name, the status, the client's last error.
void check(natsStatus status, const char* call, jsErrCode code = static_cast<jsErrCode>(0)) {
  if (status == NATS_OK) return;
  std::string message = std::string("nats: ") + call + ": " + natsStatus_GetText(status);
  if (const char* detail = nats_GetLastError(nullptr); detail != nullptr && *detail != '\0') {
    message += std::string(" (") + detail + ")";
  }
  throw NatsError(message, static_cast<int>(code),
                  status == NATS_TIMEOUT || status == NATS_NO_RESPONDERS,
                  status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr);
}

constexpr std::int64_t kNanosPerMilli = 1'000'000;

/// The nats.c message callback that hands the message to a MessageHandler.
void deliver(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* msg, void* closure) {
  (*static_cast<MessageHandler*>(closure))(Message(msg));
}

/// Sets a message's headers from an Outgoing; false when the library refused one.
bool set_headers(natsMsg* msg, const Outgoing& message) {
  natsStatus status = NATS_OK;
  if (!message.msg_id.empty())
    status = natsMsgHeader_Set(msg, "Nats-Msg-Id", message.msg_id.c_str());
  if (status == NATS_OK && message.expect_last_subject_seq) {
    status = natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence",
                               std::to_string(*message.expect_last_subject_seq).c_str());
  }
  for (const auto& [name, value] : message.headers) {
    if (status == NATS_OK) status = natsMsgHeader_Set(msg, name.c_str(), value.c_str());
  }
  return status == NATS_OK;
}

}  // namespace

Message::~Message() {
  natsMsg_Destroy(msg_);
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    natsMsg_Destroy(msg_);
    msg_ = std::exchange(other.msg_, nullptr);
  }
  return *this;
}

std::string_view Message::subject() const {
  return natsMsg_GetSubject(msg_);
}

std::string_view Message::data() const {
  return {natsMsg_GetData(msg_), static_cast<std::size_t>(natsMsg_GetDataLength(msg_))};
}

std::optional<std::string> Message::header(const char* name) const {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg_, name, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string(value);
}

std::uint64_t Message::sequence() const {
  if (std::uint64_t seq = natsMsg_GetSequence(msg_); seq != 0) return seq;  // js_GetMsg
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) != NATS_OK) return 0;
  const auto seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return seq;
}

std::uint64_t Message::deliveries() const {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_) != NATS_OK) return 1;
  const auto count = meta->NumDelivered;
  jsMsgMetaData_Destroy(meta);
  return count;
}

void Message::ack() {
  natsMsg_Ack(msg_, nullptr);
}

void Message::nak(std::int64_t delay_ms) {
  natsMsg_NakWithDelay(msg_, delay_ms, nullptr);
}

void Message::term() {
  natsMsg_Term(msg_, nullptr);
}

KeyValue::~KeyValue() {
  kvStore_Destroy(kv_);
}

std::optional<Entry> KeyValue::get(const std::string& key) {
  kvEntry* entry = nullptr;
  natsStatus status = kvStore_Get(&entry, kv_, key.c_str());
  if (status == NATS_NOT_FOUND) return std::nullopt;
  check(status, "kv get");
  Entry out{std::string(static_cast<const char*>(kvEntry_Value(entry)),
                        static_cast<std::size_t>(kvEntry_ValueLen(entry))),
            kvEntry_Revision(entry)};
  kvEntry_Destroy(entry);
  return out;
}

std::optional<std::uint64_t> KeyValue::create(const std::string& key, const std::string& value) {
  std::uint64_t revision = 0;
  natsStatus status =
      kvStore_Create(&revision, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (status == NATS_ERR) {
    return std::nullopt;  // the key exists: the server refused the create
  }
  check(status, "kv create");
  return revision;
}

std::optional<std::uint64_t> KeyValue::update(const std::string& key, const std::string& value,
                                              std::uint64_t revision) {
  std::uint64_t next = 0;
  natsStatus status = kvStore_Update(&next, kv_, key.c_str(), value.data(),
                                     static_cast<int>(value.size()), revision);
  if (status == NATS_ERR) return std::nullopt;  // the revision moved on (or the key is gone)
  check(status, "kv update");
  return next;
}

std::uint64_t KeyValue::put(const std::string& key, const std::string& value) {
  std::uint64_t revision = 0;
  check(kvStore_Put(&revision, kv_, key.c_str(), value.data(), static_cast<int>(value.size())),
        "kv put");
  return revision;
}

void KeyValue::erase(const std::string& key) {
  check(kvStore_Delete(kv_, key.c_str()), "kv delete");
}

void KeyValue::purge(const std::string& key) {
  check(kvStore_Purge(kv_, key.c_str(), nullptr), "kv purge");
}

std::vector<std::string> KeyValue::keys() {
  kvKeysList list{};
  natsStatus status = kvStore_Keys(&list, kv_, nullptr);
  if (status == NATS_NOT_FOUND) return {};
  check(status, "kv keys");
  std::vector<std::string> out(list.Keys, list.Keys + list.Count);
  kvKeysList_Destroy(&list);
  return out;
}

std::vector<KeyedEntry> KeyValue::entries(const std::string& pattern) {
  // A watcher's ordered consumer may sit on a replica that lags the leader under load, and then
  // says it has caught up before it has the latest writes. So the read is checked against the
  // leader's newest message of the pattern (deletes included) and made again until it has it.
  std::uint64_t newest = 0;
  {
    natsMsg* last = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status =
        js_GetLastMsg(&last, js_, stream().c_str(), subject(pattern).c_str(), nullptr, &code);
    if (status == NATS_OK) {
      newest = natsMsg_GetSequence(last);
      natsMsg_Destroy(last);
    } else if (status != NATS_NOT_FOUND) {  // not found: the pattern has no message yet
      check(status, "kv newest message", code);
    }
  }
  constexpr int kAttempts = 300;  // 100 ms apart: 30 s for a replica to catch up
  for (int attempt = 1;; ++attempt) {
    kvWatchOptions options;
    kvWatchOptions_Init(&options);
    kvWatcher* watcher = nullptr;
    check(kvStore_Watch(&watcher, kv_, pattern.c_str(), &options), "kv watch");
    std::vector<KeyedEntry> out;
    std::uint64_t seen = 0;
    // The watcher delivers the latest value (or delete) of every key, then one null entry.
    for (;;) {
      kvEntry* entry = nullptr;
      natsStatus status = kvWatcher_Next(&entry, watcher, 30'000);
      if (status != NATS_OK) {
        kvWatcher_Destroy(watcher);
        check(status, "kv watch next");
      }
      if (entry == nullptr) break;
      seen = std::max(seen, kvEntry_Revision(entry));
      const auto op = kvEntry_Operation(entry);
      if (op != kvOp_Delete && op != kvOp_Purge) {
        out.push_back({kvEntry_Key(entry),
                       std::string(static_cast<const char*>(kvEntry_Value(entry)),
                                   static_cast<std::size_t>(kvEntry_ValueLen(entry))),
                       kvEntry_Revision(entry)});
      }
      kvEntry_Destroy(entry);
    }
    kvWatcher_Destroy(watcher);
    if (seen >= newest) return out;
    if (attempt == kAttempts)
      throw NatsError("nats: kv entries: a replica stayed behind the leader of " + stream(), 0,
                      true, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::shared_ptr<void> KeyValue::watch(
    const std::string& pattern, std::function<void(const KeyedEntry&, bool deleted)> changed) {
  // The handle owns the watcher and its thread; stopping the watcher ends the thread's wait. A
  // watcher that fails (its consumer lost with a server) is made again, from the values then.
  struct Watch {
    kvStore* kv = nullptr;
    std::string pattern;
    std::mutex mutex;
    kvWatcher* watcher = nullptr;
    std::atomic<bool> stopping{false};
    std::thread thread;
    ~Watch() {
      stopping = true;
      {
        std::lock_guard lock(mutex);
        if (watcher != nullptr) kvWatcher_Stop(watcher);
      }
      if (thread.joinable()) thread.join();
      kvWatcher_Destroy(watcher);
    }
    bool make() {
      kvWatchOptions options;
      kvWatchOptions_Init(&options);
      kvWatcher* made = nullptr;
      if (kvStore_Watch(&made, kv, pattern.c_str(), &options) != NATS_OK) return false;
      std::lock_guard lock(mutex);
      kvWatcher_Destroy(watcher);
      watcher = made;
      if (stopping) kvWatcher_Stop(watcher);
      return true;
    }
  };
  auto handle = std::make_shared<Watch>();
  handle->kv = kv_;
  handle->pattern = pattern;
  if (!handle->make()) check(NATS_ERR, "kv watch");
  Watch* watch = handle.get();
  handle->thread = std::thread([watch, changed = std::move(changed)] {
    while (!watch->stopping) {
      kvEntry* entry = nullptr;
      natsStatus status = kvWatcher_Next(&entry, watch->watcher, 1000);
      if (status == NATS_TIMEOUT) continue;
      if (status != NATS_OK) {
        if (watch->stopping) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        watch->make();
        continue;
      }
      if (entry == nullptr) continue;  // caught up with the values before the call
      const auto op = kvEntry_Operation(entry);
      changed({kvEntry_Key(entry),
               std::string(static_cast<const char*>(kvEntry_Value(entry)),
                           static_cast<std::size_t>(kvEntry_ValueLen(entry))),
               kvEntry_Revision(entry)},
              op == kvOp_Delete || op == kvOp_Purge);
      kvEntry_Destroy(entry);
    }
  });
  return handle;
}

std::string KeyValue::subject(const std::string& key) const {
  return "$KV." + std::string(kvStore_Bucket(kv_)) + "." + key;
}

std::string KeyValue::stream() const {
  return "KV_" + std::string(kvStore_Bucket(kv_));
}

Subscription::~Subscription() {
  if (owner_ != nullptr) owner_->forget(sub_);
  // Unsubscribing deletes a consumer the client made; destroying alone leaves it (nats.c 3.4+).
  if (js_ == nullptr) natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

natsStatus Subscription::info(jsConsumerInfo** info, jsErrCode* code) {
  if (js_ != nullptr) {
    return js_GetConsumerInfo(info, js_, stream_.c_str(), consumer_.c_str(), nullptr, code);
  }
  return natsSubscription_GetConsumerInfo(info, sub_, nullptr, code);
}

std::optional<std::uint64_t> Subscription::lag() {
  jsConsumerInfo* consumer = nullptr;
  if (info(&consumer, nullptr) != NATS_OK) return std::nullopt;
  const auto lag = consumer->NumPending + static_cast<std::uint64_t>(consumer->NumAckPending);
  jsConsumerInfo_Destroy(consumer);
  return lag;
}

std::vector<Message> Subscription::fetch(int batch) {
  std::vector<Message> out;
  // A fetch returns when it has its batch or when it expires: it asks for what the consumer
  // holds, so that it comes back at once (a "no wait" fetch returns nothing on these versions).
  jsConsumerInfo* consumer = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(info(&consumer, &code), "consumer info", code);
  const auto held = consumer->NumPending + static_cast<std::uint64_t>(consumer->NumAckPending);
  jsConsumerInfo_Destroy(consumer);
  if (held == 0) return out;
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch =
      static_cast<int>(std::min<std::uint64_t>(held, static_cast<std::uint64_t>(batch)));
  request.Expires = 100 * kNanosPerMilli;  // redeliveries not due yet
  natsMsgList list{};
  natsStatus status = natsSubscription_FetchRequest(&list, sub_, &request);
  if (status == NATS_TIMEOUT || status == NATS_NOT_FOUND) return out;  // nothing due
  check(status, "fetch");
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // now owned by `out`
  }
  natsMsgList_Destroy(&list);
  return out;
}

Nats::Nats(const std::vector<std::string>& servers, const std::string& name) {
  natsOptions* options = nullptr;
  check(natsOptions_Create(&options), "options");
  std::vector<const char*> urls;
  urls.reserve(servers.size());
  for (const auto& server : servers) urls.push_back(server.c_str());
  natsStatus status = natsOptions_SetServers(options, urls.data(), static_cast<int>(urls.size()));
  if (status == NATS_OK) status = natsOptions_SetName(options, name.c_str());
  // Keep trying the other servers for as long as the process lives: a server of the cluster
  // going away is routine.
  if (status == NATS_OK) status = natsOptions_SetMaxReconnect(options, -1);
  if (status == NATS_OK) status = natsOptions_SetReconnectWait(options, 100);
  if (status == NATS_OK)
    status = natsOptions_SetRetryOnFailedConnect(options, false, nullptr, nullptr);
  // Messages of every subscription are delivered by a small shared pool of threads, not by a
  // thread per subscription (a node consumes a stream per partition it owns).
  if (status == NATS_OK) status = natsOptions_UseGlobalMessageDelivery(options, true);
  if (status == NATS_OK) status = natsOptions_SetErrorHandler(options, &Nats::on_error, this);
  if (status == NATS_OK) status = natsConnection_Connect(&connection_, options);
  natsOptions_Destroy(options);
  check(status, "connect");
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = 5000;  // ms for a JetStream API answer (a publish acknowledgement included)
  status = natsConnection_JetStream(&js_, connection_, &js_options);
  if (status != NATS_OK) natsConnection_Destroy(connection_);
  check(status, "jetstream");
}

void Nats::on_error(natsConnection* /*nc*/, natsSubscription* sub, natsStatus error, void* self) {
  if (sub == nullptr || (error != NATS_MISSED_HEARTBEAT && error != NATS_MISMATCH)) return;
  auto& nats = *static_cast<Nats*>(self);
  std::function<void()> broken;
  {
    std::lock_guard lock(nats.handlers_mutex_);
    auto it = nats.broken_.find(sub);
    if (it == nats.broken_.end()) return;
    broken = it->second;
  }
  broken();
}

void Nats::forget(natsSubscription* sub) {
  std::lock_guard lock(handlers_mutex_);
  broken_.erase(sub);
}

Nats::~Nats() {
  jsCtx_Destroy(js_);
  natsConnection_Destroy(connection_);
}

void Nats::ensure_stream(const StreamSpec& spec) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  std::vector<const char*> subjects;
  for (const auto& subject : spec.subjects) subjects.push_back(subject.c_str());
  config.Name = spec.name.c_str();
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  config.Storage = js_FileStorage;
  config.Replicas = spec.replicas;
  config.Duplicates = spec.duplicate_window_ms * kNanosPerMilli;
  config.MaxAge = spec.max_age_ms * kNanosPerMilli;
  config.Retention = spec.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddStream(&info, js_, &config, nullptr, &code);
  if (status == NATS_OK) jsStreamInfo_Destroy(info);
  if (code == JSStreamNameExistErr) return;  // created before (perhaps by another node)
  check(status, "add stream", code);
}

std::unique_ptr<KeyValue> Nats::bucket(const BucketSpec& spec) {
  kvStore* kv = nullptr;
  if (js_KeyValue(&kv, js_, spec.name.c_str()) == NATS_OK)
    return std::make_unique<KeyValue>(kv, js_);
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = spec.name.c_str();
  config.Replicas = spec.replicas;
  config.TTL = spec.ttl_ms * kNanosPerMilli;
  config.History = static_cast<uint8_t>(spec.history);
  natsStatus status = js_CreateKeyValue(&kv, js_, &config);
  if (status != NATS_OK) status = js_KeyValue(&kv, js_, spec.name.c_str());  // created meanwhile?
  check(status, "key-value bucket");
  return std::make_unique<KeyValue>(kv, js_);
}

Published Nats::publish(const std::string& subject, const std::string& data,
                        const std::string& msg_id,
                        std::optional<std::uint64_t> expect_last_subject_seq) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  if (!msg_id.empty()) options.MsgId = msg_id.c_str();
  // 0 means "no expectation" to the client: a fence is always a sequence, so at least 1.
  if (expect_last_subject_seq) options.ExpectLastSubjectSeq = *expect_last_subject_seq;
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_Publish(&ack, js_, subject.c_str(), data.data(),
                                 static_cast<int>(data.size()), &options, &code);
  check(status, "publish", code);
  Published out{ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return out;
}

std::uint64_t Nats::last_sequence(const std::string& stream, const std::string& subject) {
  natsMsg* message = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetLastMsg(&message, js_, stream.c_str(), subject.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return 0;
  check(status, "last message", code);
  std::uint64_t sequence = natsMsg_GetSequence(message);
  natsMsg_Destroy(message);
  return sequence;
}

std::uint64_t Nats::message_count(const std::string& stream, const std::string& subject) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  jsOptions options;
  jsOptions_Init(&options);
  if (!subject.empty()) options.Stream.Info.SubjectsFilter = subject.c_str();
  check(js_GetStreamInfo(&info, js_, stream.c_str(), &options, &code), "stream info", code);
  std::uint64_t count = info->State.Msgs;
  if (!subject.empty()) {
    count = 0;
    if (info->State.Subjects != nullptr) {
      for (int i = 0; i < info->State.Subjects->Count; ++i) {
        count += info->State.Subjects->List[i].Msgs;
      }
    }
  }
  jsStreamInfo_Destroy(info);
  return count;
}

std::uint64_t Nats::stream_bytes(const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code), "stream info", code);
  const auto bytes = info->State.Bytes;
  jsStreamInfo_Destroy(info);
  return bytes;
}

void Nats::purge(const std::string& stream, const std::string& subject, std::uint64_t keep_from) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Purge.Subject = subject.c_str();
  options.Stream.Purge.Sequence = keep_from;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_PurgeStream(js_, stream.c_str(), &options, &code), "purge", code);
}

void Nats::erase(const std::string& stream, const std::string& subject, std::uint64_t before) {
  std::vector<std::uint64_t> sequences;
  read(stream, subject, 0, [&](Message& message) {
    if (before == 0 || message.sequence() < before) sequences.push_back(message.sequence());
  });
  for (auto seq : sequences) {
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_EraseMsg(js_, stream.c_str(), seq, nullptr, &code);
    if (status == NATS_NOT_FOUND || code == JSStreamMsgDeleteFailed) continue;  // gone meanwhile
    check(status, "erase message", code);
  }
}

std::int64_t Nats::max_payload() {
  return natsConnection_GetMaxPayload(connection_);
}

void Nats::read(const std::string& stream, const std::string& subject, std::uint64_t start,
                const std::function<void(Message&)>& each) {
  // Up to the subject's last message now; nothing to read (and no consumer) when it has none.
  const auto last = last_sequence(stream, subject);
  if (last == 0 || last < start) return;
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Ordered = true;
  if (start > 0) {
    sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
    sub_options.Config.OptStartSeq = start;
  }
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_SubscribeSync(&raw, js_, subject.c_str(), nullptr, &sub_options, &code),
        "subscribe (read)", code);
  Subscription sub(raw);
  for (std::uint64_t seq = 0; seq < last;) {
    natsMsg* msg = nullptr;
    check(natsSubscription_NextMsg(&msg, raw, 30'000), "read next");
    Message message(msg);
    seq = message.sequence();
    if (seq == 0) continue;  // a flow control or heartbeat message of the ordered consumer
    each(message);
  }
}

std::unique_ptr<Subscription> Nats::consume(const ConsumeSpec& spec, MessageHandler handler,
                                            std::function<void()> broken) {
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = spec.stream.c_str();
  sub_options.ManualAck = true;
  sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
  sub_options.Config.OptStartSeq = std::max<std::uint64_t>(1, spec.start);
  sub_options.Config.AckPolicy = js_AckExplicit;
  sub_options.Config.MaxAckPending = spec.max_ack_pending;
  sub_options.Config.AckWait = spec.ack_wait_ms * kNanosPerMilli;
  sub_options.Config.InactiveThreshold = std::int64_t{30'000} * kNanosPerMilli;
  sub_options.Config.MemoryStorage = true;
  if (!spec.replicated) sub_options.Config.Replicas = 1;
  // Idle heartbeats: the client reports them missed when the consumer stopped answering.
  sub_options.Config.Heartbeat = std::int64_t{1000} * kNanosPerMilli;
  auto closure = std::make_unique<MessageHandler>(std::move(handler));
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_Subscribe(&raw, js_, spec.subject.c_str(), &deliver, closure.get(), nullptr,
                     &sub_options, &code),
        "subscribe", code);
  {
    std::lock_guard lock(handlers_mutex_);
    handlers_.push_back(std::move(closure));  // lives as long as the connection
    if (broken) broken_[raw] = std::move(broken);
  }
  return std::make_unique<Subscription>(raw, this);
}

std::unique_ptr<Subscription> Nats::pull(const std::string& stream, const std::string& subject,
                                         const std::string& durable, std::int64_t ack_wait_ms) {
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Config.AckPolicy = js_AckExplicit;
  sub_options.Config.AckWait = ack_wait_ms * kNanosPerMilli;
  sub_options.Config.MaxAckPending = 65'536;
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status =
      js_PullSubscribe(&raw, js_, subject.c_str(), durable.c_str(), nullptr, &sub_options, &code);
  if (status != NATS_OK && code == JSConsumerWQConsumerNotUniqueErr) {
    // The work queue takes one consumer over the subject: another one goes.
    jsConsumerInfoList* consumers = nullptr;
    if (js_Consumers(&consumers, js_, stream.c_str(), nullptr, nullptr) == NATS_OK) {
      for (int i = 0; i < consumers->Count; ++i) {
        const auto* info = consumers->List[i];
        if (info->Config != nullptr && info->Config->FilterSubject != nullptr &&
            subject == info->Config->FilterSubject && durable != info->Name) {
          js_DeleteConsumer(js_, stream.c_str(), info->Name, nullptr, nullptr);
        }
      }
      jsConsumerInfoList_Destroy(consumers);
    }
    status =
        js_PullSubscribe(&raw, js_, subject.c_str(), durable.c_str(), nullptr, &sub_options, &code);
  }
  check(status, "pull subscribe", code);
  return std::make_unique<Subscription>(raw, js_, stream, durable);
}

std::unique_ptr<Subscription> Nats::serve(const std::string& subject,
                                          std::function<std::string(std::string_view)> answer) {
  auto closure = std::make_unique<std::function<std::string(std::string_view)>>(std::move(answer));
  auto on_request = [](natsConnection* nc, natsSubscription* /*sub*/, natsMsg* msg, void* self) {
    Message request(msg);
    const char* reply = natsMsg_GetReply(msg);
    if (reply == nullptr) return;
    std::string answer;
    try {
      answer = (*static_cast<std::function<std::string(std::string_view)>*>(self))(request.data());
    } catch (const std::exception& e) {
      answer = std::string("{\"error\":\"internal error\"}");
    }
    natsConnection_Publish(nc, reply, answer.data(), static_cast<int>(answer.size()));
  };
  natsSubscription* raw = nullptr;
  check(natsConnection_Subscribe(&raw, connection_, subject.c_str(), on_request, closure.get()),
        "subscribe (serve)");
  {
    std::lock_guard lock(handlers_mutex_);
    answers_.push_back(std::move(closure));
  }
  return std::make_unique<Subscription>(raw);
}

std::optional<std::string> Nats::request(const std::string& subject, const std::string& data,
                                         std::int64_t timeout_ms) {
  natsMsg* reply = nullptr;
  natsStatus status = natsConnection_Request(&reply, connection_, subject.c_str(), data.data(),
                                             static_cast<int>(data.size()), timeout_ms);
  if (status == NATS_TIMEOUT || status == NATS_NO_RESPONDERS) return std::nullopt;
  check(status, "request");
  Message message(reply);
  return std::string(message.data());
}

void Nats::send(const std::string& subject, const std::string& data) {
  check(natsConnection_Publish(connection_, subject.c_str(), data.data(),
                               static_cast<int>(data.size())),
        "send");
}

std::optional<std::string> Nats::publish_for_reply(const Outgoing& message,
                                                   std::int64_t timeout_ms) {
  natsInbox* inbox = nullptr;
  check(natsInbox_Create(&inbox), "inbox");
  const std::string reply = inbox;
  natsInbox_Destroy(inbox);
  natsSubscription* raw = nullptr;
  check(natsConnection_SubscribeSync(&raw, connection_, reply.c_str()), "subscribe (reply)");
  Subscription sub(raw);
  natsMsg* msg = nullptr;
  natsStatus status = natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.data.data(),
                                     static_cast<int>(message.data.size()));
  if (status == NATS_OK && !set_headers(msg, message)) status = NATS_ERR;
  if (status == NATS_OK) status = natsMsgHeader_Set(msg, "Journey-Reply", reply.c_str());
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (status == NATS_OK) status = js_PublishMsg(&ack, js_, msg, nullptr, &code);
  natsMsg_Destroy(msg);
  jsPubAck_Destroy(ack);
  check(status, "publish", code);
  natsMsg* answer = nullptr;
  status = natsSubscription_NextMsg(&answer, raw, timeout_ms);
  if (status == NATS_TIMEOUT) return std::nullopt;
  check(status, "reply");
  Message received(answer);
  return std::string(received.data());
}

/// One submit() call's messages waiting for their acknowledgements.
struct AsyncPublisher::Pending {
  std::vector<PublishResult> results;
  std::vector<std::uint64_t> tokens;
  std::size_t remaining = 0;
  std::chrono::steady_clock::time_point deadline;
  Done done;
};

AsyncPublisher::AsyncPublisher(Nats& nats, std::int64_t max_pending) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = 5000;
  options.PublishAsync.MaxPending = max_pending;
  options.PublishAsync.AckHandler = &AsyncPublisher::on_ack;
  options.PublishAsync.AckHandlerClosure = this;
  options.PublishAsync.StallWait = 5000;
  check(natsConnection_JetStream(&js_, nats.connection_, &options), "jetstream");
  sweeper_ = std::thread([this] { sweep(); });
}

AsyncPublisher::~AsyncPublisher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  sweep_wake_.notify_all();
  sweeper_.join();
  jsCtx_Destroy(js_);
}

void AsyncPublisher::complete(const std::shared_ptr<Pending>& pending) {
  if (pending->done) pending->done(std::move(pending->results));
}

void AsyncPublisher::on_ack(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                            void* self) {
  auto& publisher = *static_cast<AsyncPublisher*>(self);
  const char* token = nullptr;
  std::shared_ptr<Pending> finished;
  if (natsMsgHeader_Get(msg, "Journey-Token", &token) == NATS_OK && token != nullptr) {
    std::lock_guard lock(publisher.mutex_);
    auto it = publisher.waiting_.find(std::stoull(token));
    if (it != publisher.waiting_.end()) {  // else: its batch gave up waiting
      auto& [pending, index] = it->second;
      auto& result = pending->results[index];
      if (ack != nullptr) {
        result.sequence = ack->Sequence;
        result.duplicate = ack->Duplicate;
      } else {
        result.error = error != nullptr && error->ErrText != nullptr ? error->ErrText : "refused";
        result.js_code = error != nullptr ? static_cast<int>(error->ErrCode) : 0;
      }
      if (--pending->remaining == 0) finished = pending;
      publisher.waiting_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
  if (finished) complete(finished);
}

void AsyncPublisher::sweep() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    sweep_wake_.wait_for(lock, std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Pending>> expired;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto& [pending, index] = it->second;
      if (pending->deadline > now) {
        ++it;
        continue;
      }
      pending->results[index].error = "no acknowledgement in time";
      if (--pending->remaining == 0) expired.push_back(pending);
      it = waiting_.erase(it);
    }
    if (expired.empty()) continue;
    // Messages whose acknowledgement never comes (the server that took them went away) would
    // stay in the client's window for ever: take them back, so that later batches have room.
    lock.unlock();
    natsMsgList stale{};
    if (js_PublishAsyncGetPendingList(&stale, js_) == NATS_OK) natsMsgList_Destroy(&stale);
    for (const auto& pending : expired) complete(pending);
    lock.lock();
  }
}

void AsyncPublisher::submit(const std::vector<Outgoing>& messages, std::int64_t timeout_ms,
                            Done done) {
  auto pending = std::make_shared<Pending>();
  pending->results.resize(messages.size());
  pending->tokens.resize(messages.size());
  pending->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  pending->done = std::move(done);
  if (messages.empty()) {
    complete(pending);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    pending->remaining = messages.size();
    for (std::size_t i = 0; i < messages.size(); ++i) {
      pending->tokens[i] = next_token_++;
      waiting_.emplace(pending->tokens[i], std::make_pair(pending, i));
    }
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    natsMsg* msg = nullptr;
    const auto& message = messages[i];
    natsStatus status = natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.data.data(),
                                       static_cast<int>(message.data.size()));
    const auto token = std::to_string(pending->tokens[i]);
    if (status == NATS_OK) status = natsMsgHeader_Set(msg, "Journey-Token", token.c_str());
    if (status == NATS_OK && !set_headers(msg, message)) status = NATS_ERR;
    if (status == NATS_OK) status = js_PublishMsgAsync(js_, &msg, nullptr);
    if (status == NATS_OK) continue;
    natsMsg_Destroy(msg);  // null once the library took it
    bool last = false;
    {
      std::lock_guard lock(mutex_);
      if (waiting_.erase(pending->tokens[i]) == 0) continue;  // answered meanwhile
      pending->results[i].error = std::string("not sent: ") + natsStatus_GetText(status);
      last = --pending->remaining == 0;
    }
    if (last) complete(pending);
  }
}

std::vector<PublishResult> AsyncPublisher::publish(const std::vector<Outgoing>& messages,
                                                   std::int64_t timeout_ms) {
  std::mutex mutex;
  std::condition_variable answered;
  std::optional<std::vector<PublishResult>> out;
  submit(messages, timeout_ms, [&](std::vector<PublishResult> results) {
    std::lock_guard lock(mutex);
    out = std::move(results);
    answered.notify_all();
  });
  std::unique_lock lock(mutex);
  answered.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

}  // namespace journey::runtime
