// journey.toml parsing, defaults and command-line overrides.
#include "runtime/common/config.hpp"

#include <catch2/catch.hpp>

#include "cli/cli_support.hpp"

using namespace journey::runtime;

TEST_CASE("config: embedded defaults", "[config]") {
  Config config = load_config(std::nullopt, {});
  CHECK(config.journeys_dir == "./journeys");
  CHECK(config.db_path == "./journey.db");
  CHECK(config.listen_host == "127.0.0.1");
  CHECK(config.listen_port == 8080);
  CHECK(config.default_sink == SinkSpec{SinkSpec::Kind::File, "./actions.ndjson"});
  CHECK(config.tokens.empty());
  CHECK_NOTHROW(validate_for_serving(config));
}

TEST_CASE("config: a full file", "[config]") {
  const char* text = R"(
journeys = "scripts"
db = "/var/lib/journey/j.db"
listen = "0.0.0.0:9000"
shards = 8
db_cache_mb = 64
[sink]
default = "file:out/actions.ndjson"
[sink.channels]
sms = "webhook:http://127.0.0.1:9100/sms"
[[tokens]]
token = "ingest-secret-1"
scopes = ["ingest"]
[[tokens]]
token = "admin-secret-1"
name = "ops"
scopes = ["admin", "read"]
[engine]
default_zone = "Europe/Paris"
consent = "assumed"
caps.email = { count = 3, per = "7d" }
[limits]
body_bytes = 4096
batch_items = 10
read_timeout = "2s"
[retention]
timeline = "30d"
[webhook]
max_attempts = 3
backoff_initial = "100ms"
)";
  Config config = parse_config(text, "journey.toml", "/etc/journey");
  CHECK(config.journeys_dir == "/etc/journey/scripts");
  CHECK(config.db_path == "/var/lib/journey/j.db");
  CHECK(config.listen_host == "0.0.0.0");
  CHECK(config.listen_port == 9000);
  CHECK(config.shards == 8);
  CHECK(config.db_cache_mb == 64);
  CHECK(config.default_sink.target == "/etc/journey/out/actions.ndjson");
  CHECK(config.sink_for("sms") == SinkSpec{SinkSpec::Kind::Webhook, "http://127.0.0.1:9100/sms"});
  CHECK(config.sink_for("email").kind == SinkSpec::Kind::File);
  REQUIRE(config.tokens.size() == 2);
  CHECK(config.tokens[1].name == "ops");
  CHECK(config.tokens[1].scopes.count(Scope::Admin) == 1);
  CHECK(config.engine.default_zone == "Europe/Paris");
  CHECK(config.engine.consent_assumed);
  CHECK(config.engine.channel_caps.at("email").count == 3);
  CHECK(config.engine.channel_caps.at("email").per_ms == 7LL * 86400 * 1000);
  CHECK(config.limits.body_bytes == 4096);
  CHECK(config.limits.batch_items == 10);
  CHECK(config.limits.read_timeout_ms == 2000);
  CHECK(config.retention.timeline_ms == 30LL * 86400 * 1000);
  CHECK(config.webhook.max_attempts == 3);
  CHECK(config.webhook.backoff_initial_ms == 100);
  CHECK_NOTHROW(validate_for_serving(config));
}

TEST_CASE("config: errors name the key and the line", "[config]") {
  auto message = [](const char* text) {
    try {
      parse_config(text, "j.toml", "");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("shards = \"four\"\n") == "j.toml:1: `shards`: expected an integer");
  CHECK(message("\n\n[limits]\nbody_bytes = 1\n") ==
        "j.toml:4: `limits.body_bytes`: must be between 256 and 1073741824");
  CHECK(message("[engine]\nconsent = \"maybe\"\n") ==
        "j.toml:2: `engine.consent`: expected \"required\" or \"assumed\"");
  CHECK(message("lisen = \"x\"\n") == "j.toml:1: `lisen`: unknown key");
  CHECK(message("[sink]\ndefault = \"ftp:x\"\n").rfind("j.toml:2: `sink.default`", 0) == 0);
  CHECK(message("[webhook]\ntimeout = \"5 seconds\"\n").rfind("j.toml:2: `webhook.timeout`", 0) ==
        0);
  CHECK(message("[[tokens]]\ntoken = \"short\"\nscopes=[\"read\"]\n").rfind("j.toml:", 0) == 0);
  CHECK(message("[[tokens]]\ntoken = \"long-enough\"\nscopes=[\"write\"]\n") ==
        "j.toml:3: `tokens[0].scopes`: unknown scope (expected ingest, read or admin)");
  CHECK(message("shards = [\n").rfind("j.toml:", 0) == 0);
  CHECK(message("db_cache_mb = 1\n") == "j.toml:1: `db_cache_mb`: must be between 2 and 65536");
}

TEST_CASE("config: flags override the file", "[config]") {
  Config config = parse_config("[sink.channels]\nsms = \"file:sms.ndjson\"\n", "j.toml", "");
  ConfigOverrides overrides;
  overrides.journeys_dir = "flows";
  overrides.db_path = "x.db";
  overrides.listen = "127.0.0.1:0";
  overrides.sink = "webhook:http://127.0.0.1:1234/hook";
  apply_overrides(config, overrides);
  CHECK(config.journeys_dir == "flows");
  CHECK(config.db_path == "x.db");
  CHECK(config.listen_port == 0);
  CHECK(config.sink_for("sms").kind == SinkSpec::Kind::Webhook);
  overrides.listen = "nonsense";
  CHECK_THROWS_WITH(apply_overrides(config, overrides), Catch::Contains("--listen"));
}

TEST_CASE("config: no token means loopback only", "[config]") {
  Config config;
  config.listen_host = "0.0.0.0";
  CHECK_THROWS_AS(validate_for_serving(config), ConfigError);
  config.listen_host = "::1";
  CHECK_NOTHROW(validate_for_serving(config));
}

TEST_CASE("config: durations and addresses", "[config]") {
  CHECK(parse_duration_ms("250ms") == 250);
  CHECK(parse_duration_ms("1d12h") == 36LL * 3600 * 1000);
  CHECK(parse_duration_ms("2w") == 14LL * 86400 * 1000);
  CHECK_FALSE(parse_duration_ms("5"));
  CHECK_FALSE(parse_duration_ms("5x"));
  CHECK_FALSE(parse_duration_ms(""));
  CHECK(parse_listen("[::1]:80") == std::make_pair(std::string("::1"), std::uint16_t{80}));
  CHECK_FALSE(parse_listen("host:99999"));
  CHECK_FALSE(parse_listen(":80"));
}

TEST_CASE("config: [cluster] makes the daemon a node of a cluster", "[config]") {
  CHECK_FALSE(parse_config("", "j.toml", "").cluster);
  auto config = parse_config(
      "[cluster]\nengine = \"nats\"\nservers = [\"nats://127.0.0.1:4222\", "
      "\"nats://127.0.0.1:4223\"]\npartitions = 16\nreplicas = 3\nnode = \"node-a\"\n"
      "lease_ttl = \"8s\"\nlease_round = \"2s\"\nmaterialize_every = \"500ms\"\n",
      "j.toml", "");
  REQUIRE(config.cluster);
  CHECK(config.cluster->servers.size() == 2);
  CHECK(config.cluster->partitions == 16);
  CHECK(config.cluster->node == "node-a");
  CHECK(config.cluster->lease_ttl_ms == 8000);
  CHECK(config.cluster->lease_round_ms == 2000);
  CHECK(config.cluster->materialize_every_ms == 500);
  CHECK(config.cluster->dedupe_window_ms == 120'000);  // the default

  auto message = [](const std::string& text) {
    try {
      parse_config(text, "j.toml", "");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string servers = "servers = [\"nats://127.0.0.1:4222\"]\n";
  CHECK(message("[cluster]\nengine = \"kafka\"\n" + servers + "node = \"a\"\n") ==
        "j.toml:2: `cluster.engine`: expected \"nats\" (the only cluster engine)");
  CHECK(message("[cluster]\nengine = \"nats\"\nservers = []\nnode = \"a\"\n") ==
        "j.toml:3: `cluster.servers`: expected a non-empty list of \"nats://HOST:PORT\"");
  CHECK(message("[cluster]\nengine = \"nats\"\nservers = [\"127.0.0.1:4222\"]\nnode = \"a\"\n") ==
        "j.toml:3: `cluster.servers`: expected \"nats://HOST:PORT\"");
  CHECK(message("[cluster]\nengine = \"nats\"\n" + servers + "node = \"node a\"\n") ==
        "j.toml:4: `cluster.node`: expected this node's name: letters, digits, - and _, unique in "
        "the cluster");
  CHECK(message("[cluster]\nengine = \"nats\"\n" + servers + "node = \"a\"\nlease_ttl = \"2s\"\n" +
                "lease_round = \"2s\"\n") ==
        "j.toml:6: `cluster.lease_round`: must be at most half of cluster.lease_ttl");
  CHECK(message("[cluster]\nengine = \"nats\"\n" + servers + "node = \"a\"\npartition = 8\n") ==
        "j.toml:5: `cluster.partition`: unknown key");
}

TEST_CASE("config: [model] file is read from the file's folder, and named in its errors",
          "[config]") {
  const journey::test::TempDir dir;
  dir.write("models/model.json", R"({"format": "journey-model", "version": 1,
    "event": "purchase", "unit": "day", "unit_days": 1,
    "bg_nbd": {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"property": "total", "p": 6.25, "q": 3.74, "v": 15.44}})");
  const std::string base = dir.path.string();
  const Config config = parse_config("[model]\nfile = \"models/model.json\"\n", "j.toml", base);
  CHECK(config.model_file == (dir.path / "models/model.json").string());
  REQUIRE(config.engine.model);
  CHECK(config.engine.model->event == "purchase");
  CHECK(config.engine.model->unit_days == 1);
  CHECK(config.engine.model->bgnbd.alpha == 30.9);
  CHECK(config.engine.model->value_property == "total");
  CHECK_FALSE(load_config(std::nullopt, {}).engine.model);

  auto message = [&base](const std::string& text) {
    try {
      parse_config(text, "j.toml", base);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("[model]\nfile = \"models/model.json\"\nrefit = true\n") ==
        "j.toml:3: `model.refit`: unknown key");
  CHECK(message("\n[model]\n") ==
        "j.toml:2: `model`: needs `file`, the model file of `journey model fit --out`");
  CHECK(message("[model]\nfile = \"none.json\"\n") ==
        "j.toml:2: `model.file`: " + (dir.path / "none.json").string() +
            ": cannot read the model file");
  dir.write("bad.json", R"({"format": "journey-model", "version": 1, "event": "purchase",
    "unit_days": 7, "bg_nbd": {"r": 0.243, "alpha": -4, "a": 0.793, "b": 2.426}})");
  CHECK(message("[model]\nfile = \"bad.json\"\n") ==
        "j.toml:2: `model.file`: " + (dir.path / "bad.json").string() +
            ": $.bg_nbd.alpha: expected a positive number");
  dir.write("text.json", "{\"format\": \"journey-model\",\n  r = 0.243}\n");
  CHECK(message("[model]\nfile = \"text.json\"\n")
            .rfind("j.toml:2: `model.file`: " + (dir.path / "text.json").string() +
                       ": not JSON: parse error at line 2, column 3: ",
                   0) == 0);
}

TEST_CASE("config: [calendar] holidays are read from the file's folder, bad lines named",
          "[config]") {
  const journey::test::TempDir dir;
  dir.write(
      "cal/holidays.csv",
      "date,name\n# public holidays\n2026-12-25,Christmas Day\n\n 2026-12-26 ,Boxing Day\r\n");
  const std::string base = dir.path.string();
  const Config config =
      parse_config("[calendar]\nholidays = \"cal/holidays.csv\"\n", "j.toml", base);
  CHECK(config.calendar_file == (dir.path / "cal/holidays.csv").string());
  // Days since 1970-01-01 of 2026-12-25 and 2026-12-26.
  CHECK(config.engine.holidays == std::set<std::int64_t>{20812, 20813});
  CHECK(load_config(std::nullopt, {}).engine.holidays.empty());

  dir.write("bad.csv", "2026-12-25\n2026-13-01,Nope\n");
  try {
    parse_config("[calendar]\nholidays = \"bad.csv\"\n", "j.toml", base);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.find("calendar.holidays") != std::string::npos);
    CHECK(what.find("bad.csv:2: expected a date YYYY-MM-DD, got \"2026-13-01\"") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(parse_config("[calendar]\nholidays = \"missing.csv\"\n", "j.toml", base),
                  ConfigError);
  CHECK_THROWS_AS(parse_config("[calendar]\nholiday = \"x.csv\"\n", "j.toml", base), ConfigError);
}

TEST_CASE("config: [program] and [topics] set the program controls, bad values named",
          "[config][program]") {
  const Config config = parse_config(R"(
[program]
holdout = "2.5%"
salt = "spring"
max_active = 2
[topics]
newsletter = "opt-out"
promotions = "opt-in"
)",
                                     "j.toml", ".");
  CHECK(config.engine.program.holdout_bp == 250);
  CHECK(config.engine.program.salt == "spring");
  CHECK(config.engine.program.max_active == 2);
  CHECK(config.engine.program.topics.at("newsletter") == journey::engine::TopicDefault::OptOut);
  CHECK(config.engine.program.topics.at("promotions") == journey::engine::TopicDefault::OptIn);
  const Config none = parse_config("", "j.toml", ".");
  CHECK(none.engine.program.holdout_bp == 0);
  CHECK(none.engine.program.salt == "journey");
  CHECK(none.engine.program.max_active == 0);
  CHECK_THROWS_WITH(parse_config("[program]\nholdout = \"5\"\n", "j.toml", "."),
                    Catch::Contains("j.toml:2: `program.holdout`: expected a share"));
  CHECK_THROWS_WITH(parse_config("[program]\nholdout = \"150%\"\n", "j.toml", "."),
                    Catch::Contains("program.holdout"));
  CHECK_THROWS_WITH(parse_config("[program]\nmax_active = -1\n", "j.toml", "."),
                    Catch::Contains("program.max_active"));
  CHECK_THROWS_WITH(parse_config("[program]\nholdouts = \"5%\"\n", "j.toml", "."),
                    Catch::Contains("unknown key"));
  CHECK_THROWS_WITH(parse_config("[topics]\nnews = \"optout\"\n", "j.toml", "."),
                    Catch::Contains("j.toml:2: `topics.news`: expected \"opt-in\" or \"opt-out\""));
  CHECK_THROWS_WITH(parse_config("[topics]\nnews = true\n", "j.toml", "."),
                    Catch::Contains("topics.news"));
}
