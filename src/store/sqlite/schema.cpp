#include "store/sqlite/schema.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <string_view>

namespace herald::store::sqlite {
namespace {

struct Migration {
    int version;
    std::string_view sql;
};

// Append new versions; never edit one that has shipped.
constexpr std::array<Migration, 4> kMigrations{{
    {1, R"sql(
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    client          TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'retrying',
                                                    'failed', 'expired', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    fingerprint     TEXT
);
CREATE UNIQUE INDEX notifications_client_idempotency_key
    ON notifications (client, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE outbox (
    notification_id  TEXT PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    due_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    lease_token      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due_at ON outbox (due_at);
CREATE INDEX outbox_lease_owner ON outbox (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE attempts (
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (notification_id, number)
) WITHOUT ROWID;
)sql"},
    // Idempotency records move to a table of their own, so that they can expire and be swept
    // without touching notifications, and so that one can carry the response to replay.
    {2, R"sql(
DROP INDEX notifications_client_idempotency_key;
ALTER TABLE notifications DROP COLUMN idempotency_key;
ALTER TABLE notifications DROP COLUMN fingerprint;

CREATE TABLE idempotency_keys (
    client          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('key', 'content')),
    key             TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (client, kind, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_notification ON idempotency_keys (notification_id);
)sql"},
    // Delivery learns when a notification stops mattering (expires_at), how many of its attempts
    // the provider throttled (they do not count towards delivery.max_attempts), and the trace the
    // request belonged to, so that later delivery attempts can join it. The status index serves
    // the listing of dead letters.
    {3, R"sql(
ALTER TABLE notifications ADD COLUMN expires_at INTEGER;
ALTER TABLE notifications ADD COLUMN uncounted_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_status_updated ON notifications (status, updated_at, id);
)sql"},
    // Finds the notifications waiting in the outbox whose expiry has passed without scanning the
    // whole backlog: only queued and retrying rows with an expiry are in it.
    {4, R"sql(
CREATE INDEX notifications_pending_expiry ON notifications (expires_at)
    WHERE status IN ('queued', 'retrying') AND expires_at IS NOT NULL;
)sql"},
}};

std::string failure(Connection& db, std::string_view step) {
    return fmt::format("{}: {}", step, db.error_message());
}

}  // namespace

boost::system::result<void, std::string> configure(Connection& db) {
    auto journal = db.query("PRAGMA journal_mode = WAL");
    if (journal.step() != SQLITE_ROW) {
        return failure(db, "cannot set journal_mode");
    }
    if (const std::string mode = journal.text(0); mode != "wal") {
        return fmt::format("cannot use WAL journal mode (the database reports '{}')", mode);
    }
    if (db.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;") != SQLITE_OK) {
        return failure(db, "cannot configure the connection");
    }
    return {};
}

boost::system::result<void, std::string> migrate(Connection& db) {
    if (db.execute("BEGIN IMMEDIATE") != SQLITE_OK) {
        return failure(db, "cannot start the migration");
    }
    auto fail = [&db](std::string_view step) {
        std::string reason = failure(db, step);
        db.execute("ROLLBACK");
        return reason;
    };

    if (db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") !=
        SQLITE_OK) {
        return fail("cannot create schema_version");
    }
    int current = 0;
    {
        auto version = db.query("SELECT coalesce(max(version), 0) FROM schema_version");
        if (version.step() != SQLITE_ROW) {
            return fail("cannot read schema_version");
        }
        current = static_cast<int>(version.int64(0));
    }
    if (current > kSchemaVersion) {
        db.execute("ROLLBACK");
        return fmt::format("the database has schema version {}, newer than this herald's {}",
                           current,
                           kSchemaVersion);
    }

    for (const Migration& migration : kMigrations) {
        if (migration.version <= current) {
            continue;
        }
        if (db.execute(std::string(migration.sql)) != SQLITE_OK) {
            return fail(fmt::format("migration to version {} failed", migration.version));
        }
    }
    if (db.execute(fmt::format("DELETE FROM schema_version; "
                               "INSERT INTO schema_version (version) VALUES ({});",
                               kSchemaVersion)) != SQLITE_OK) {
        return fail("cannot record the schema version");
    }
    if (db.execute("COMMIT") != SQLITE_OK) {
        return fail("cannot commit the migration");
    }
    return {};
}

}  // namespace herald::store::sqlite
