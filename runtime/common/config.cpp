#include "runtime/common/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "engine/calendar.hpp"
#include "engine/rules.hpp"
#include "runtime/common/json_guard.hpp"

namespace journey::runtime {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& origin, const toml::node& node, const std::string& key,
                       const std::string& message) {
  std::ostringstream out;
  out << origin << ":" << node.source().begin.line << ": `" << key << "`: " << message;
  throw ConfigError(out.str());
}

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

/// Reads typed values out of one TOML table, refusing unknown keys (they are usually typos).
class TableReader {
 public:
  TableReader(const toml::table& table, std::string origin, std::string prefix)
      : table_(table), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  const toml::node* find(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  std::optional<std::string> string(std::string_view key) {
    const auto* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_string()) fail(origin_, *node, join(prefix_, key), "expected a string");
    return node->as_string()->get();
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) {
    const auto* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_integer()) fail(origin_, *node, join(prefix_, key), "expected an integer");
    auto value = node->as_integer()->get();
    if (value < min || value > max) {
      fail(origin_, *node, join(prefix_, key),
           "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return value;
  }

  /// A duration written as a string ("30s", "1d12h", "250ms").
  std::optional<std::int64_t> duration(std::string_view key) {
    const auto* node = find(key);
    if (node == nullptr) return std::nullopt;
    std::optional<std::int64_t> ms;
    if (node->is_string()) ms = parse_duration_ms(node->as_string()->get());
    if (!ms || *ms <= 0) {
      fail(origin_, *node, join(prefix_, key),
           "expected a positive duration string such as \"30s\", \"5m\" or \"1d12h\"");
    }
    return ms;
  }

  const toml::table* table(std::string_view key) {
    const auto* node = find(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) fail(origin_, *node, join(prefix_, key), "expected a table");
    return node->as_table();
  }

  /// Call after reading every known key: the rest are errors.
  void refuse_unknown() {
    for (auto&& [key, node] : table_) {
      if (seen_.count(std::string(key.str())) == 0) {
        fail(origin_, node, join(prefix_, key.str()), "unknown key");
      }
    }
  }

  const std::string& origin() const { return origin_; }
  std::string key_name(std::string_view key) const { return join(prefix_, key); }

 private:
  const toml::table& table_;
  std::string origin_;
  std::string prefix_;
  std::set<std::string> seen_;
};

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (base_dir.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

SinkSpec read_sink(const toml::node& node, const std::string& origin, const std::string& key,
                   const std::string& base_dir) {
  if (!node.is_string()) fail(origin, node, key, "expected \"file:PATH\" or \"webhook:URL\"");
  auto sink = parse_sink(node.as_string()->get());
  if (!sink) fail(origin, node, key, "expected \"file:PATH\" or \"webhook:http://HOST:PORT/PATH\"");
  if (sink->kind == SinkSpec::Kind::File) sink->target = resolve(base_dir, sink->target);
  return *sink;
}

ClusterConfig read_cluster(const toml::table& table, const std::string& origin) {
  TableReader reader(table, origin, "cluster");
  ClusterConfig cluster;
  const auto engine = reader.string("engine");
  if (!engine || *engine != "nats") {
    fail(origin,
         reader.find("engine") ? *table.get("engine") : static_cast<const toml::node&>(table),
         "cluster.engine", "expected \"nats\" (the only cluster engine)");
  }
  const auto* servers = reader.find("servers");
  if (servers == nullptr || !servers->is_array() || servers->as_array()->empty()) {
    fail(origin, servers ? *servers : static_cast<const toml::node&>(table), "cluster.servers",
         "expected a non-empty list of \"nats://HOST:PORT\"");
  }
  for (const auto& server : *servers->as_array()) {
    auto url = server.value<std::string>();
    if (!url || url->rfind("nats://", 0) != 0) {
      fail(origin, server, "cluster.servers", "expected \"nats://HOST:PORT\"");
    }
    cluster.servers.push_back(*url);
  }
  if (auto v = reader.integer("partitions", 1, 4096)) cluster.partitions = static_cast<int>(*v);
  if (auto v = reader.integer("replicas", 1, 5)) cluster.replicas = static_cast<int>(*v);
  const auto node = reader.string("node");
  const bool node_ok = node && !node->empty() && node->size() <= 64 &&
                       std::all_of(node->begin(), node->end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                       });
  if (!node_ok) {
    fail(origin, reader.find("node") ? *table.get("node") : static_cast<const toml::node&>(table),
         "cluster.node",
         "expected this node's name: letters, digits, - and _, unique in the cluster");
  }
  cluster.node = *node;
  if (auto v = reader.duration("lease_ttl")) cluster.lease_ttl_ms = *v;
  if (auto v = reader.duration("lease_round")) cluster.lease_round_ms = *v;
  if (cluster.lease_round_ms * 2 > cluster.lease_ttl_ms) {
    const auto* at =
        table.get("lease_round") != nullptr ? table.get("lease_round") : table.get("lease_ttl");
    fail(origin, at != nullptr ? *at : static_cast<const toml::node&>(table), "cluster.lease_round",
         "must be at most half of cluster.lease_ttl");
  }
  if (auto v = reader.duration("dedupe_window")) cluster.dedupe_window_ms = *v;
  if (auto v = reader.duration("materialize_every")) cluster.materialize_every_ms = *v;
  if (auto v = reader.duration("ack_timeout")) cluster.ack_timeout_ms = *v;
  reader.refuse_unknown();
  return cluster;
}

}  // namespace

const SinkSpec& Config::sink_for(const std::string& channel) const {
  auto it = channel_sinks.find(channel);
  return it == channel_sinks.end() ? default_sink : it->second;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data() + i || value < 0) return std::nullopt;
    i = static_cast<std::size_t>(end - text.data());
    std::int64_t unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < text.size()) {
      switch (text[i]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60'000; break;
        case 'h': unit = 3'600'000; break;
        case 'd': unit = 86'400'000; break;
        case 'w': unit = 7 * 86'400'000LL; break;
        default: return std::nullopt;
      }
      ++i;
    } else {
      return std::nullopt;
    }
    if (value > (INT64_MAX - total) / unit) return std::nullopt;
    total += value * unit;
  }
  return total;
}

std::optional<SinkSpec> parse_sink(std::string_view text) {
  if (text.rfind("file:", 0) == 0 && text.size() > 5) {
    return SinkSpec{SinkSpec::Kind::File, std::string(text.substr(5))};
  }
  if (text.rfind("webhook:", 0) == 0) {
    auto url = text.substr(8);
    if (url.rfind("http://", 0) != 0 || url.size() <= 7) return std::nullopt;
    return SinkSpec{SinkSpec::Kind::Webhook, std::string(url)};
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65535) {
    return std::nullopt;
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Config parse_config(std::string_view toml_text, const std::string& origin,
                    const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    throw ConfigError(out.str());
  }
  Config config;
  TableReader top(root, origin, "");
  if (auto v = top.string("journeys")) config.journeys_dir = resolve(base_dir, *v);
  if (auto v = top.string("db")) config.db_path = resolve(base_dir, *v);
  if (auto v = top.string("listen")) {
    auto parsed = parse_listen(*v);
    if (!parsed) fail(origin, *root.get("listen"), "listen", "expected HOST:PORT");
    config.listen_host = parsed->first;
    config.listen_port = parsed->second;
  }
  if (auto v = top.integer("shards", 1, 1024)) config.shards = static_cast<int>(*v);
  if (auto v = top.integer("threads", 1, 64)) config.threads = static_cast<int>(*v);

  if (const auto* sink = top.table("sink")) {
    TableReader reader(*sink, origin, "sink");
    if (const auto* node = reader.find("default")) {
      config.default_sink = read_sink(*node, origin, "sink.default", base_dir);
    }
    if (const auto* channels = reader.table("channels")) {
      for (auto&& [key, node] : *channels) {
        config.channel_sinks[std::string(key.str())] =
            read_sink(node, origin, "sink.channels." + std::string(key.str()), base_dir);
      }
    }
    reader.refuse_unknown();
  } else if (!root.contains("sink")) {
    config.default_sink.target = resolve(base_dir, config.default_sink.target);
  }

  if (const auto* node = top.find("tokens")) {
    if (!node->is_array_of_tables()) fail(origin, *node, "tokens", "expected [[tokens]] tables");
    std::size_t index = 0;
    for (const auto& item : *node->as_array()) {
      std::string prefix = "tokens[" + std::to_string(index++) + "]";
      TableReader reader(*item.as_table(), origin, prefix);
      Token token;
      auto secret = reader.string("token");
      if (!secret || secret->size() < 8) {
        fail(origin, item, prefix + ".token", "a token of at least 8 characters is required");
      }
      token.secret = *secret;
      token.name = reader.string("name").value_or(prefix);
      const auto* scopes = reader.find("scopes");
      if (scopes == nullptr || !scopes->is_array() || scopes->as_array()->empty()) {
        fail(origin, scopes ? *scopes : item, prefix + ".scopes",
             "expected a non-empty list of \"ingest\", \"read\", \"admin\"");
      }
      for (const auto& scope : *scopes->as_array()) {
        auto text = scope.value<std::string>();
        if (text == "ingest")
          token.scopes.insert(Scope::Ingest);
        else if (text == "read")
          token.scopes.insert(Scope::Read);
        else if (text == "admin")
          token.scopes.insert(Scope::Admin);
        else
          fail(origin, scope, prefix + ".scopes", "unknown scope (expected ingest, read or admin)");
      }
      reader.refuse_unknown();
      config.tokens.push_back(std::move(token));
    }
  }

  if (const auto* engine = top.table("engine")) {
    TableReader reader(*engine, origin, "engine");
    if (auto v = reader.string("default_zone")) config.engine.default_zone = *v;
    if (auto v = reader.string("consent")) {
      if (*v != "required" && *v != "assumed") {
        fail(origin, *engine->get("consent"), "engine.consent",
             "expected \"required\" or \"assumed\"");
      }
      config.engine.consent_assumed = *v == "assumed";
    }
    if (auto v = reader.integer("step_budget", 1, 10'000'000))
      config.engine.step_budget = static_cast<int>(*v);
    if (auto v = reader.integer("emit_depth", 1, 1000))
      config.engine.emit_depth = static_cast<int>(*v);
    if (const auto* caps = reader.table("caps")) {
      for (auto&& [key, node] : *caps) {
        std::string name = "engine.caps." + std::string(key.str());
        if (!node.is_table()) fail(origin, node, name, "expected { count = N, per = \"7d\" }");
        TableReader cap_reader(*node.as_table(), origin, name);
        engine::ChannelCap cap;
        auto count = cap_reader.integer("count", 1, 1'000'000);
        auto per = cap_reader.duration("per");
        if (!count || !per) fail(origin, node, name, "needs both `count` and `per`");
        cap.count = *count;
        cap.per_ms = *per;
        cap_reader.refuse_unknown();
        config.engine.channel_caps[std::string(key.str())] = cap;
      }
    }
    reader.refuse_unknown();
  }

  if (const auto* model = top.table("model")) {
    TableReader reader(*model, origin, "model");
    if (auto v = reader.string("file")) {
      config.model_file = resolve(base_dir, *v);
      try {
        config.engine.model = load_model(config.model_file);
      } catch (const ConfigError& e) {
        fail(origin, *model->get("file"), "model.file", e.what());
      }
    } else {
      fail(origin, *model, "model", "needs `file`, the model file of `journey model fit --out`");
    }
    reader.refuse_unknown();
  }

  if (const auto* identity = top.table("identity")) {
    TableReader reader(*identity, origin, "identity");
    if (const auto* keys = reader.find("keys")) {
      const auto* array = keys->as_array();
      if (array == nullptr)
        fail(origin, *keys, "identity.keys", "expected an array of trait names");
      for (const auto& key : *array) {
        if (!key.is_string() || key.as_string()->get().empty())
          fail(origin, key, "identity.keys", "expected a trait name (a non-empty string)");
        config.identity.keys.push_back(key.as_string()->get());
      }
    }
    if (auto v = reader.integer("max_ids", 1, 100'000))
      config.identity.max_ids = static_cast<std::size_t>(*v);
    reader.refuse_unknown();
  }

  if (const auto* program = top.table("program")) {
    TableReader reader(*program, origin, "program");
    if (auto v = reader.string("holdout")) {
      const auto share = engine::parse_share(*v);
      if (!share)
        fail(origin, *program->get("holdout"), "program.holdout",
             "expected a share from 0% to 100% such as \"5%\" or \"2.5%\"");
      config.engine.program.holdout_bp = *share;
    }
    if (auto v = reader.string("salt")) {
      if (v->empty()) fail(origin, *program->get("salt"), "program.salt", "must not be empty");
      config.engine.program.salt = *v;
    }
    if (auto v = reader.integer("max_active", 0, 1000))
      config.engine.program.max_active = static_cast<int>(*v);
    reader.refuse_unknown();
  }

  if (const auto* topics = top.table("topics")) {
    for (const auto& [name, node] : *topics) {
      const std::string key = "topics." + std::string(name.str());
      const auto* text = node.as_string();
      const auto policy = text != nullptr ? engine::parse_topic_default(text->get()) : std::nullopt;
      if (!policy) fail(origin, node, key, "expected \"opt-in\" or \"opt-out\"");
      config.engine.program.topics[std::string(name.str())] = *policy;
    }
  }

  if (const auto* calendar = top.table("calendar")) {
    TableReader reader(*calendar, origin, "calendar");
    if (auto v = reader.string("holidays")) {
      config.calendar_file = resolve(base_dir, *v);
      try {
        config.engine.holidays = load_holidays(config.calendar_file);
      } catch (const ConfigError& e) {
        fail(origin, *calendar->get("holidays"), "calendar.holidays", e.what());
      }
    }
    reader.refuse_unknown();
  }

  if (const auto* limits = top.table("limits")) {
    TableReader reader(*limits, origin, "limits");
    if (auto v = reader.integer("body_bytes", 256, 1LL << 30))
      config.limits.body_bytes = static_cast<std::size_t>(*v);
    if (auto v = reader.integer("batch_items", 1, 1'000'000))
      config.limits.batch_items = static_cast<std::size_t>(*v);
    if (auto v = reader.duration("read_timeout")) config.limits.read_timeout_ms = *v;
    if (auto v = reader.integer("max_connections", 1, 1'000'000))
      config.limits.max_connections = static_cast<std::size_t>(*v);
    if (auto v = reader.integer("max_queue", 1, 100'000'000))
      config.limits.max_queue = static_cast<std::size_t>(*v);
    if (auto v = reader.integer("requests_per_connection", 1, 100'000'000)) {
      config.limits.requests_per_connection = static_cast<std::size_t>(*v);
    }
    if (auto v = reader.integer("json_depth", 2, 10'000))
      config.limits.json_depth = static_cast<std::size_t>(*v);
    if (auto v = reader.duration("header_timeout")) config.limits.header_timeout_ms = *v;
    if (auto v = reader.integer("connections_per_peer", 1, 1'000'000)) {
      config.limits.connections_per_peer = static_cast<std::size_t>(*v);
    }
    if (auto v = reader.duration("timestamp_ahead")) config.limits.timestamp_ahead_ms = *v;
    if (auto v = reader.duration("timestamp_behind")) config.limits.timestamp_behind_ms = *v;
    reader.refuse_unknown();
  }

  if (const auto* retention = top.table("retention")) {
    TableReader reader(*retention, origin, "retention");
    if (auto v = reader.duration("timeline")) config.retention.timeline_ms = *v;
    if (auto v = reader.integer("trace_lines", 0, 1'000'000))
      config.retention.trace_lines = static_cast<std::size_t>(*v);
    if (auto v = reader.integer("recent_actions", 0, 10'000))
      config.retention.recent_actions = static_cast<std::size_t>(*v);
    if (auto v = reader.duration("erased")) config.retention.erased_ms = *v;
    reader.refuse_unknown();
  }

  if (const auto* webhook = top.table("webhook")) {
    TableReader reader(*webhook, origin, "webhook");
    if (auto v = reader.duration("timeout")) config.webhook.timeout_ms = *v;
    if (auto v = reader.integer("max_attempts", 1, 1000))
      config.webhook.max_attempts = static_cast<int>(*v);
    if (auto v = reader.duration("backoff_initial")) config.webhook.backoff_initial_ms = *v;
    if (auto v = reader.duration("backoff_max")) config.webhook.backoff_max_ms = *v;
    reader.refuse_unknown();
  }

  if (const auto* timers = top.table("timers")) {
    TableReader reader(*timers, origin, "timers");
    if (auto v = reader.duration("window")) config.timer_window_ms = *v;
    if (auto v = reader.integer("max_in_memory", 16, 100'000'000))
      config.timer_window_max = static_cast<std::size_t>(*v);
    reader.refuse_unknown();
  }
  if (const auto* cluster = top.table("cluster")) config.cluster = read_cluster(*cluster, origin);
  if (auto v = top.integer("group_commit_max", 1, 100'000)) config.group_commit_max = *v;
  if (auto v = top.integer("db_cache_mb", 2, 65'536)) config.db_cache_mb = *v;
  top.table("lint");  // for `journey lint` and `journey lsp` (dsl/lint_config.hpp), not the daemon
  top.refuse_unknown();
  return config;
}

void apply_overrides(Config& config, const ConfigOverrides& overrides) {
  if (overrides.journeys_dir) config.journeys_dir = *overrides.journeys_dir;
  if (overrides.db_path) config.db_path = *overrides.db_path;
  if (overrides.listen) {
    auto parsed = parse_listen(*overrides.listen);
    if (!parsed) throw ConfigError("--listen: expected HOST:PORT, got `" + *overrides.listen + "`");
    config.listen_host = parsed->first;
    config.listen_port = parsed->second;
  }
  if (overrides.sink) {
    auto sink = parse_sink(*overrides.sink);
    if (!sink) {
      throw ConfigError("--sink: expected file:PATH or webhook:http://HOST:PORT/PATH, got `" +
                        *overrides.sink + "`");
    }
    config.default_sink = *sink;
    config.channel_sinks.clear();
  }
}

Config load_config(const std::optional<std::string>& path, const ConfigOverrides& overrides) {
  Config config;
  if (path) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) throw ConfigError(*path + ": cannot read the configuration file");
    std::ostringstream text;
    text << in.rdbuf();
    config = parse_config(text.str(), *path, fs::path(*path).parent_path().string());
  }
  apply_overrides(config, overrides);
  return config;
}

engine::PurchaseModel load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the model file");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  if (auto limit = check_json_limits(bytes, Limits{}.json_depth))
    throw ConfigError(path + ": " + limit->path + ": " + limit->message);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 2, ..."
    if (const auto close = what.find("] "); close != std::string::npos) what.erase(0, close + 2);
    throw ConfigError(path + ": not JSON: " + what);
  }
  auto read = engine::read_model(json);
  if (!read.model) throw ConfigError(path + ": " + read.problem);
  return std::move(*read.model);
}

std::set<std::int64_t> load_holidays(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the calendar file");
  std::set<std::int64_t> days;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string date = line.substr(0, line.find(','));
    const auto first = date.find_first_not_of(" \t");
    if (first == std::string::npos || date[first] == '#') continue;
    const std::string trimmed = date.substr(first, date.find_last_not_of(" \t") - first + 1);
    if (number == 1 && trimmed == "date") continue;
    const auto value = engine::parse_date_value(trimmed);
    if (!value || value->instant) {
      std::string message = path;
      message += ":" + std::to_string(number) + ": expected a date YYYY-MM-DD, got \"";
      message += trimmed + "\"";
      throw ConfigError(message);
    }
    days.insert(date::sys_days{value->day}.time_since_epoch().count());
  }
  return days;
}

void validate_for_serving(const Config& config) {
  if (config.tokens.empty() && !is_loopback_host(config.listen_host)) {
    throw ConfigError("listen: refusing to bind to non-loopback address " + config.listen_host +
                      " with no [[tokens]] configured");
  }
}

}  // namespace journey::runtime
