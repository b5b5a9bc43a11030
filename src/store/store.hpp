#pragma once

#include "core/time.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::store {

using core::UnixMs;

// Lifecycle of a notification. `queued` and `retrying` have an outbox entry (due for delivery);
// `sending` has a leased outbox entry; the rest are final and have none.
enum class Status { queued, sending, sent, retrying, failed, expired, cancelled };

std::string_view to_string(Status status);
std::optional<Status> parse_status(std::string_view text);

// Errors the store reports as values.
enum class StoreError {
    stale_lease = 1,   // the fencing token no longer matches: another owner holds the entry
    not_found,         // no such notification (or the client may not see it)
    unavailable,       // the database failed (I/O error, disk full, locked past its timeout)
    overloaded,        // intake's queue is full; try again later (insert, find, ping only)
    shutting_down,     // the store is stopping and takes no new work
    already_exists,    // a notification with this id (or client and idempotency key) exists
    deadline_expired,  // the write was still queued at its deadline: not performed
    abandoned,  // the requester gave up (its client left) before the write ran: not performed
};
const boost::system::error_category& store_category();
boost::system::error_code make_error_code(StoreError e);

// How a request claims to be the same as an earlier one.
enum class DedupKind {
    key,      // the client's Idempotency-Key
    content,  // no key: the request's fingerprint itself, inside a short window
};

// The idempotency record written with a notification: the (client, kind, key) it answers for,
// the fingerprint of the request that created it, and the response intake gave, which a later
// request with the same key and fingerprint receives again until `expires_at`.
struct IdempotencyRecord {
    DedupKind kind = DedupKind::key;
    std::string key;
    std::string fingerprint;
    UnixMs expires_at = 0;
    int response_status = 0;
    std::string response_body;
};

// Decides, once, whether a queued write runs: the store claims it when its writer takes it, or
// the requester withdraws it before that (its client left, its deadline came). Whoever is first
// wins, so a requester that withdrew knows for certain that nothing was written. Thread-safe.
class WriteTicket {
public:
    // True when the write will not run: it was still queued (now withdrawn) or already withdrawn.
    // False once the store has claimed it.
    bool withdraw() {
        int expected = kQueued;
        return state_.compare_exchange_strong(expected, kWithdrawn) || expected == kWithdrawn;
    }
    // For the store: true when the write may run (it was still queued).
    bool claim() {
        int expected = kQueued;
        return state_.compare_exchange_strong(expected, kClaimed);
    }
    bool withdrawn() const { return state_.load() == kWithdrawn; }

private:
    static constexpr int kQueued = 0;
    static constexpr int kClaimed = 1;
    static constexpr int kWithdrawn = 2;
    std::atomic<int> state_{kQueued};
};

// What intake hands the store: the notification and its outbox entry (and its idempotency
// record, if any), written in one transaction. `payload` is opaque to the store (herald's
// canonical JSON of the message).
struct NewNotification {
    std::string id;
    std::string client;  // the API client that owns it; "" when authentication is off
    std::string message_id;
    std::string payload;
    UnixMs created_at = 0;
    UnixMs due_at = 0;
    // After this the notification is no longer worth sending: it becomes `expired` instead.
    std::optional<UnixMs> expires_at;
    // The W3C trace context of the request that created it ("" when none), for delivery spans.
    std::string trace_parent;
    std::string trace_state;
    std::optional<IdempotencyRecord> idempotency;
    // When the write stops mattering. One that could not commit before `deadline` (by the
    // store's recent batch time) is not performed (deadline_expired), nor one whose `ticket` was
    // withdrawn (abandoned); one already claimed completes.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::shared_ptr<WriteTicket> ticket;
};

struct AttemptView {
    int number = 0;
    UnixMs started_at = 0;
    UnixMs finished_at = 0;
    std::string outcome;  // sent, transient, permanent, ambiguous, throttled
    std::string detail;
};

struct NotificationView {
    std::string id;
    std::string client;
    Status status = Status::queued;
    std::string message_id;
    int attempts = 0;
    UnixMs created_at = 0;
    UnixMs updated_at = 0;
    std::optional<UnixMs> sent_at;
    std::optional<UnixMs> next_attempt_at;
    std::optional<UnixMs> expires_at;
    std::string last_error;
    std::vector<AttemptView> attempt_log;  // filled by find(), oldest first; empty after insert
};

// What insert() did. `created`: the notification was stored. `replayed`: an unexpired record
// with the same (client, kind, key) and fingerprint exists; nothing was stored, `notification`
// is the existing one and `response_*` the response first given for it. `conflict`: the key is
// held by a request with another fingerprint; nothing was stored, `notification` names the holder.
struct InsertOutcome {
    enum class Kind { created, replayed, conflict };
    Kind kind = Kind::created;
    NotificationView notification;
    int response_status = 0;
    std::string response_body;
};

// A claim of due outbox entries by one dispatcher, leased until `now + lease_ms`.
// `max_retries` limits how many of them may be retries (entries with an attempt made before);
// negative: no limit. Within that, the oldest due come first.
struct ClaimRequest {
    std::string owner;
    UnixMs now = 0;
    int limit = 0;
    std::int64_t lease_ms = 0;
    int max_retries = -1;
};

// An outbox entry leased to the claimer. `lease_token` is a fencing token: it increases with
// every claim of that entry, and only the holder of the newest token may record an outcome.
struct ClaimedEntry {
    std::string id;
    std::string client;
    std::string message_id;
    std::string payload;
    int attempts = 0;  // attempts made before this one
    // Of those, how many do not count towards delivery.max_attempts: the throttled ones (429,
    // 503), and all those made before the notification was retried by hand.
    int uncounted_attempts = 0;
    UnixMs created_at = 0;
    UnixMs due_at = 0;
    std::optional<UnixMs> expires_at;
    std::string trace_parent;
    std::string trace_state;
    std::int64_t lease_token = 0;
    bool taken_over = false;  // the previous lease expired without an outcome being recorded
};

// The outcome of one delivery attempt and what becomes of the notification.
struct AttemptRecord {
    std::string id;
    std::int64_t lease_token = 0;
    UnixMs started_at = 0;
    UnixMs finished_at = 0;
    std::string outcome;  // sent, transient, permanent, ambiguous, throttled
    std::string detail;
    Status next_status = Status::sent;  // sent, retrying (with next_due_at), failed, expired
    UnixMs next_due_at = 0;
};

// Where a page of a listing ended: the (updated_at, id) of its last notification. The next page
// starts just after it in the listing's order (newest updated_at first, then id descending).
struct ListCursor {
    UnixMs updated_at = 0;
    std::string id;
};

// A listing of notifications (dead letters by default: failed and expired) for one client ("":
// every client), by status and creation time, newest change first.
struct ListQuery {
    std::string client;
    std::vector<Status> statuses;          // at least one; duplicates are harmless
    std::optional<UnixMs> created_after;   // created strictly after this
    std::optional<UnixMs> created_before;  // created strictly before this
    int limit = 100;                       // at least 1
    std::optional<ListCursor> after;       // continue after this cursor; nullopt: from the start
};

// One page: at most `limit` notifications (without attempt_log), and where the next page starts
// (nullopt when this page holds the last ones).
struct ListPage {
    std::vector<NotificationView> notifications;
    std::optional<ListCursor> next;
};

// What a retry() or cancel() did. `changed`: the notification moved (retried: queued again;
// cancelled). `unchanged`: it already was where the request would move it (cancel of a cancelled
// one). `conflict`: its status does not allow the move; nothing was changed. `notification` is its
// state afterwards, with attempt_log, in every case.
struct StatusChange {
    enum class Kind { changed, unchanged, conflict };
    Kind kind = Kind::changed;
    NotificationView notification;
};

// Puts a failed or expired notification back in the outbox, due at `now`.
struct RetryRequest {
    std::string id;
    std::string client;  // limits the request to this client's notifications unless empty
    UnixMs now = 0;
    std::optional<UnixMs> expires_at;  // the new expiry; nullopt: none
};

// Cancels a notification still waiting in the outbox (queued or retrying, not leased).
struct CancelRequest {
    std::string id;
    std::string client;  // limits the request to this client's notifications unless empty
    UnixMs now = 0;
};

// How full the outbox is, for the outbox gauges. `oldest_due_at`: the due time of the oldest
// entry that is due and not leased (nullopt when none waits).
struct OutboxStats {
    std::int64_t queued = 0;
    std::int64_t retrying = 0;
    std::int64_t sending = 0;
    std::optional<UnixMs> oldest_due_at;
};

// The store of notifications and their outbox. Implementations run every database call on
// threads of their own, never on the caller's: each method queues the work and returns at once,
// and the callback runs later on a store thread, exactly once (also on error or at shutdown).
// Callers that live on an I/O thread hop back with core::await_callback.
// One exception: work refused at once (overloaded, shutting_down) has its callback run on the
// caller's thread before the method returns, so a callback must not take a lock its caller holds.
//
// Back-pressure falls on intake only: insert() (and the reads find() and ping()) may be refused
// with overloaded when too much is waiting. The dispatcher's calls (claim_due, record_attempt,
// release_leases) are bounded by its own concurrency and are never refused as overloaded, so a
// burst of requests cannot make a delivery outcome go unrecorded (which would send it again).
// Callbacks must not throw, and must not call shutdown() (it would join the calling thread).
//
// Writes are committed in batches (group commit); an insert's callback runs only after its
// transaction is durable on disk. Implementations are thread-safe.
class Store {
public:
    template <typename T>
    using Callback = std::function<void(boost::system::result<T>)>;

    virtual ~Store() = default;

    // Creates the notification and its outbox entry in one transaction, unless its idempotency
    // record's key is already held (see InsertOutcome). Requests with one key are decided in
    // the order they reach the store; a later one is answered only once the first is durable.
    // An expired record counts as absent and is replaced.
    virtual void insert(NewNotification notification, Callback<InsertOutcome> done) = 0;

    // Reads one notification with its attempts. `client` limits the lookup to that client's
    // notifications unless it is empty. An unknown id gives not_found.
    virtual void find(std::string id, std::string client, Callback<NotificationView> done) = 0;

    // Leases up to `limit` outbox entries that are due (or whose lease expired), oldest first,
    // setting their status to `sending`.
    virtual void claim_due(ClaimRequest request, Callback<std::vector<ClaimedEntry>> done) = 0;

    // Records an attempt and moves the notification to `record.next_status`, removing or
    // rescheduling its outbox entry. stale_lease when the token is not the newest.
    virtual void record_attempt(AttemptRecord record, Callback<void> done) = 0;

    // Gives back every lease `owner` holds without recording an attempt: those entries become
    // due at once for whoever claims next. Used at shutdown.
    virtual void release_leases(std::string owner, Callback<int> done) = 0;

    // Deletes up to `limit` idempotency records that expired at or before `now`, and reports
    // how many it deleted (fewer than `limit`: none expired remain). Never refused as
    // overloaded; each call is one short transaction, so sweeping never holds intake back long.
    virtual void sweep_idempotency(UnixMs now, int limit, Callback<int> done) = 0;

    // Marks up to `limit` notifications `expired` whose expiry is at or before `now` and that
    // wait in the outbox unleased (queued or retrying), removing their outbox entries, and
    // reports their ids (fewer than `limit`: none remain). An entry under lease is left alone:
    // the attempt in flight completes and records its outcome; if that is a retry, a later call
    // expires it (claim_due never leases an expired entry). Never refused as overloaded; each
    // call is one short transaction. A store without this operation answers unavailable.
    virtual void expire_due(UnixMs now, int limit, Callback<std::vector<std::string>> done) {
        (void)now;
        (void)limit;
        done(make_error_code(StoreError::unavailable));
    }

    // Lists notifications (see ListQuery) from a consistent snapshot. Bounded like find().
    virtual void list(ListQuery query, Callback<ListPage> done) {
        (void)query;
        done(make_error_code(StoreError::unavailable));
    }

    // A failed or expired notification goes back to `queued` with a new outbox entry due at
    // request.now and the expiry request.expires_at; its attempts and their log are kept, its
    // last_error cleared. Any other status: conflict. Unknown id (or another client's): not_found.
    // Decided on the writer in order with claims and records. Bounded like insert().
    virtual void retry(RetryRequest request, Callback<StatusChange> done) {
        (void)request;
        done(make_error_code(StoreError::unavailable));
    }

    // A queued or retrying notification (its outbox entry not leased) becomes `cancelled` and its
    // outbox entry is removed, so it is never sent; cancelled already: unchanged; any other status
    // (sending: an attempt under way; sent, failed, expired): conflict. Decided on the writer, so
    // a cancel and a claim of one entry are ordered: whichever runs first wins. Unknown id (or
    // another client's): not_found. Bounded like insert().
    virtual void cancel(CancelRequest request, Callback<StatusChange> done) {
        (void)request;
        done(make_error_code(StoreError::unavailable));
    }

    // Succeeds when the database answers a trivial query.
    virtual void ping(Callback<void> done) = 0;

    // Counts outbox entries by status and finds the oldest due, unleased one at `now`: a read,
    // refused as overloaded like find(). Meant for a sampler every few seconds, not per request.
    // A store without it answers unavailable.
    virtual void outbox_stats(UnixMs now, Callback<OutboxStats> done) {
        (void)now;
        done(boost::system::result<OutboxStats>{boost::system::in_place_error,
                                                make_error_code(StoreError::unavailable)});
    }

    // How long the writes waiting now would take to drain at the recent pace: the basis of the
    // Retry-After of an intake refused for overload. Thread-safe and cheap.
    virtual std::chrono::milliseconds drain_estimate() const { return std::chrono::seconds{1}; }

    // Stops taking work, finishes what is queued, and joins the store's threads. Idempotent.
    virtual void shutdown() = 0;
};

}  // namespace herald::store

namespace boost::system {
template <>
struct is_error_code_enum<herald::store::StoreError> : std::true_type {};
}  // namespace boost::system
