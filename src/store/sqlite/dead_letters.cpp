#include "store/sqlite/dead_letters.hpp"

#include "store/sqlite/operations.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <limits>

namespace herald::store::sqlite {
namespace {

// One page's ids, newest change first. One sub-select per status, each walking the
// (status, updated_at, id) index backwards from the cursor and stopping after `limit` rows, so a
// page costs about statuses × limit index steps however many rows match. Parameters: ?1, ?2 the
// cursor, ?3 the client ("" for all), ?4, ?5 the creation bounds (NULL for none), ?6 the limit,
// ?7… the statuses. The text depends only on the number of statuses (at most seven variants).
std::string listing_sql(std::size_t statuses) {
    std::string sql;
    for (std::size_t i = 0; i < statuses; ++i) {
        if (i > 0) {
            sql += " UNION ALL ";
        }
        sql += fmt::format(
            "SELECT id, updated_at FROM (SELECT id, updated_at FROM notifications "
            "WHERE status = ?{} AND (updated_at, id) < (?1, ?2) AND (?3 = '' OR client = ?3) "
            "AND (?4 IS NULL OR created_at > ?4) AND (?5 IS NULL OR created_at < ?5) "
            "ORDER BY updated_at DESC, id DESC LIMIT ?6)",
            7 + i);
    }
    return sql + " ORDER BY updated_at DESC, id DESC LIMIT ?6";
}

bool dead(Status status) {
    return status == Status::failed || status == Status::expired;
}

boost::system::result<StatusChange> settled(Connection& db,
                                            const std::string& id,
                                            StatusChange::Kind kind) {
    auto view = read_notification(db, id, "", true);
    if (!view) {
        return view.error();
    }
    return StatusChange{kind, std::move(*view)};
}

}  // namespace

boost::system::result<std::vector<std::string>> expire_due_entries(Connection& db,
                                                                   UnixMs now,
                                                                   int limit) {
    std::vector<std::string> ids;
    if (limit <= 0) {
        return ids;
    }
    {
        // Served by the partial index notifications_pending_expiry, whose WHERE terms are
        // repeated here verbatim. Named with INDEXED BY because the planner, without statistics,
        // prefers the (status, updated_at) index and would walk the whole backlog; should the
        // index ever not fit the query, preparing it fails (and every expiry test with it).
        auto due = db.query(
            "SELECT n.id FROM notifications n INDEXED BY notifications_pending_expiry "
            "JOIN outbox o ON o.notification_id = n.id "
            "WHERE n.status IN ('queued', 'retrying') AND n.expires_at IS NOT NULL "
            "AND n.expires_at <= ?1 AND o.lease_owner IS NULL LIMIT ?2");
        due.bind(1, now).bind(2, std::int64_t{limit});
        int rc = SQLITE_ROW;
        while ((rc = due.step()) == SQLITE_ROW) {
            ids.push_back(due.text(0));
        }
        if (rc != SQLITE_DONE) {
            return report_failure(db, rc, "expire_due");
        }
    }
    for (const std::string& id : ids) {
        auto expire = db.query(
            "UPDATE notifications SET status = 'expired', updated_at = ?2, last_error = "
            "CASE WHEN last_error = '' THEN 'expired before it was sent' "
            "ELSE 'expired before it was sent; last attempt: ' || last_error END "
            "WHERE id = ?1");
        expire.bind(1, id).bind(2, now);
        if (const int rc = expire.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "expire_due");
        }
        auto remove = db.query("DELETE FROM outbox WHERE notification_id = ?1");
        remove.bind(1, id);
        if (const int rc = remove.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "expire_due");
        }
    }
    return ids;
}

boost::system::result<ListPage> list_notifications(Connection& db, const ListQuery& query) {
    std::vector<Status> statuses = query.statuses;
    std::sort(statuses.begin(), statuses.end());
    statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
    ListPage page;
    if (statuses.empty() || query.limit <= 0) {
        return page;
    }

    const ReadTransaction snapshot(db);
    if (snapshot.begin_result() != SQLITE_DONE) {
        return report_failure(db, snapshot.begin_result(), "list");
    }
    // One row more than the page holds tells whether another page follows.
    std::vector<std::string> ids;
    {
        auto rows = db.query(listing_sql(statuses.size()));
        const ListCursor start =
            query.after.value_or(ListCursor{std::numeric_limits<UnixMs>::max(), ""});
        rows.bind(1, start.updated_at)
            .bind(2, start.id)
            .bind(3, query.client)
            .bind(4, query.created_after)
            .bind(5, query.created_before)
            .bind(6, std::int64_t{query.limit} + 1);
        for (std::size_t i = 0; i < statuses.size(); ++i) {
            rows.bind(static_cast<int>(7 + i), to_string(statuses[i]));
        }
        int rc = SQLITE_ROW;
        while ((rc = rows.step()) == SQLITE_ROW) {
            ids.push_back(rows.text(0));
        }
        if (rc != SQLITE_DONE) {
            return report_failure(db, rc, "list");
        }
    }

    const bool more = ids.size() > static_cast<std::size_t>(query.limit);
    ids.resize(std::min(ids.size(), static_cast<std::size_t>(query.limit)));
    for (const std::string& id : ids) {
        auto view = read_notification(db, id, "", false);
        if (!view) {
            return view.error();
        }
        page.notifications.push_back(std::move(*view));
    }
    if (more && !page.notifications.empty()) {
        const NotificationView& last = page.notifications.back();
        page.next = ListCursor{last.updated_at, last.id};
    }
    return page;
}

boost::system::result<StatusChange> retry_notification(Connection& db,
                                                       const RetryRequest& request) {
    auto current = read_notification(db, request.id, request.client, false);
    if (!current) {
        return current.error();
    }
    if (!dead(current->status)) {
        return settled(db, request.id, StatusChange::Kind::conflict);
    }
    {
        auto requeue = db.query(
            "UPDATE notifications SET status = 'queued', updated_at = ?2, last_error = '', "
            "expires_at = ?3, uncounted_attempts = attempts WHERE id = ?1");
        requeue.bind(1, request.id).bind(2, request.now).bind(3, request.expires_at);
        if (const int rc = requeue.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "retry");
        }
    }
    {
        // Final notifications have no outbox entry, so the new one starts a fresh lease history;
        // no lease on the old one can be outstanding.
        auto enqueue = db.query("INSERT INTO outbox (notification_id, due_at) VALUES (?1, ?2)");
        enqueue.bind(1, request.id).bind(2, request.now);
        if (const int rc = enqueue.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "retry");
        }
    }
    return settled(db, request.id, StatusChange::Kind::changed);
}

boost::system::result<StatusChange> cancel_notification(Connection& db,
                                                        const CancelRequest& request) {
    auto current = read_notification(db, request.id, request.client, false);
    if (!current) {
        return current.error();
    }
    if (current->status == Status::cancelled) {
        return settled(db, request.id, StatusChange::Kind::unchanged);
    }
    if (current->status != Status::queued && current->status != Status::retrying) {
        return settled(db, request.id, StatusChange::Kind::conflict);
    }
    {
        auto remove =
            db.query("DELETE FROM outbox WHERE notification_id = ?1 AND lease_owner IS NULL");
        remove.bind(1, request.id);
        if (const int rc = remove.run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "cancel");
        }
        if (db.changes() != 1) {
            // Leased after all (queued and retrying entries are never leased; kept for safety).
            return settled(db, request.id, StatusChange::Kind::conflict);
        }
    }
    auto cancel =
        db.query("UPDATE notifications SET status = 'cancelled', updated_at = ?2 WHERE id = ?1");
    cancel.bind(1, request.id).bind(2, request.now);
    if (const int rc = cancel.run(); rc != SQLITE_DONE) {
        return report_failure(db, rc, "cancel");
    }
    return settled(db, request.id, StatusChange::Kind::changed);
}

}  // namespace herald::store::sqlite
