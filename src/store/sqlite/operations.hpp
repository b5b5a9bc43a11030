#pragma once

#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

#include <boost/system/result.hpp>

#include <string_view>
#include <vector>

// The SQL behind each Store operation, as plain functions of a connection. They run on the store
// thread that owns `db`. Write operations expect the caller to have opened a transaction (the
// writer wraps each in its own savepoint) and leave committing to it; reads open their own.
// Errors: not_found, stale_lease and already_exists as the Store contract says; any other SQLite
// failure is logged (rate-limited) and reported as unavailable.
namespace herald::store::sqlite {

boost::system::result<InsertOutcome> insert_notification(Connection& db,
                                                         const NewNotification& notification);

// Deletes up to `limit` idempotency records expired at `now`; returns how many.
boost::system::result<int> sweep_idempotency_records(Connection& db, UnixMs now, int limit);

boost::system::result<std::vector<ClaimedEntry>> claim_due_entries(Connection& db,
                                                                   const ClaimRequest& request);

boost::system::result<void> record_attempt_outcome(Connection& db, const AttemptRecord& record);

// Clears the leases `owner` holds; those entries are due at `now` at the latest.
boost::system::result<int> release_owner_leases(Connection& db, std::string_view owner, UnixMs now);

// Reads one notification and its attempts in one read transaction (a consistent snapshot).
boost::system::result<NotificationView> find_notification(Connection& db,
                                                          std::string_view id,
                                                          std::string_view client);

// Reads one notification (with its attempts when asked) inside the caller's transaction.
boost::system::result<NotificationView> read_notification(Connection& db,
                                                          std::string_view id,
                                                          std::string_view client,
                                                          bool with_attempts);

boost::system::result<void> ping_database(Connection& db);

// The outbox's entries by their notification's status, and the due time of the oldest entry due
// at `now` that no live lease holds.
boost::system::result<OutboxStats> read_outbox_stats(Connection& db, UnixMs now);

// Logs a failed SQLite call (at most one line a second per thread) and returns the error the
// store reports for it: already_exists for a duplicate key, unavailable for anything else.
boost::system::error_code report_failure(Connection& db, int rc, std::string_view operation);

}  // namespace herald::store::sqlite
