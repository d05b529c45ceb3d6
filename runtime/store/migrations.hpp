// The SQLite store's schema: numbered migrations, applied in order by SqliteStore.
#pragma once

namespace journey::runtime {

/// The newest schema version this build knows.
inline constexpr int kSqliteSchemaVersion = 8;

/// The SQL that brings the schema from `version` to `version + 1`; nullptr past the newest.
const char* sqlite_migration(int version);

}  // namespace journey::runtime
