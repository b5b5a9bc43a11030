#include "store/sqlite/operations.hpp"

#include "observe/log.hpp"

#include <boost/json/object.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <tuple>

namespace herald::store::sqlite {
namespace {

bool is_final(Status status) {
    return status == Status::sent || status == Status::failed || status == Status::expired ||
           status == Status::cancelled;
}

// Status for a notification whose attempt did not end it. `sending` and `queued` are not outcomes
// of an attempt; a caller passing them still gets a consistent row (due again, unleased).
Status rescheduled_status(Status requested) {
    return requested == Status::queued ? Status::queued : Status::retrying;
}

}  // namespace

boost::system::error_code report_failure(Connection& db, int rc, std::string_view operation) {
    if (is_duplicate(rc)) {
        return StoreError::already_exists;
    }

    // Per thread, so no lock: each store thread reports its own failures.
    thread_local std::chrono::steady_clock::time_point last_line{};
    thread_local std::int64_t suppressed = 0;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line < std::chrono::seconds(1)) {
        ++suppressed;
        return StoreError::unavailable;
    }
    observe::error("store operation failed",
                   {{"operation", operation},
                    {"sqlite_code", rc},
                    {"sqlite_error", db.error_message()},
                    {"suppressed", suppressed}});
    last_line = now;
    suppressed = 0;
    return StoreError::unavailable;
}

namespace {

std::string_view kind_name(DedupKind kind) {
    return kind == DedupKind::content ? "content" : "key";
}

// Looks up the unexpired idempotency record for `notification` inside the writer's transaction.
// Deletes an expired one so that the insert can take its key. Returns the outcome to report when
// the key is held, nullopt when the notification should be stored.
boost::system::result<std::optional<InsertOutcome>> check_idempotency(
    Connection& db, const NewNotification& notification) {
    const IdempotencyRecord& record = *notification.idempotency;
    std::string fingerprint;
    std::string holder;
    InsertOutcome outcome;
    {
        auto held = db.query(
            "SELECT fingerprint, notification_id, response_status, response_body, expires_at "
            "FROM idempotency_keys WHERE client = ?1 AND kind = ?2 AND key = ?3");
        held.bind(1, notification.client).bind(2, kind_name(record.kind)).bind(3, record.key);
        const int rc = held.step();
        if (rc == SQLITE_DONE) {
            return std::optional<InsertOutcome>{};
        }
        if (rc != SQLITE_ROW) {
            return report_failure(db, rc, "insert");
        }
        if (held.int64(4) <= notification.created_at) {
            auto expired = db.query(
                "DELETE FROM idempotency_keys WHERE client = ?1 AND kind = ?2 AND key = ?3");
            expired.bind(1, notification.client)
                .bind(2, kind_name(record.kind))
                .bind(3, record.key);
            if (const int drc = expired.run(); drc != SQLITE_DONE) {
                return report_failure(db, drc, "insert");
            }
            return std::optional<InsertOutcome>{};
        }
        fingerprint = held.text(0);
        holder = held.text(1);
        outcome.response_status = static_cast<int>(held.int64(2));
        outcome.response_body = held.text(3);
    }

    auto existing = read_notification(db, holder, notification.client, false);
    if (!existing) {
        return existing.error();
    }
    outcome.notification = std::move(*existing);
    if (fingerprint != record.fingerprint) {
        outcome.kind = InsertOutcome::Kind::conflict;
        outcome.response_status = 0;
        outcome.response_body.clear();
    } else {
        outcome.kind = InsertOutcome::Kind::replayed;
    }
    return std::optional<InsertOutcome>{std::move(outcome)};
}

}  // namespace

boost::system::result<InsertOutcome> insert_notification(Connection& db,
                                                         const NewNotification& notification) {
    if (notification.idempotency) {
        auto held = check_idempotency(db, notification);
        if (!held) {
            return held.error();
        }
        if (*held) {
            return std::move(**held);
        }
    }
    {
        auto insert = db.query(
            "INSERT INTO notifications (id, client, message_id, payload, status, attempts, "
            "created_at, updated_at, expires_at, trace_parent, trace_state) "
            "VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?5, ?6, ?7, ?8)");
        insert.bind(1, notification.id)
            .bind(2, notification.client)
            .bind(3, notification.message_id)
            .bind(4, notification.payload)
            .bind(5, notification.created_at)
            .bind(6, notification.expires_at)
            .bind(7, notification.trace_parent)
            .bind(8, notification.trace_state);
        if (const int rc = insert.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "insert");
        }
    }
    {
        auto enqueue = db.query("INSERT INTO outbox (notification_id, due_at) VALUES (?1, ?2)");
        enqueue.bind(1, notification.id).bind(2, notification.due_at);
        if (const int rc = enqueue.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "insert");
        }
    }
    if (notification.idempotency) {
        const IdempotencyRecord& record = *notification.idempotency;
        auto keep = db.query(
            "INSERT INTO idempotency_keys (client, kind, key, fingerprint, notification_id, "
            "response_status, response_body, created_at, expires_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        keep.bind(1, notification.client)
            .bind(2, kind_name(record.kind))
            .bind(3, record.key)
            .bind(4, record.fingerprint)
            .bind(5, notification.id)
            .bind(6, std::int64_t{record.response_status})
            .bind(7, record.response_body)
            .bind(8, notification.created_at)
            .bind(9, record.expires_at);
        if (const int rc = keep.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "insert");
        }
    }

    InsertOutcome outcome;
    NotificationView& view = outcome.notification;
    view.id = notification.id;
    view.client = notification.client;
    view.status = Status::queued;
    view.message_id = notification.message_id;
    view.created_at = notification.created_at;
    view.updated_at = notification.created_at;
    view.next_attempt_at = notification.due_at;
    view.expires_at = notification.expires_at;
    return outcome;
}

boost::system::result<int> sweep_idempotency_records(Connection& db, UnixMs now, int limit) {
    auto sweep = db.query(
        "DELETE FROM idempotency_keys WHERE (client, kind, key) IN "
        "(SELECT client, kind, key FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)");
    sweep.bind(1, now).bind(2, std::int64_t{limit});
    if (const int rc = sweep.run(); rc != SQLITE_DONE) {
        return report_failure(db, rc, "sweep_idempotency");
    }
    return static_cast<int>(db.changes());
}

boost::system::result<std::vector<ClaimedEntry>> claim_due_entries(Connection& db,
                                                                   const ClaimRequest& request) {
    std::vector<ClaimedEntry> entries;
    if (request.limit <= 0) {
        return entries;
    }

    // With retries limited, first attempts and retries are read apart and merged by due time.
    const bool split = request.max_retries >= 0 && request.max_retries < request.limit;
    const auto read = [&](std::string_view which, int limit) -> boost::system::error_code {
        if (limit <= 0) {
            return {};
        }
        auto due = db.query(fmt::format(
            "SELECT o.notification_id, o.lease_owner, o.lease_token, n.client, n.message_id, "
            "n.payload, n.attempts, n.created_at, n.uncounted_attempts, n.expires_at, "
            "n.trace_parent, "
            "n.trace_state, o.due_at "
            "FROM outbox o JOIN notifications n ON n.id = o.notification_id "
            "WHERE o.due_at <= ?1 AND (o.lease_owner IS NULL OR o.lease_expires_at <= ?1) "
            "AND (n.expires_at IS NULL OR n.expires_at > ?1) {} "
            "ORDER BY o.due_at, o.notification_id LIMIT ?2",
            which));
        due.bind(1, request.now).bind(2, std::int64_t{limit});
        int rc = SQLITE_ROW;
        while ((rc = due.step()) == SQLITE_ROW) {
            ClaimedEntry entry;
            entry.id = due.text(0);
            entry.taken_over = !due.is_null(1);
            entry.lease_token = due.int64(2) + 1;
            entry.client = due.text(3);
            entry.message_id = due.text(4);
            entry.payload = due.text(5);
            entry.attempts = static_cast<int>(due.int64(6));
            entry.created_at = due.int64(7);
            entry.uncounted_attempts = static_cast<int>(due.int64(8));
            if (!due.is_null(9)) {
                entry.expires_at = due.int64(9);
            }
            entry.trace_parent = due.text(10);
            entry.trace_state = due.text(11);
            entry.due_at = due.int64(12);
            entries.push_back(std::move(entry));
        }
        return rc == SQLITE_DONE ? boost::system::error_code{}
                                 : report_failure(db, rc, "claim_due");
    };
    if (!split) {
        if (const auto error = read("", request.limit)) {
            return error;
        }
    } else {
        if (const auto error = read("AND n.attempts = 0", request.limit)) {
            return error;
        }
        if (const auto error = read("AND n.attempts > 0", request.max_retries)) {
            return error;
        }
        std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
            return std::tie(a.due_at, a.id) < std::tie(b.due_at, b.id);
        });
        if (static_cast<int>(entries.size()) > request.limit) {
            entries.resize(static_cast<std::size_t>(request.limit));
        }
    }

    for (const ClaimedEntry& entry : entries) {
        auto lease = db.query(
            "UPDATE outbox SET lease_owner = ?2, lease_expires_at = ?3, "
            "lease_token = lease_token + 1 WHERE notification_id = ?1");
        lease.bind(1, entry.id).bind(2, request.owner).bind(3, request.now + request.lease_ms);
        if (const int rc = lease.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "claim_due");
        }
        auto status =
            db.query("UPDATE notifications SET status = 'sending', updated_at = ?2 WHERE id = ?1");
        status.bind(1, entry.id).bind(2, request.now);
        if (const int rc = status.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "claim_due");
        }
    }
    return entries;
}

boost::system::result<void> record_attempt_outcome(Connection& db, const AttemptRecord& record) {
    std::int64_t attempts = 0;
    {
        auto current = db.query(
            "SELECT n.attempts, o.lease_token FROM notifications n "
            "LEFT JOIN outbox o ON o.notification_id = n.id WHERE n.id = ?1");
        current.bind(1, record.id);
        const int rc = current.step();
        if (rc == SQLITE_DONE) {
            return StoreError::not_found;
        }
        if (rc != SQLITE_ROW) {
            return report_failure(db, rc, "record_attempt");
        }
        // No outbox entry: an owner with a newer token already recorded a final outcome.
        if (current.is_null(1) || current.int64(1) != record.lease_token) {
            return StoreError::stale_lease;
        }
        attempts = current.int64(0) + 1;
    }

    {
        auto attempt = db.query(
            "INSERT INTO attempts (notification_id, number, started_at, finished_at, outcome, "
            "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        attempt.bind(1, record.id)
            .bind(2, attempts)
            .bind(3, record.started_at)
            .bind(4, record.finished_at)
            .bind(5, record.outcome)
            .bind(6, record.detail);
        if (const int rc = attempt.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "record_attempt");
        }
    }

    const bool final = is_final(record.next_status);
    const Status status = final ? record.next_status : rescheduled_status(record.next_status);
    const bool sent = status == Status::sent;
    {
        auto update = db.query(
            "UPDATE notifications SET status = ?2, attempts = ?3, updated_at = ?4, "
            "last_error = ?5, sent_at = coalesce(?6, sent_at), uncounted_attempts = "
            "uncounted_attempts + ?7 "
            "WHERE id = ?1");
        update.bind(1, record.id)
            .bind(2, to_string(status))
            .bind(3, attempts)
            .bind(4, record.finished_at)
            .bind(5, sent ? std::string_view{} : std::string_view{record.detail})
            .bind(6, sent ? std::optional<std::int64_t>{record.finished_at} : std::nullopt)
            .bind(7, std::int64_t{record.outcome == "throttled" ? 1 : 0});
        if (const int rc = update.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "record_attempt");
        }
    }

    if (final) {
        auto remove = db.query("DELETE FROM outbox WHERE notification_id = ?1");
        remove.bind(1, record.id);
        if (const int rc = remove.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "record_attempt");
        }
        return {};
    }
    auto reschedule = db.query(
        "UPDATE outbox SET due_at = ?2, lease_owner = NULL, lease_expires_at = NULL "
        "WHERE notification_id = ?1");
    reschedule.bind(1, record.id).bind(2, record.next_due_at);
    if (const int rc = reschedule.run(); rc != SQLITE_DONE) {
        return report_failure(db, rc, "record_attempt");
    }
    return {};
}

boost::system::result<int> release_owner_leases(Connection& db,
                                                std::string_view owner,
                                                UnixMs now) {
    {
        auto status = db.query(
            "UPDATE notifications SET status = CASE WHEN attempts = 0 THEN 'queued' "
            "ELSE 'retrying' END, updated_at = ?2 "
            "WHERE id IN (SELECT notification_id FROM outbox WHERE lease_owner = ?1)");
        status.bind(1, owner).bind(2, now);
        if (const int rc = status.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "release_leases");
        }
    }
    auto release = db.query(
        "UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL, due_at = min(due_at, ?2) "
        "WHERE lease_owner = ?1");
    release.bind(1, owner).bind(2, now);
    if (const int rc = release.run(); rc != SQLITE_DONE) {
        return report_failure(db, rc, "release_leases");
    }
    return static_cast<int>(db.changes());
}

boost::system::result<NotificationView> find_notification(Connection& db,
                                                          std::string_view id,
                                                          std::string_view client) {
    const ReadTransaction transaction(db);
    if (transaction.begin_result() != SQLITE_DONE) {
        return report_failure(db, transaction.begin_result(), "find");
    }
    return read_notification(db, id, client, true);
}

boost::system::result<NotificationView> read_notification(Connection& db,
                                                          std::string_view id,
                                                          std::string_view client,
                                                          bool with_attempts) {
    NotificationView view;
    {
        auto row = db.query(
            "SELECT n.id, n.client, n.status, n.message_id, n.attempts, n.created_at, "
            "n.updated_at, n.sent_at, n.last_error, o.due_at, o.lease_owner, n.expires_at "
            "FROM notifications n LEFT JOIN outbox o ON o.notification_id = n.id "
            "WHERE n.id = ?1 AND (?2 = '' OR n.client = ?2)");
        row.bind(1, id).bind(2, client);
        const int rc = row.step();
        if (rc == SQLITE_DONE) {
            return StoreError::not_found;
        }
        if (rc != SQLITE_ROW) {
            return report_failure(db, rc, "find");
        }
        view.id = row.text(0);
        view.client = row.text(1);
        view.status = parse_status(row.text(2)).value_or(Status::queued);
        view.message_id = row.text(3);
        view.attempts = static_cast<int>(row.int64(4));
        view.created_at = row.int64(5);
        view.updated_at = row.int64(6);
        if (!row.is_null(7)) {
            view.sent_at = row.int64(7);
        }
        view.last_error = row.text(8);
        // While leased, the attempt is under way; there is no next one scheduled yet.
        if (!row.is_null(9) && row.is_null(10)) {
            view.next_attempt_at = row.int64(9);
        }
        if (!row.is_null(11)) {
            view.expires_at = row.int64(11);
        }
    }

    if (!with_attempts) {
        return view;
    }
    auto attempts = db.query(
        "SELECT number, started_at, finished_at, outcome, detail FROM attempts "
        "WHERE notification_id = ?1 ORDER BY number");
    attempts.bind(1, id);
    int rc = SQLITE_ROW;
    while ((rc = attempts.step()) == SQLITE_ROW) {
        AttemptView attempt;
        attempt.number = static_cast<int>(attempts.int64(0));
        attempt.started_at = attempts.int64(1);
        attempt.finished_at = attempts.int64(2);
        attempt.outcome = attempts.text(3);
        attempt.detail = attempts.text(4);
        view.attempt_log.push_back(std::move(attempt));
    }
    if (rc != SQLITE_DONE) {
        return report_failure(db, rc, "find");
    }
    return view;
}

boost::system::result<void> ping_database(Connection& db) {
    auto version = db.query("SELECT version FROM schema_version LIMIT 1");
    const int rc = version.step();
    if (rc != SQLITE_ROW) {
        return report_failure(db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "ping");
    }
    return {};
}

boost::system::result<OutboxStats> read_outbox_stats(Connection& db, UnixMs now) {
    OutboxStats stats;
    auto counts = db.query(
        "SELECT n.status, count(*) FROM outbox o JOIN notifications n ON n.id = o.notification_id "
        "GROUP BY n.status");
    int rc = SQLITE_ROW;
    while ((rc = counts.step()) == SQLITE_ROW) {
        const std::string status = counts.text(0);
        const std::int64_t count = counts.int64(1);
        if (status == "queued") {
            stats.queued = count;
        } else if (status == "retrying") {
            stats.retrying = count;
        } else if (status == "sending") {
            stats.sending = count;
        }
    }
    if (rc != SQLITE_DONE) {
        return report_failure(db, rc, "outbox stats");
    }
    // The due_at index is walked from the oldest; leased entries are skipped as they come.
    auto oldest = db.query(
        "SELECT due_at FROM outbox WHERE due_at <= ?1 "
        "AND (lease_owner IS NULL OR lease_expires_at <= ?1) ORDER BY due_at LIMIT 1");
    oldest.bind(1, static_cast<std::int64_t>(now));
    rc = oldest.step();
    if (rc == SQLITE_ROW) {
        stats.oldest_due_at = oldest.int64(0);
    } else if (rc != SQLITE_DONE) {
        return report_failure(db, rc, "outbox stats");
    }
    return stats;
}

}  // namespace herald::store::sqlite
