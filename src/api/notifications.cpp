#include "api/notifications.hpp"

#include "api/idempotency.hpp"
#include "core/await_callback.hpp"
#include "core/ids.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "mail/message.hpp"
#include "observe/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>

namespace herald::api {
namespace {

using Field = boost::beast::http::field;
using http::Response;
using http::Status;

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
}

bool is_json_content_type(std::string_view value) {
    const auto semicolon = value.find(';');
    std::string_view media = value.substr(0, semicolon);
    while (!media.empty() && media.back() == ' ') {
        media.remove_suffix(1);
    }
    std::string lower;
    for (char c : media) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return lower == "application/json";
}

// Seconds for a Retry-After: the store's own estimate of its backlog, at least 1, at most 60.
std::string retry_after_seconds(std::chrono::milliseconds estimate) {
    const auto seconds = (estimate.count() + 999) / 1000;
    return std::to_string(std::clamp<std::int64_t>(seconds, 1, 60));
}

using InsertResult = boost::system::result<store::InsertOutcome>;

// Inserts `record` but answers by its deadline. Should the deadline come, or the client leave
// (watched through `peer`), while the write still waits in the store's queue, the write is
// withdrawn (WriteTicket) and the answer is deadline_expired or abandoned at once, certain that
// nothing was written. Once the store has claimed the write, its commit is awaited instead.
boost::asio::awaitable<InsertResult> insert_in_time(store::Store& store,
                                                    store::NewNotification record,
                                                    http::PeerWatch* peer) {
    struct Pending {
        explicit Pending(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
        boost::asio::steady_timer timer;
        std::optional<InsertResult> result;
        bool client_left = false;
    };
    auto pending = std::make_shared<Pending>(co_await boost::asio::this_coro::executor);
    auto ticket = std::make_shared<store::WriteTicket>();
    const auto deadline = record.deadline;
    record.ticket = ticket;
    if (peer != nullptr) {
        peer->watch([pending] {
            pending->client_left = true;
            pending->timer.cancel();
        });
    }
    auto deliver = [pending](InsertResult result) {
        auto executor = pending->timer.get_executor();
        boost::asio::post(executor, [pending, result = std::move(result)]() mutable {
            pending->result = std::move(result);
            pending->timer.cancel();
        });
    };
    store.insert(std::move(record), std::move(deliver));

    for (;;) {
        if (pending->result) {
            co_return std::move(*pending->result);
        }
        const bool given_up = pending->client_left || std::chrono::steady_clock::now() >= deadline;
        if (given_up && ticket->withdraw()) {
            co_return InsertResult{boost::system::in_place_error,
                                   pending->client_left ? store::StoreError::abandoned
                                                        : store::StoreError::deadline_expired};
        }
        // Claimed (its commit is under way): only the result ends the wait now.
        pending->timer.expires_at(given_up ? std::chrono::steady_clock::time_point::max()
                                           : deadline);
        co_await pending->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
}

// A request with an Idempotency-Key whose deadline passed while an earlier request with the
// same key was still being stored: the first decides, so try again (and get its replay).
Response key_still_in_progress(const store::Store& store) {
    const std::string detail =
        "a request with this Idempotency-Key is still being processed; retry to get its outcome";
    Response response = http::problem_response(Status::conflict,
                                               "idempotency-key-in-progress",
                                               "Idempotency-Key in progress",
                                               detail,
                                               {http::FieldProblem{{}, detail, "Idempotency-Key"}});
    response.set(Field::retry_after, retry_after_seconds(store.drain_estimate()));
    return response;
}

}  // namespace

Response store_failure(const boost::system::error_code& ec, const store::Store& store) {
    using store::StoreError;
    if (ec == store::make_error_code(StoreError::deadline_expired)) {
        // The store's queue was too long for this request's deadline: overload, so say when to
        // come back (from the store's drain estimate) rather than 504.
        Response response = http::problem_response(
            Status::service_unavailable,
            "deadline-expired",
            "Deadline expired in the queue",
            "the notification was not stored: its deadline passed while it waited for the store");
        response.set(Field::retry_after, retry_after_seconds(store.drain_estimate()));
        return response;
    }
    Response response = http::problem_response(Status::service_unavailable,
                                               "store-unavailable",
                                               "Temporarily unable to accept",
                                               "the notification was not stored; retry later");
    const bool busy = ec == store::make_error_code(StoreError::overloaded);
    response.set(Field::retry_after, busy ? retry_after_seconds(store.drain_estimate()) : "5");
    return response;
}

boost::json::object notification_json(const store::NotificationView& view) {
    boost::json::object out;
    out["id"] = view.id;
    out["status"] = store::to_string(view.status);
    out["message_id"] = "<" + view.message_id + ">";
    out["attempts"] = view.attempts;
    out["created_at"] = core::format_rfc3339(view.created_at);
    out["updated_at"] = core::format_rfc3339(view.updated_at);
    if (view.sent_at) {
        out["sent_at"] = core::format_rfc3339(*view.sent_at);
    }
    if (view.next_attempt_at) {
        out["next_attempt_at"] = core::format_rfc3339(*view.next_attempt_at);
    }
    if (view.expires_at) {
        out["expires_at"] = core::format_rfc3339(*view.expires_at);
    }
    if (!view.last_error.empty()) {
        out["last_error"] = view.last_error;
    }
    boost::json::array log;
    for (const auto& attempt : view.attempt_log) {
        log.push_back(boost::json::object{
            {"number", attempt.number},
            {"started_at", core::format_rfc3339(attempt.started_at)},
            {"finished_at", core::format_rfc3339(attempt.finished_at)},
            {"outcome", attempt.outcome},
            {"detail", attempt.detail},
        });
    }
    out["attempt_log"] = std::move(log);
    return out;
}

namespace {

// A Prefer: wait ends this long before the request's deadline, so its answer still arrives in
// time.
constexpr std::chrono::milliseconds kAnswerMargin{100};

observe::IntakeOutcome intake_outcome(const Response& response) {
    using observe::IntakeOutcome;
    const unsigned code = response.result_int();
    if (code == 200 || code == 202) {
        if (response.find("Idempotent-Replayed") == response.end()) {
            return IntakeOutcome::accepted;
        }
        return response.find("Herald-Deduplicated") == response.end() ? IntakeOutcome::replayed
                                                                      : IntakeOutcome::deduplicated;
    }
    if (code == 504) {
        return IntakeOutcome::deadline_expired;
    }
    return code >= 500 ? IntakeOutcome::store_unavailable : IntakeOutcome::rejected_invalid;
}

// Seconds from a delta-seconds value, bare or quoted; nullopt unless it is all digits. Values
// too large to matter saturate (any wait is capped far below).
std::optional<std::chrono::seconds> delta_seconds(std::string_view value) {
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
    }
    if (value.empty()) {
        return std::nullopt;
    }
    std::int64_t seconds = 0;
    for (char c : value) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        seconds = std::min<std::int64_t>(seconds * 10 + (c - '0'), 1'000'000'000);
    }
    return std::chrono::seconds{seconds};
}

}  // namespace

std::optional<std::chrono::seconds> preferred_wait(const http::Request& request) {
    const auto [first, last] = request.equal_range(Field::prefer);
    for (auto field = first; field != last; ++field) {
        std::string_view rest = field->value();
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            // A preference's own parameters follow ';' and do not matter for wait.
            std::string_view preference = rest.substr(0, comma);
            preference = core::trim_blanks(preference.substr(0, preference.find(';')));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            const auto equals = preference.find('=');
            if (equals == std::string_view::npos ||
                !core::iequals_ascii(core::trim_blanks(preference.substr(0, equals)), "wait")) {
                continue;
            }
            return delta_seconds(core::trim_blanks(preference.substr(equals + 1)));
        }
    }
    return std::nullopt;
}

Response unauthorized() {
    Response response = http::problem_response(Status::unauthorized,
                                               "unauthorized",
                                               "Unauthorized",
                                               "a valid API key is required (Authorization: "
                                               "Bearer KEY)");
    response.set(Field::www_authenticate, "Bearer");
    return response;
}

NotificationsApi::NotificationsApi(ApiOptions options,
                                   store::Store& store,
                                   const mail::TemplateLibrary* templates,
                                   std::function<void()> on_committed)
    : options_(std::move(options)),
      store_(store),
      templates_(templates),
      on_committed_(std::move(on_committed)),
      metrics_(options_.metrics != nullptr ? *options_.metrics : observe::Metrics::unobserved()) {}

void NotificationsApi::add_routes(http::Router& router) {
    router.add(http::Verb::post, "/v1/notifications", [this](http::RequestContext context) {
        return create(std::move(context));
    });
    router.add(http::Verb::get, "/v1/notifications/{id}", [this](http::RequestContext context) {
        return show(std::move(context));
    });
    router.add(http::Verb::get, "/v1/notifications", [this](http::RequestContext context) {
        return list(std::move(context));
    });
    router.add(http::Verb::post,
               "/v1/notifications/{id}/retry",
               [this](http::RequestContext context) { return retry(std::move(context)); });
    router.add(http::Verb::post,
               "/v1/notifications/{id}/cancel",
               [this](http::RequestContext context) { return cancel(std::move(context)); });
}

std::optional<std::string> NotificationsApi::authenticate(const http::Request& request) const {
    if (options_.api_keys.empty()) {
        return std::string{};
    }
    // The scheme name is case-insensitive (RFC 9110, section 11.1).
    constexpr std::string_view kScheme = "bearer ";
    const std::string_view header = request[Field::authorization];
    if (header.size() <= kScheme.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
            return std::nullopt;
        }
    }
    const std::string_view key = header.substr(kScheme.size());
    std::optional<std::string> client;
    for (const auto& [known, name] : options_.api_keys) {
        if (constant_time_equal(known, key)) {
            client = name;
        }
    }
    return client;
}

boost::asio::awaitable<Response> NotificationsApi::create(http::RequestContext context) {
    http::PeerWatch* peer = context.peer;
    std::optional<observe::IntakeOutcome> outcome;
    std::optional<WaitPlan> wait;
    Response response = co_await accept(context, outcome, wait);
    // Awaited only once accept() has returned, so its frame is gone while the request waits.
    if (wait) {
        response = co_await answer_after_wait(context, std::move(*wait));
    }
    if (peer != nullptr && peer->gone()) {
        outcome = observe::IntakeOutcome::client_gone;
    }
    metrics_.count_intake(outcome.value_or(intake_outcome(response)));
    co_return response;
}

// Everything a POST needs before it meets the store, in an ordinary function: its locals (the
// parsed body, the validated message, the payload) are gone once it returns, instead of living
// in the coroutine's frame for as long as the request waits.
std::variant<NotificationsApi::Prepared, Response> NotificationsApi::prepare(
    const http::RequestContext& context,
    const std::string& client,
    std::optional<std::string> key) const {
    boost::json::parse_options parse_options;
    parse_options.max_depth = static_cast<std::size_t>(options_.max_json_depth);
    boost::system::error_code parse_error;
    boost::json::value body =
        boost::json::parse(context.request.body(), parse_error, {}, parse_options);
    if (parse_error) {
        const bool too_deep = parse_error == boost::json::error::too_deep;
        const std::string detail =
            too_deep ? fmt::format("the body nests deeper than {} levels", options_.max_json_depth)
                     : fmt::format("the body is not valid JSON: {}", parse_error.message());
        return http::problem_response(Status::bad_request,
                                      too_deep ? "json-too-deep" : "malformed-json",
                                      too_deep ? "JSON nested too deeply" : "Malformed JSON",
                                      detail,
                                      {{"#", detail}});
    }

    auto valid = validate_notification(body, options_.limits, templates_);
    if (!valid) {
        // A body full of bad fields must not earn a response larger than itself.
        constexpr std::size_t kMaxReported = 50;
        std::vector<http::FieldProblem> problems = std::move(valid.error());
        const std::size_t found = problems.size();
        problems.resize(std::min(found, kMaxReported));
        return http::problem_response(
            Status::bad_request,
            "invalid-notification",
            "Invalid notification",
            found > kMaxReported
                ? fmt::format("{} fields are invalid; the first {} are listed", found, kMaxReported)
                : std::string{"one or more fields are invalid"},
            problems);
    }

    const std::string id = core::new_uuid_v7();
    const core::UnixMs now = core::unix_now_ms();
    const auto expires_at = resolve_expiry(valid->expiry, now, options_.default_max_age_s);
    if (!expires_at) {
        return http::problem_response(Status::bad_request,
                                      "invalid-notification",
                                      "Invalid notification",
                                      "one or more fields are invalid",
                                      {expires_at.error()});
    }
    mail::Message& message = valid->message;
    message.message_id = fmt::format("{}@{}", id, options_.message_id_domain);
    message.date_ms = now;
    boost::json::object payload = mail::to_json(message);
    if (!valid->tags.empty()) {
        payload["tags"] = std::move(valid->tags);
    }
    if (!valid->metadata.empty()) {
        payload["metadata"] = std::move(valid->metadata);
    }

    // The response is decided now so that the store can keep it for replays byte for byte.
    boost::json::object accepted{
        {"id", id}, {"status", "queued"}, {"created_at", core::format_rfc3339(now)}};
    if (*expires_at) {
        accepted["expires_at"] = core::format_rfc3339(**expires_at);
    }
    std::string accepted_body = boost::json::serialize(accepted);

    store::NewNotification record;
    record.id = id;
    record.client = client;
    record.message_id = message.message_id;
    record.payload = boost::json::serialize(payload);
    record.created_at = now;
    record.due_at = now;
    record.expires_at = *expires_at;
    // Delivery attempts, however much later, join the request's trace as its children.
    record.trace_parent = observe::format_traceparent(context.trace);
    record.trace_state = context.trace.trace_state;
    if (key.has_value() || options_.content_dedup_window.count() > 0) {
        std::string fingerprint = request_fingerprint(*valid);
        store::IdempotencyRecord idempotency;
        if (key.has_value()) {
            idempotency.kind = store::DedupKind::key;
            idempotency.key = std::move(*key);
            idempotency.expires_at = now + options_.idempotency_retention.count();
        } else {
            idempotency.kind = store::DedupKind::content;
            idempotency.key = fingerprint;
            idempotency.expires_at = now + options_.content_dedup_window.count();
        }
        idempotency.fingerprint = std::move(fingerprint);
        idempotency.response_status = static_cast<int>(Status::accepted);
        idempotency.response_body = accepted_body;
        record.idempotency = std::move(idempotency);
    }
    return Prepared{std::move(record), std::move(accepted_body)};
}

boost::asio::awaitable<Response> NotificationsApi::accept(
    http::RequestContext& context,
    std::optional<observe::IntakeOutcome>& outcome,
    std::optional<WaitPlan>& wait_plan) {
    const auto client = authenticate(context.request);
    if (!client) {
        co_return unauthorized();
    }
    if (!is_json_content_type(context.request[Field::content_type])) {
        co_return http::problem_response(Status::unsupported_media_type,
                                         "unsupported-media-type",
                                         "Unsupported media type",
                                         "the body must be application/json");
    }

    auto key = read_idempotency_key(context.request);
    if (!key) {
        co_return http::problem_response(Status::bad_request,
                                         "invalid-idempotency-key",
                                         "Invalid Idempotency-Key",
                                         key.error().detail,
                                         {key.error()});
    }

    auto prepared = prepare(context, *client, std::move(*key));
    if (auto* refusal = std::get_if<Response>(&prepared)) {
        co_return std::move(*refusal);
    }
    store::NewNotification& record = std::get<Prepared>(prepared).record;
    std::string& accepted_body = std::get<Prepared>(prepared).accepted_body;
    const std::string id = record.id;
    const bool by_content =
        record.idempotency && record.idempotency->kind == store::DedupKind::content;

    // Subscribed before the commit, so that a delivery finishing at once is not missed.
    const auto wait = preferred_wait(context.request);
    std::shared_ptr<delivery::OutcomeBoard::Waiter> waiter;
    if (wait && wait->count() > 0 && options_.outcomes != nullptr) {
        waiter = options_.outcomes->subscribe(id, co_await boost::asio::this_coro::executor);
    }

    // From here on the request waits for the store: a client that leaves, or a deadline that
    // passes, before the writer takes it means the write is never made. Shortcoming: the watch
    // reads the close only once this I/O thread runs again, so an idle writer may commit the
    // notification of a client that left a moment before; it is then delivered (at most once,
    // and a retry with the same Idempotency-Key gets the replay).
    record.deadline = context.deadline;

    // Registered while this request waits for the store, under its client and key.
    std::string key_in_flight;
    bool key_was_busy = false;
    if (record.idempotency && record.idempotency->kind == store::DedupKind::key) {
        key_in_flight = record.client + '\n' + record.idempotency->key;
        key_was_busy = keys_in_flight_.enter(key_in_flight);
    }
    struct LeaveOnExit {
        KeysInFlight& keys;
        const std::string& key;
        ~LeaveOnExit() {
            if (!key.empty()) {
                keys.leave(key);
            }
        }
    } leave_on_exit{keys_in_flight_, key_in_flight};

    observe::Span commit_span =
        observe::start_span("store commit", observe::SpanKind::internal, &context.trace);
    commit_span.set("herald.notification_id", id);
    auto stored = co_await insert_in_time(store_, std::move(record), context.peer);
    if (!stored) {
        commit_span.set_error(stored.error().message());
    }
    commit_span.end();
    if (!stored) {
        if (stored.error() == store::StoreError::abandoned) {
            observe::info("client gone",
                          {{"request_id", context.request_id},
                           {"notification_id", id},
                           {"trace_id", context.trace.trace_id_hex()},
                           {"stage", "queued for the store"}});
        }
        if (stored.error() == store::StoreError::deadline_expired) {
            outcome = observe::IntakeOutcome::deadline_expired;
            if (key_was_busy) {
                co_return key_still_in_progress(store_);
            }
        }
        if (stored.error() == store::StoreError::overloaded) {
            outcome = observe::IntakeOutcome::shed_overload;
        }
        co_return store_failure(stored.error(), store_);
    }

    using Kind = store::InsertOutcome::Kind;
    const std::string location = "/v1/notifications/" + stored->notification.id;
    switch (stored->kind) {
        case Kind::created: {
            if (on_committed_) {
                on_committed_();
            }
            if (waiter) {
                wait_plan = WaitPlan{id, std::move(accepted_body), *wait, std::move(waiter)};
                co_return Response{};
            }
            Response response = http::json_response(Status::accepted, std::move(accepted_body));
            response.set(Field::location, location);
            co_return response;
        }
        case Kind::replayed: {
            Response response = http::json_response(static_cast<Status>(stored->response_status),
                                                    std::move(stored->response_body));
            response.set(Field::location, location);
            response.set("Idempotent-Replayed", "true");
            if (by_content) {
                response.set("Herald-Deduplicated", "content");
            }
            co_return response;
        }
        case Kind::conflict:
            break;
    }
    const std::string detail =
        "this Idempotency-Key was used for a different request (body); use a new key for a new "
        "notification";
    co_return http::problem_response(Status::unprocessable_entity,
                                     "idempotency-key-reused",
                                     "Idempotency-Key reused",
                                     detail,
                                     {http::FieldProblem{{}, detail, "Idempotency-Key"}});
}

boost::asio::awaitable<Response> NotificationsApi::answer_after_wait(http::RequestContext& context,
                                                                     WaitPlan plan) {
    const std::string& id = plan.id;
    std::string& accepted_body = plan.accepted_body;
    const std::chrono::seconds wait = plan.wait;
    const std::shared_ptr<delivery::OutcomeBoard::Waiter>& waiter = plan.waiter;
    // Nothing below reads the request itself; a waiting request holds only what it answers with.
    context.request = {};
    const auto honoured = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wait), options_.max_wait);
    if (context.peer != nullptr) {
        context.peer->watch([waiter] { waiter->interrupt(); });
    }
    // The answer must leave before the client's deadline, with a margin for writing it.
    const auto until = std::min(context.received_at + honoured, context.deadline - kAnswerMargin);
    const auto outcome = co_await waiter->wait_until(until);
    const auto waited =
        std::max(until - context.received_at, std::chrono::steady_clock::duration{});
    const std::string applied =
        fmt::format("wait={}", std::chrono::duration_cast<std::chrono::seconds>(waited).count());

    if (context.peer != nullptr && context.peer->gone()) {
        observe::info("client gone",
                      {{"request_id", context.request_id},
                       {"notification_id", id},
                       {"trace_id", context.trace.trace_id_hex()},
                       {"stage", "waiting for delivery"}});
        co_return http::problem_response(
            Status::bad_request, "client-gone", "Client gone", "the client closed the connection");
    }
    const std::string location = "/v1/notifications/" + id;
    if (outcome) {
        auto found = co_await core::await_call<boost::system::result<store::NotificationView>>(
            store_, &store::Store::find, id, std::string{});
        if (found) {
            Response response = http::json_response(Status::ok, notification_json(*found));
            response.set(Field::location, location);
            response.set(Field::preference_applied, applied);
            co_return response;
        }
    }
    Response response = http::json_response(Status::accepted, std::move(accepted_body));
    response.set(Field::location, location);
    response.set(Field::preference_applied, applied);
    co_return response;
}

bool NotificationsApi::KeysInFlight::enter(const std::string& key) {
    std::lock_guard lock(mutex_);
    return waiting_[key]++ > 0;
}

void NotificationsApi::KeysInFlight::leave(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto found = waiting_.find(key); found != waiting_.end() && --found->second == 0) {
        waiting_.erase(found);
    }
}

boost::asio::awaitable<Response> NotificationsApi::show(http::RequestContext context) {
    const auto client = authenticate(context.request);
    if (!client) {
        co_return unauthorized();
    }
    const std::string id = context.params.at(0);
    auto not_found = [] {
        return http::problem_response(
            Status::not_found, "not-found", "Not found", "no notification with that id");
    };
    if (!core::looks_like_uuid(id)) {
        co_return not_found();
    }
    auto found = co_await core::await_call<boost::system::result<store::NotificationView>>(
        store_, &store::Store::find, id, *client);
    if (!found) {
        if (found.error() == store::make_error_code(store::StoreError::not_found)) {
            co_return not_found();
        }
        co_return store_failure(found.error(), store_);
    }
    co_return http::json_response(Status::ok, notification_json(*found));
}

namespace {

boost::asio::awaitable<Response> scrape(const observe::Metrics* metrics) {
    Response response{Status::ok, 11};
    response.set(Field::content_type, observe::kMetricsContentType);
    response.body() = metrics->render();
    co_return response;
}

boost::asio::awaitable<Response> liveness() {
    co_return http::json_response(Status::ok, boost::json::object{{"status", "ok"}});
}

boost::asio::awaitable<Response> readiness(store::Store* store, std::function<bool()> draining) {
    if (draining()) {
        co_return http::json_response(Status::service_unavailable,
                                      boost::json::object{{"status", "draining"}});
    }
    auto ping = co_await core::await_call<boost::system::result<void>>(*store, &store::Store::ping);
    if (!ping) {
        co_return http::json_response(Status::service_unavailable,
                                      boost::json::object{{"status", "store unavailable"}});
    }
    co_return http::json_response(Status::ok, boost::json::object{{"status", "ready"}});
}

}  // namespace

void add_metrics_route(http::Router& router, const observe::Metrics& metrics) {
    router.add(
        http::Verb::get, "/metrics", [&metrics](http::RequestContext) { return scrape(&metrics); });
}

void add_health_routes(http::Router& router, store::Store& store, std::function<bool()> draining) {
    router.add(http::Verb::get, "/healthz", [](http::RequestContext) { return liveness(); });
    router.add(http::Verb::get, "/readyz", [&store, draining](http::RequestContext) {
        return readiness(&store, draining);
    });
}

}  // namespace herald::api
