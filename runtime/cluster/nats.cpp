#include "runtime/cluster/nats.hpp"

#include <chrono>

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
                  status == NATS_TIMEOUT || status == NATS_NO_RESPONDERS);
}

constexpr std::int64_t kNanosPerMilli = 1'000'000;

}  // namespace

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

std::vector<std::string> KeyValue::keys() {
  kvKeysList list{};
  natsStatus status = kvStore_Keys(&list, kv_, nullptr);
  if (status == NATS_NOT_FOUND) return {};
  check(status, "kv keys");
  std::vector<std::string> out(list.Keys, list.Keys + list.Count);
  kvKeysList_Destroy(&list);
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
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddStream(&info, js_, &config, nullptr, &code);
  if (status == NATS_OK) jsStreamInfo_Destroy(info);
  if (code == JSStreamNameExistErr) return;  // created before (perhaps by another node)
  check(status, "add stream", code);
}

std::unique_ptr<KeyValue> Nats::bucket(const BucketSpec& spec) {
  kvStore* kv = nullptr;
  if (js_KeyValue(&kv, js_, spec.name.c_str()) == NATS_OK) return std::make_unique<KeyValue>(kv);
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = spec.name.c_str();
  config.Replicas = spec.replicas;
  config.TTL = spec.ttl_ms * kNanosPerMilli;
  config.History = static_cast<uint8_t>(spec.history);
  natsStatus status = js_CreateKeyValue(&kv, js_, &config);
  if (status != NATS_OK) status = js_KeyValue(&kv, js_, spec.name.c_str());  // created meanwhile?
  check(status, "key-value bucket");
  return std::make_unique<KeyValue>(kv);
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

std::uint64_t Nats::message_count(const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code), "stream info", code);
  const std::uint64_t count = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return count;
}

/// One publish() call's messages waiting for their acknowledgements.
struct AsyncPublisher::Pending {
  std::vector<PublishResult> results;
  std::size_t remaining = 0;
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
}

AsyncPublisher::~AsyncPublisher() {
  jsCtx_Destroy(js_);
}

void AsyncPublisher::on_ack(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                            void* self) {
  auto& publisher = *static_cast<AsyncPublisher*>(self);
  const char* token = nullptr;
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
      }
      if (--pending->remaining == 0) publisher.answered_.notify_all();
      publisher.waiting_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
}

std::vector<PublishResult> AsyncPublisher::publish(const std::vector<Outgoing>& messages,
                                                   std::int64_t timeout_ms) {
  Pending pending;
  pending.results.resize(messages.size());
  std::vector<std::uint64_t> tokens(messages.size());
  {
    std::lock_guard lock(mutex_);
    pending.remaining = messages.size();
    for (std::size_t i = 0; i < messages.size(); ++i) {
      tokens[i] = next_token_++;
      waiting_.emplace(tokens[i], std::make_pair(&pending, i));
    }
  }
  auto fail = [&](std::size_t i, std::string error) {
    std::lock_guard lock(mutex_);
    if (waiting_.erase(tokens[i]) == 0) return;  // answered meanwhile
    pending.results[i].error = std::move(error);
    --pending.remaining;
  };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    natsMsg* msg = nullptr;
    const auto& message = messages[i];
    natsStatus status = natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.data.data(),
                                       static_cast<int>(message.data.size()));
    const auto token = std::to_string(tokens[i]);
    if (status == NATS_OK) status = natsMsgHeader_Set(msg, "Journey-Token", token.c_str());
    if (status == NATS_OK && !message.msg_id.empty()) {
      status = natsMsgHeader_Set(msg, "Nats-Msg-Id", message.msg_id.c_str());
    }
    if (status == NATS_OK) status = js_PublishMsgAsync(js_, &msg, nullptr);
    if (status != NATS_OK) {
      natsMsg_Destroy(msg);  // null once the library took it
      fail(i, std::string("not sent: ") + natsStatus_GetText(status));
    }
  }
  std::unique_lock lock(mutex_);
  answered_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return pending.remaining == 0; });
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (waiting_.erase(tokens[i]) > 0) pending.results[i].error = "no acknowledgement in time";
  }
  return std::move(pending.results);
}

}  // namespace journey::runtime
