#pragma once

#include "store/sqlite/connection.hpp"
#include "store/store.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <vector>

// The SQL behind expiry, the dead-letter listing, retry and cancel, as plain functions of a
// connection, on the store thread that owns `db`. The writes (expire, retry, cancel) expect the
// writer's transaction to be open and leave committing to it; list_notifications opens its own
// read transaction. Errors: not_found as the Store contract says; any other SQLite failure is
// logged (rate-limited) and reported as unavailable.
namespace herald::store::sqlite {

// Marks up to `limit` unleased queued/retrying notifications whose expiry is <= now `expired`
// and deletes their outbox entries; returns their ids.
boost::system::result<std::vector<std::string>> expire_due_entries(Connection& db,
                                                                   UnixMs now,
                                                                   int limit);

// One page of ListQuery in one read transaction (a consistent snapshot).
boost::system::result<ListPage> list_notifications(Connection& db, const ListQuery& query);

boost::system::result<StatusChange> retry_notification(Connection& db, const RetryRequest& request);

boost::system::result<StatusChange> cancel_notification(Connection& db,
                                                        const CancelRequest& request);

}  // namespace herald::store::sqlite
