// The daemon's configuration: journey.toml, embedded defaults, and command-line overrides.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"
#include "engine/identity.hpp"

namespace journey::runtime {

/// Where actions of a channel go: an NDJSON file or an HTTP webhook.
struct SinkSpec {
  enum class Kind : std::uint8_t { File, Webhook };
  Kind kind = Kind::File;
  std::string target;  // File: a path; Webhook: an http:// URL
  friend bool operator==(const SinkSpec&, const SinkSpec&) = default;
};

/// What a bearer token may do. `admin` implies the other two.
enum class Scope : std::uint8_t { Ingest, Read, Admin };

/// One API token and its scopes.
struct Token {
  std::string secret;
  std::string name;  // shown in logs instead of the secret
  std::set<Scope> scopes;
};

/// Guards against bad or greedy clients.
struct Limits {
  std::size_t body_bytes = std::size_t{1024} * 1024;  // larger bodies get 413
  std::size_t batch_items = 1000;                     // larger batches get 413
  std::int64_t read_timeout_ms =
      10'000;                         // a request must arrive within this, else the socket closes
  std::size_t max_connections = 512;  // further connections get 429 and are closed
  std::size_t requests_per_connection = 10'000;  // keep-alive requests before the server closes
  std::size_t max_queue = 100'000;         // inputs waiting in the shards; beyond, ingest gets 429
  std::size_t json_depth = 64;             // deeper JSON bodies get 400 (before they are parsed)
  std::int64_t header_timeout_ms = 5'000;  // the request line and headers must arrive within this
  std::size_t connections_per_peer = 128;  // open connections from one client address; beyond, 429
  std::int64_t timestamp_ahead_ms = 30LL * 24 * 3600 * 1000;         // events stamped later: 400
  std::int64_t timestamp_behind_ms = 10LL * 366 * 24 * 3600 * 1000;  // events stamped earlier: 400
};

/// How long stored data is kept.
struct Retention {
  std::int64_t timeline_ms = 90LL * 24 * 3600 * 1000;  // stored events older than this are deleted
  std::size_t trace_lines = 200;                       // recent trace lines kept per customer
  std::size_t recent_actions = 20;                     // actions shown by GET /v1/customers/{id}
  std::int64_t erased_ms =
      365LL * 24 * 3600 * 1000;  // keyed hashes of erased ids are kept this long
};

/// Webhook delivery policy.
struct WebhookPolicy {
  std::int64_t timeout_ms = 5'000;
  int max_attempts = 8;                     // after this many failures an action is dead
  std::int64_t backoff_initial_ms = 1'000;  // doubled after each failure, with jitter
  std::int64_t backoff_max_ms = 300'000;
};

/// `[cluster]`: the daemon as one node of a cluster whose state lives in NATS JetStream
/// (docs/operations.md, Cluster). Absent: a single node on its SQLite file.
struct ClusterConfig {
  std::vector<std::string> servers;           // nats://HOST:PORT of the NATS servers
  int partitions = 64;                        // fixed when the cluster's streams are created
  int replicas = 3;                           // copies JetStream keeps of every stream and bucket
  std::string node;                           // this node's name, unique in the cluster
  std::int64_t lease_ttl_ms = 5'000;          // a dead node's partitions move after this
  std::int64_t lease_round_ms = 1'000;        // leases are renewed and balanced this often
  std::int64_t dedupe_window_ms = 120'000;    // Nats-Msg-Id window of the event and outbox streams
  std::int64_t materialize_every_ms = 1'000;  // customer states copied to their bucket this often
  std::int64_t ack_timeout_ms = 5'000;  // ingest waits this long for JetStream, then answers 503
};

/// The daemon's whole configuration.
struct Config {
  std::string journeys_dir = "./journeys";
  std::string db_path = "./journey.db";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  SinkSpec default_sink{SinkSpec::Kind::File, "./actions.ndjson"};
  std::map<std::string, SinkSpec> channel_sinks;  // by channel; others use default_sink
  std::vector<Token> tokens;                      // empty: no auth, loopback only
  engine::EngineConfig engine;  // with the purchase model of [model] file, read from the file
  std::string model_file;       // [model] file, resolved; empty without a model
  std::string calendar_file;    // [calendar] holidays, resolved; empty without a calendar
  int shards = 4;
  int threads = 2;                         // I/O threads running the Asio context
  std::int64_t timer_window_ms = 60'000;   // wake-ups this far ahead are held in memory
  std::size_t timer_window_max = 100'000;  // at most this many in memory at once
  std::int64_t group_commit_max = 512;     // inputs committed in one transaction at most
  std::int64_t db_cache_mb = 256;          // the committer's SQLite page cache
  Limits limits;
  Retention retention;
  WebhookPolicy webhook;
  std::optional<ClusterConfig> cluster;  // set: a node of a cluster
  engine::IdentityConfig identity;       // [identity]: keys that link customers, ids per customer

  /// The sink that delivers actions of `channel`.
  const SinkSpec& sink_for(const std::string& channel) const;
};

/// A configuration problem, with the TOML key and line (or the flag) it concerns.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Values given on the command line; each one set overrides the file.
struct ConfigOverrides {
  std::optional<std::string> journeys_dir;
  std::optional<std::string> db_path;
  std::optional<std::string> listen;  // HOST:PORT
  std::optional<std::string> sink;    // file:PATH or webhook:URL
};

/// Reads a TOML document (`origin` names it in messages), and the model file it names. Relative
/// paths in it are resolved against `base_dir`. Throws ConfigError naming the key and line.
Config parse_config(std::string_view toml_text, const std::string& origin,
                    const std::string& base_dir);

/// Loads the file (or the embedded defaults when `path` is empty), then applies the overrides.
Config load_config(const std::optional<std::string>& path, const ConfigOverrides& overrides);

/// Applies command-line overrides. Throws ConfigError naming the flag.
void apply_overrides(Config& config, const ConfigOverrides& overrides);

/// Reads a model file of `journey model fit --out`. Throws ConfigError naming the file and, for
/// a bad value, its JSON path ("model.json: $.bg_nbd.r: expected a positive number").
engine::PurchaseModel load_model(const std::string& path);

/// Reads a holiday calendar: one date `YYYY-MM-DD` a line, optionally followed by `,` and a
/// name; blank lines, `#` comments and a first line `date,...` are skipped. Returns the dates in
/// days since 1970-01-01. Throws ConfigError naming the file and line of a bad date.
std::set<std::int64_t> load_holidays(const std::string& path);

/// Parses `file:PATH` or `webhook:URL`; nothing when malformed.
std::optional<SinkSpec> parse_sink(std::string_view text);

/// Parses HOST:PORT (IPv6 as [::1]:8080); nothing when malformed.
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);

/// Parses a duration such as `250ms`, `30s`, `1d12h`; nothing when malformed.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

/// True when a host name or address is a loopback one (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

/// Refuses configurations that would be unsafe to run (no tokens on a non-loopback address).
void validate_for_serving(const Config& config);

}  // namespace journey::runtime
