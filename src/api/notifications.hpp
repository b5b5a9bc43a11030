#pragma once

#include "api/validate.hpp"
#include "delivery/outcome_board.hpp"
#include "http/router.hpp"
#include "mail/template.hpp"
#include "observe/metrics.hpp"
#include "store/store.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace herald::api {

struct ApiOptions {
    IntakeLimits limits;
    int max_json_depth = 64;
    std::map<std::string, std::string> api_keys;  // bearer key -> client; empty: no auth
    std::string message_id_domain = "herald.localhost";
    // How long an Idempotency-Key is remembered after the request that first used it.
    std::chrono::milliseconds idempotency_retention{std::chrono::hours(24)};
    // For requests without a key: a request with the fingerprint of one accepted this recently
    // (same client) gets that one's response instead of a new notification. Zero: off.
    std::chrono::milliseconds content_dedup_window{0};
    // The longest `Prefer: wait` honoured, counted from the request's arrival.
    std::chrono::milliseconds max_wait{8000};
    // The expiry, in seconds after creation, of a notification that asks for none
    // (delivery.max_age_s); also that of a retried one. 0: none.
    std::int64_t default_max_age_s = 0;
    // Where waits for delivery learn of outcomes; null: `Prefer: wait` is not honoured.
    delivery::OutcomeBoard* outcomes = nullptr;
    observe::Metrics* metrics = nullptr;  // null: counted nowhere
};

// The `wait` preference of a request's Prefer headers (RFC 7240: `Prefer: wait=10`, several
// preferences per header, names case-insensitive, the value bare or quoted); the first one
// counts. nullopt when there is none or its value is not a number of seconds (an unusable
// preference is ignored, as RFC 7240 asks).
std::optional<std::chrono::seconds> preferred_wait(const http::Request& request);

// The notifications endpoints:
//   POST /v1/notifications              validate, store durably, answer 202 with the id
//   GET  /v1/notifications/{id}         status, attempts and timestamps
//   GET  /v1/notifications              list by status (default: failed and expired) and
//                                       creation time, newest change first, in pages with an
//                                       opaque cursor
//   POST /v1/notifications/{id}/retry   a failed or expired one is queued again (200), else 409
//   POST /v1/notifications/{id}/cancel  a queued or retrying one is cancelled (200; again: 200),
//                                       else 409
// A client sees and changes only its own notifications (another's id answers 404).
// POST honours Idempotency-Key (per client): a repeat with the same request fingerprint gets the
// first response again with `Idempotent-Replayed: true`, one with another fingerprint gets 422.
// The key, fingerprint and response are stored in the notification's own transaction, and
// repeats are decided by the store in arrival order, so concurrent repeats wait for the first
// and never create a second notification.
// With `Prefer: wait=N` a new notification's answer waits, after the commit, until it is sent,
// failed, expired or cancelled (200 with the GET body) or until N seconds, capped by max_wait, have
// passed since the request arrived (202 as usual); `Preference-Applied: wait=N` names the wait
// honoured. A client that leaves during that wait is not answered and counts as client_gone; its
// notification is durable and goes on. Replays answer at once with the first response. Handlers run
// on I/O threads; every store call goes to the store's threads and back. `on_committed` runs (on an
// I/O thread) after each new notification is durable, to wake the dispatcher; it must not block.
// The store, templates and callback outlive this object.
class NotificationsApi {
public:
    NotificationsApi(ApiOptions options,
                     store::Store& store,
                     const mail::TemplateLibrary* templates,
                     std::function<void()> on_committed);

    void add_routes(http::Router& router);

private:
    // A valid POST ready for the store: its record and the 202 body it is answered with (decided
    // before the commit so that the store keeps it for replays byte for byte).
    struct Prepared {
        store::NewNotification record;
        std::string accepted_body;
    };
    // Parses and validates the body and builds the record for `client`, or the response that
    // refuses the request. `key` is its Idempotency-Key, if any.
    std::variant<Prepared, http::Response> prepare(const http::RequestContext& context,
                                                   const std::string& client,
                                                   std::optional<std::string> key) const;
    // A stored notification whose client asked to wait for its delivery (Prefer: wait).
    struct WaitPlan {
        std::string id;
        std::string accepted_body;  // the 202 body, answered when the wait runs out
        std::chrono::seconds wait;
        std::shared_ptr<delivery::OutcomeBoard::Waiter> waiter;
    };
    boost::asio::awaitable<http::Response> create(http::RequestContext context);
    // Handles one POST; sets `outcome` where the response alone does not tell it, and `wait_plan`
    // (leaving the response empty) when the client is to wait for the delivery. The caller
    // awaits at once, so the references outlive every suspension.
    boost::asio::awaitable<http::Response> accept(http::RequestContext& context,
                                                  std::optional<observe::IntakeOutcome>& outcome,
                                                  std::optional<WaitPlan>& wait_plan);
    // The answer to a new notification once its waiter has seen it finish or the wait ran out.
    // `context` must outlive the call (the caller awaits at once).
    boost::asio::awaitable<http::Response> answer_after_wait(http::RequestContext& context,
                                                             WaitPlan plan);
    boost::asio::awaitable<http::Response> show(http::RequestContext context);
    // In dead_letters.cpp:
    boost::asio::awaitable<http::Response> list(http::RequestContext context);
    boost::asio::awaitable<http::Response> retry(http::RequestContext context);
    boost::asio::awaitable<http::Response> cancel(http::RequestContext context);

    // The client named by the request's bearer key; "" when auth is off. nullopt: refused.
    std::optional<std::string> authenticate(const http::Request& request) const;

    ApiOptions options_;
    store::Store& store_;
    const mail::TemplateLibrary* templates_;
    std::function<void()> on_committed_;
    observe::Metrics& metrics_;

    // The Idempotency-Keys (per client) of requests waiting for the store in this process, with
    // how many wait for each: a request whose deadline passes while an earlier one with its key
    // is still being stored is answered 409 (try again) rather than 503. Any I/O thread.
    class KeysInFlight {
    public:
        // Counts one more request for `key`; true when another was already waiting.
        bool enter(const std::string& key);
        void leave(const std::string& key);

    private:
        std::mutex mutex_;
        std::unordered_map<std::string, int> waiting_;
    };
    KeysInFlight keys_in_flight_;
};

// The body of GET /v1/notifications/{id} for `view`.
boost::json::object notification_json(const store::NotificationView& view);

// The 503 answer to a store call that failed with `ec` (overloaded, unavailable, deadline
// expired in the queue), with a Retry-After from the store's drain estimate.
http::Response store_failure(const boost::system::error_code& ec, const store::Store& store);

// GET /healthz (the process answers) and GET /readyz (the store answers and herald is not
// draining). `draining` is read on I/O threads and must be thread-safe.
void add_health_routes(http::Router& router, store::Store& store, std::function<bool()> draining);

// GET /metrics: `metrics` in the Prometheus text format. `metrics` outlives the router.
void add_metrics_route(http::Router& router, const observe::Metrics& metrics);

// A 401 problem with WWW-Authenticate: Bearer.
http::Response unauthorized();

}  // namespace herald::api
