#include "runtime/store/migrations.hpp"

#include <iterator>

namespace journey::runtime {

namespace {

/// Entry i brings the schema from version i to i + 1. Never edit one that has shipped; add a new
/// one (and raise kSqliteSchemaVersion).
constexpr const char* kMigrations[] = {
    // 1: customers, dedupe, timeline, outbox, deployments, counters, traces.
    R"sql(
CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  state BLOB NOT NULL,
  next_wakeup INTEGER
);
CREATE INDEX customers_next_wakeup ON customers(next_wakeup) WHERE next_wakeup IS NOT NULL;
CREATE TABLE message_ids (
  customer_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  PRIMARY KEY (customer_id, message_id)
) WITHOUT ROWID;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX events_customer ON events(customer_id);
CREATE INDEX events_at ON events(at);
CREATE TABLE outbox (
  action_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox(customer_id);
CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  deployed_at INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE TABLE deployment_files (
  deployment_id TEXT NOT NULL REFERENCES deployments(id),
  path TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (deployment_id, path)
);
CREATE TABLE counters (
  journey TEXT NOT NULL,
  version TEXT NOT NULL,
  metric TEXT NOT NULL,
  key TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (journey, version, metric, key)
) WITHOUT ROWID;
CREATE TABLE traces (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  journey TEXT NOT NULL,
  message TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX traces_customer ON traces(customer_id, seq);
)sql",
    // 2: the last delivery error of an action, and active runs per customer.
    R"sql(
ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
CREATE TABLE runs (
  customer_id TEXT NOT NULL,
  journey TEXT NOT NULL,
  version TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX runs_customer ON runs(customer_id);
)sql",
    // 3: indexes that keep the wake-up and outbox queues cheap when a million rows are queued:
    // wake-ups are paged by (next_wakeup, id) straight from the index, and the pending actions
    // are read in creation order without sorting every pending row.
    R"sql(
DROP INDEX customers_next_wakeup;
CREATE INDEX customers_wakeup ON customers(next_wakeup, id) WHERE next_wakeup IS NOT NULL;
CREATE INDEX outbox_queue ON outbox(status) WHERE status = 'pending';
)sql",
    // 4: fewer rows per input. A customer's message ids live only in its state (written in the
    // same transaction); trace lines are stored one row per customer per commit, keyed by the
    // running count of the customer's lines so that trimming is one range delete; events and
    // traces lose AUTOINCREMENT (a rowid is enough: nothing refers to a deleted one). The outbox
    // is unique by (customer, action id): an action id is a function of the customer, and rows
    // of one commit then land side by side in the index rather than at random places; its
    // queue indexes hold pending rows only, so a delivery removes entries and adds none.
    R"sql(
DROP TABLE message_ids;
CREATE TABLE outbox_new (
  seq INTEGER PRIMARY KEY,
  action_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox_new(seq, action_id, customer_id, channel, payload, status, attempts,
                       next_attempt_at, last_error)
  SELECT rowid, action_id, customer_id, channel, payload, status, attempts, next_attempt_at,
         last_error FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_action ON outbox(customer_id, action_id);
-- Ids of delivered actions whose customer was erased (their rows keep no customer): never
-- created again.
CREATE TABLE erased_actions (action_id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO erased_actions SELECT action_id FROM outbox WHERE customer_id = '';
CREATE INDEX outbox_queue ON outbox(status) WHERE status = 'pending';
CREATE INDEX outbox_retry ON outbox(next_attempt_at) WHERE status = 'pending';
CREATE TABLE events_new (
  seq INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  json TEXT NOT NULL
);
INSERT INTO events_new SELECT seq, customer_id, message_id, at, json FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_customer ON events(customer_id);
CREATE INDEX events_at ON events(at);
CREATE TABLE trace_rows (
  seq INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL,
  total INTEGER NOT NULL,  -- the customer's lines up to and including this row's
  lines TEXT NOT NULL      -- JSON array of [at, journey, message, detail]
);
INSERT INTO trace_rows(customer_id, total, lines)
  SELECT customer_id, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY seq),
         json_array(json_array(at, journey, message,
                               CASE WHEN json_valid(detail) THEN json(detail) ELSE json_object() END))
  FROM traces;
DROP TABLE traces;
ALTER TABLE trace_rows RENAME TO traces;
CREATE UNIQUE INDEX traces_customer ON traces(customer_id, total);
DELETE FROM sqlite_sequence WHERE name IN ('events', 'traces');
)sql",
    // 5: erasure tombstones. Keyed hashes (HMAC-SHA256, with a key made for this database) of
    // erased customers' ids, with the time of erasure, and of their message ids, so that a replay
    // of erased data is ignored without keeping the ids themselves; a heartbeat row that the
    // readiness probe writes.
    R"sql(
CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO secrets(name, value) VALUES ('erasure_key', randomblob(32));
CREATE TABLE erased_customers (id_hash BLOB PRIMARY KEY, erased_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE erased_messages (hash BLOB PRIMARY KEY, erased_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX erased_customers_at ON erased_customers(erased_at);
CREATE INDEX erased_messages_at ON erased_messages(erased_at);
CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL, pad BLOB);
INSERT INTO heartbeat(id, at) VALUES (1, 0);
)sql",
    // A cluster node's copy: each customer's partition, the partition log record its state comes
    // from, and the revision of its value in the cluster's customers bucket (NULL, 0 and 0 on a
    // single node, whose writes leave the index untouched).
    R"sql(
ALTER TABLE customers ADD COLUMN part INTEGER;
ALTER TABLE customers ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN kv_rev INTEGER NOT NULL DEFAULT 0;
CREATE INDEX customers_part ON customers(part) WHERE part IS NOT NULL;
)sql",
    // 7: how each stored deployment names its unlabelled steps (issue 17): 1 by line and column,
    // what every deployment stored before was compiled with (so its versions, step ids and action
    // ids stay the same); 2 by their place in the step tree.
    R"sql(
ALTER TABLE deployments ADD COLUMN naming INTEGER NOT NULL DEFAULT 1;
)sql",
    // 8: identity resolution (issue 13): each linked id (anonymousId, alias, identity key) with the
    // customer whose row holds its state, and each identity key value with the id that gave it
    // first.
    R"sql(
CREATE TABLE identities (id TEXT PRIMARY KEY, customer TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX identities_customer ON identities(customer);
CREATE TABLE identity_claims (claim TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX identity_claims_id ON identity_claims(id);
)sql",
};

}  // namespace

static_assert(std::size(kMigrations) == kSqliteSchemaVersion);

const char* sqlite_migration(int version) {
  return version >= 0 && version < kSqliteSchemaVersion ? kMigrations[version] : nullptr;
}

}  // namespace journey::runtime
