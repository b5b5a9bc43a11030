#include "delivery/dispatcher.hpp"

#include "core/await_callback.hpp"
#include "core/thread_name.hpp"
#include "mail/mime.hpp"
#include "observe/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <random>
#include <utility>
#include <vector>

namespace herald::delivery {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Lets transport threads post onto the dispatcher's io_context only while it is open: after the
// drain the dispatcher closes it, and a late send result is dropped instead of touching a
// dispatcher that may be gone.
struct Dispatcher::Gate {
    std::mutex mutex;
    asio::io_context* io = nullptr;  // null once closed

    template <typename Function>
    void post(Function function) {
        std::lock_guard lock(mutex);
        if (io != nullptr) {
            asio::post(*io, std::move(function));
        }
    }

    void close() {
        std::lock_guard lock(mutex);
        io = nullptr;
    }
};

namespace {

DispatcherOptions with_defaults(DispatcherOptions options) {
    options.concurrency = std::max(options.concurrency, 1);
    options.max_attempts = std::max(options.max_attempts, 1);
    options.record_retry_base = std::max(options.record_retry_base, milliseconds{1});
    options.record_retry_max = std::max(options.record_retry_max, options.record_retry_base);
    if (!options.clock) {
        options.clock = &core::unix_now_ms;
    }
    if (!options.random) {
        auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
        options.random = [engine](std::int64_t low, std::int64_t high) {
            return std::uniform_int_distribution<std::int64_t>(low, high)(*engine);
        };
    }
    return options;
}

PacingOptions pacing_of(const DispatcherOptions& options) {
    PacingOptions pacing = options.pacing;
    pacing.max_concurrency = options.concurrency;
    pacing.retry_after_max = options.retry_after_max;
    return pacing;
}

BackoffPolicy policy_of(const DispatcherOptions& options) {
    BackoffPolicy policy;
    policy.base = options.backoff_base;
    policy.max = options.backoff_max;
    policy.retry_after_max = options.retry_after_max;
    return policy;
}

// A payload is herald's own JSON of a request intake accepted, so it nests at most as deep as
// intake allows (limits.max_json_depth, at most 1000) plus the few levels herald adds around the
// request's values. Boost.JSON's default of 32 would fail notifications intake had accepted.
constexpr std::size_t kMaxPayloadDepth = 1100;

// A stored notification as a transport needs it: the message, and the tags and metadata that
// intake kept beside it (intake checked their types; anything else reads as absent).
struct Payload {
    mail::Message message;
    std::vector<std::string> tags;
    boost::json::object metadata;
};

boost::system::result<Payload, std::string> read_payload(const std::string& payload) {
    boost::system::error_code error;
    boost::json::parse_options options;
    options.max_depth = kMaxPayloadDepth;
    const boost::json::value json = boost::json::parse(payload, error, {}, options);
    if (error) {
        return fmt::format("payload is not JSON: {}", error.message());
    }
    auto message = mail::message_from_json(json);
    if (!message) {
        return message.error();
    }
    Payload out{std::move(*message), {}, {}};
    const auto* object = json.if_object();
    if (const auto* tags = object != nullptr ? object->if_contains("tags") : nullptr;
        tags != nullptr && tags->is_array()) {
        for (const auto& tag : tags->get_array()) {
            if (tag.is_string()) {
                out.tags.emplace_back(tag.get_string());
            }
        }
    }
    if (const auto* metadata = object != nullptr ? object->if_contains("metadata") : nullptr;
        metadata != nullptr && metadata->is_object()) {
        out.metadata = metadata->get_object();
    }
    return out;
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - since)
        .count();
}

// The context stored at intake, or nullopt for a notification stored without one.
std::optional<observe::TraceContext> intake_context(const store::ClaimedEntry& entry) {
    auto context = observe::parse_traceparent(entry.trace_parent);
    if (context) {
        context->trace_state = observe::checked_tracestate(entry.trace_state);
    }
    return context;
}

// The attempt's span, after the first attempt's "outbox wait" span (creation to claim).
observe::Span start_attempt_span(const store::ClaimedEntry& entry, std::string_view transport) {
    const auto parent = intake_context(entry);
    const observe::TraceContext* parent_ptr = parent ? &*parent : nullptr;
    if (entry.attempts == 0 && parent) {
        observe::Span wait = observe::start_span("outbox wait",
                                                 observe::SpanKind::internal,
                                                 parent_ptr,
                                                 std::int64_t{entry.created_at} * 1'000'000);
        wait.set("herald.notification_id", entry.id);
        wait.end();
    }
    observe::Span span =
        observe::start_span("delivery attempt", observe::SpanKind::client, parent_ptr);
    span.set("herald.notification_id", entry.id);
    span.set("herald.attempt", static_cast<std::int64_t>(entry.attempts + 1));
    span.set("herald.transport", std::string{transport});
    return span;
}

}  // namespace

NextStep next_step(const SendResult& result,
                   int attempt,
                   int max_attempts,
                   const BackoffPolicy& policy,
                   core::UnixMs now,
                   const UniformRandom& random) {
    switch (result.outcome) {
        case AttemptOutcome::sent:
            return {store::Status::sent, 0, result.detail};
        case AttemptOutcome::permanent:
            return {store::Status::failed, 0, result.detail};
        case AttemptOutcome::throttled: {
            const milliseconds wait =
                std::min(result.retry_after.value_or(milliseconds{0}), policy.retry_after_max);
            return {store::Status::retrying, now + wait.count(), result.detail};
        }
        case AttemptOutcome::transient:
        case AttemptOutcome::ambiguous:
            break;
    }
    if (attempt >= max_attempts) {
        return {store::Status::failed,
                0,
                fmt::format("gave up after {} attempts: {}", attempt, result.detail)};
    }
    const milliseconds delay = retry_delay(attempt, policy, result.retry_after, random);
    return {store::Status::retrying, now + delay.count(), result.detail};
}

Dispatcher::Dispatcher(store::Store& store, Transport& transport, DispatcherOptions options)
    : store_(store),
      transport_(transport),
      options_(with_defaults(std::move(options))),
      policy_(policy_of(options_)),
      lease_(std::max(options_.lease, options_.attempt_timeout + std::chrono::seconds{5})),
      metrics_(options_.metrics != nullptr ? *options_.metrics : observe::Metrics::unobserved()),
      pacer_(pacing_of(options_), options_.random, std::chrono::steady_clock::now()),
      work_(asio::make_work_guard(io_)),
      gate_(std::make_shared<Gate>()),
      wake_timer_(io_),
      drain_timer_(io_) {
    gate_->io = &io_;
}

Dispatcher::~Dispatcher() {
    stop(milliseconds{0});
}

void Dispatcher::start() {
    std::lock_guard lock(stop_mutex_);
    if (started_) {
        return;
    }
    started_ = true;
    asio::co_spawn(io_, run_loop(), [this](std::exception_ptr error) {
        if (!error) {
            return;
        }
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            observe::error("dispatcher loop failed", {{"error", e.what()}});
        } catch (...) {
            observe::error("dispatcher loop failed", {});
        }
        close_io();
    });
    thread_ = std::thread([this] {
        core::name_this_thread("herald-dispatch");
        for (;;) {
            try {
                io_.run();
                return;
            } catch (const std::exception& e) {
                observe::error("dispatcher handler failed", {{"error", e.what()}});
            }
        }
    });
}

void Dispatcher::wake() {
    // Many requests commit between two claims; one posted wake-up serves them all.
    if (wake_posted_.exchange(true)) {
        return;
    }
    gate_->post([this] {
        wake_posted_ = false;
        wake_pending_ = true;
        wake_timer_.cancel();
    });
}

void Dispatcher::stop(milliseconds drain) {
    std::lock_guard lock(stop_mutex_);
    if (!thread_.joinable()) {
        return;
    }
    gate_->post([this, drain] { begin_stop(drain); });
    thread_.join();
}

void Dispatcher::begin_stop(milliseconds drain) {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    drain_ = drain;
    wake_timer_.cancel();
}

void Dispatcher::close_io() {
    closed_ = true;
    gate_->close();
    wake_timer_.cancel();
    drain_timer_.cancel();
    for (asio::steady_timer* timer : retry_timers_) {
        timer->cancel();
    }
    work_.reset();
}

void Dispatcher::publish_pacing(std::chrono::steady_clock::time_point now) {
    const PacingLevels levels = pacer_.levels(now);
    observe::Metrics::Pacing pacing;
    pacing.rate_per_s = levels.rate_per_s;
    pacing.concurrency_limit = levels.concurrency_limit;
    pacing.breaker_state = static_cast<int>(levels.breaker);
    pacing.retry_budget = levels.retry_budget;
    pacing.paused = levels.paused;
    metrics_.set_pacing(transport_.name(), pacing);
}

asio::awaitable<void> Dispatcher::run_loop() {
    while (!stopping_) {
        const auto now = std::chrono::steady_clock::now();
        const Allowance allowance = pacer_.allowance(in_flight_, now);
        publish_pacing(now);
        recheck_ = allowance.recheck;
        if (allowance.sends > 0) {
            co_await claim_and_start(allowance.sends, allowance.retries);
        } else if (allowance.recheck == std::chrono::steady_clock::time_point::max()) {
            saturated_ = true;  // held by the concurrency limit (or a probe): a freed slot claims
        }
        if (stopping_) {
            break;
        }
        co_await wait_for_work();
    }
    co_await drain_and_release();
}

asio::awaitable<void> Dispatcher::claim_and_start(int limit, int retries) {
    store::ClaimRequest request;
    request.owner = options_.owner;
    request.now = options_.clock();
    request.limit = limit;
    request.max_retries = retries < limit ? retries : -1;
    request.lease_ms = lease_.count();

    using Claimed = boost::system::result<std::vector<store::ClaimedEntry>>;
    ++store_ops_;
    Claimed claimed =
        co_await core::await_call<Claimed>(store_, &store::Store::claim_due, std::move(request));
    --store_ops_;

    if (!claimed) {
        // Once per outage, not once per poll.
        if (!claim_failing_) {
            observe::warn("claim failed", {{"error", claimed.error().message()}});
        }
        claim_failing_ = true;
        co_return;
    }
    if (claim_failing_) {
        observe::info("claim recovered", {});
        claim_failing_ = false;
    }
    more_due_ = static_cast<int>(claimed->size()) >= limit;
    saturated_ = more_due_;
    const auto now = std::chrono::steady_clock::now();
    for (store::ClaimedEntry& entry : *claimed) {
        if (auto held = lease_tokens_.find(entry.id); held != lease_tokens_.end()) {
            // Our own lease ran out while the attempt was still in flight here (its outcome
            // waiting to be recorded): sending again would duplicate it. Record under the new
            // token instead.
            observe::warn("lease renewed in flight", {{"notification_id", entry.id}});
            held->second = entry.lease_token;
            continue;
        }
        // Entries claimed while a stop was arriving stay leased; the drain releases them.
        if (stopping_) {
            continue;
        }
        lease_tokens_.emplace(entry.id, entry.lease_token);
        ++in_flight_;
        pacer_.on_start(entry.attempts > 0, now);
        start_delivery(std::move(entry));
    }
    publish_pacing(now);
}

asio::awaitable<void> Dispatcher::wait_for_work() {
    if (!wake_pending_) {
        // With more due and the pacer holding it back, look again as soon as it may allow more.
        auto wait =
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.poll_interval);
        if (more_due_ && recheck_ != std::chrono::steady_clock::time_point::max()) {
            wait = std::clamp(recheck_ - std::chrono::steady_clock::now(),
                              std::chrono::steady_clock::duration::zero(),
                              wait);
        }
        wake_timer_.expires_after(wait);
        co_await wake_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    wake_pending_ = false;
}

void Dispatcher::start_delivery(store::ClaimedEntry entry) {
    const core::UnixMs started_at = options_.clock();
    const auto started = std::chrono::steady_clock::now();
    if (entry.taken_over) {
        observe::warn("lease taken over", {{"notification_id", entry.id}});
        metrics_.count_leases_taken_over(1);
    }

    std::shared_ptr<OutboundMessage> outbound;
    try {
        auto payload = read_payload(entry.payload);
        if (!payload) {
            SendResult unreadable;
            unreadable.outcome = AttemptOutcome::permanent;
            unreadable.detail = fmt::format("unreadable payload: {}", payload.error());
            on_sent(std::move(entry), std::move(unreadable), started_at, started);
            return;
        }
        mail::Message& message = payload->message;
        if (message.message_id.empty()) {
            message.message_id = entry.message_id;
        }
        outbound = std::make_shared<OutboundMessage>();
        outbound->notification_id = entry.id;
        outbound->attempt = entry.attempts + 1;
        outbound->mime = mail::compose(message);
        outbound->message = std::move(message);
        outbound->tags = std::move(payload->tags);
        outbound->metadata = std::move(payload->metadata);
        outbound->timeout = options_.attempt_timeout;
        observe::Span span = start_attempt_span(entry, transport_.name());
        outbound->traceparent = observe::format_traceparent(span.context());
        outbound->tracestate = span.context().trace_state;
        attempt_spans_.insert_or_assign(entry.id, std::move(span));
    } catch (const std::exception& e) {
        // A bug or memory exhaustion: retry under backoff rather than lose the notification.
        SendResult failed;
        failed.outcome = AttemptOutcome::transient;
        failed.detail = fmt::format("internal error: {}", e.what());
        on_sent(std::move(entry), std::move(failed), started_at, started);
        return;
    }

    transport_.send(std::move(outbound),
                    [this, gate = gate_, entry, started_at, started](SendResult result) mutable {
                        gate->post([this,
                                    entry = std::move(entry),
                                    result = std::move(result),
                                    started_at,
                                    started]() mutable {
                            on_sent(std::move(entry), std::move(result), started_at, started);
                        });
                    });
}

void Dispatcher::on_sent(store::ClaimedEntry entry,
                         SendResult result,
                         core::UnixMs started_at,
                         std::chrono::steady_clock::time_point started) {
    if (closed_) {
        return;  // abandoned at the end of the drain; the entry's lease was released
    }
    const auto now = std::chrono::steady_clock::now();
    const PacingChange change = pacer_.on_result(result, now - started, now);
    if (change != PacingChange::none) {
        note_pacing_change(change, result, now);
    }
    publish_pacing(now);
    std::string id = entry.id;
    asio::co_spawn(io_,
                   record(std::move(entry), std::move(result), started_at, started),
                   [this, id = std::move(id)](std::exception_ptr error) {
                       if (!error) {
                           return;
                       }
                       observe::error("recording an attempt failed", {{"notification_id", id}});
                       release_slot(id);
                   });
}

asio::awaitable<void> Dispatcher::record(store::ClaimedEntry entry,
                                         SendResult result,
                                         core::UnixMs started_at,
                                         std::chrono::steady_clock::time_point started) {
    const int attempt = entry.attempts + 1;
    const core::UnixMs now = options_.clock();
    // Throttled attempts, and those before a retry by hand, do not count towards max_attempts.
    NextStep step = next_step(result,
                              attempt - entry.uncounted_attempts,
                              options_.max_attempts,
                              policy_,
                              now,
                              options_.random);
    if (result.outcome == AttemptOutcome::throttled) {
        // Due again when the transport's pause ends (the rate then spreads the backlog out).
        const auto pause = pacer_.paused_until() - std::chrono::steady_clock::now();
        if (pause > std::chrono::steady_clock::duration::zero()) {
            step.due_at =
                std::max(step.due_at, now + std::chrono::ceil<milliseconds>(pause).count());
        }
    }

    store::AttemptRecord record;
    record.id = entry.id;
    record.lease_token = entry.lease_token;
    record.started_at = started_at;
    record.finished_at = now;
    record.outcome = std::string(to_string(result.outcome));
    record.detail = step.detail;
    record.next_status = step.status;
    record.next_due_at = step.due_at;

    observe::Span span;
    if (auto found = attempt_spans_.find(entry.id); found != attempt_spans_.end()) {
        span = std::move(found->second);
        attempt_spans_.erase(found);
    }
    span.set("herald.outcome", std::string{to_string(result.outcome)});
    if (result.status_code != 0) {
        span.set("http.response.status_code", static_cast<std::int64_t>(result.status_code));
    }
    if (result.outcome != AttemptOutcome::sent) {
        span.set_error(step.detail);
    }
    span.end();
    metrics_.observe_provider_latency(transport_.name(),
                                      std::chrono::steady_clock::now() - started);
    observe::info("delivery attempt",
                  {{"notification_id", entry.id},
                   {"trace_id", span.context().trace_id_hex()},
                   {"span_id", span.context().span_id_hex()},
                   {"attempt", attempt},
                   {"outcome", to_string(result.outcome)},
                   {"status_code", result.status_code},
                   {"duration_ms", elapsed_ms(started)},
                   {"transport", transport_.name()},
                   {"next_status", store::to_string(step.status)},
                   {"detail", step.detail}});
    metrics_.count_attempt(transport_.name(), to_string(result.outcome));
    const bool recorded = co_await record_until_taken(std::move(record));
    const bool final = step.status == store::Status::sent || step.status == store::Status::failed;
    if (recorded && step.status == store::Status::failed) {
        metrics_.count_failed();
    }
    if (recorded && final && options_.outcomes != nullptr) {
        options_.outcomes->publish(entry.id, step.status);
    }
    release_slot(entry.id);
}

// Writes the outcome, trying again while the store cannot take it: an outcome dropped here would
// leave the entry leased, to be sent a second time once the lease expires. Gives up only when
// the entry is no longer ours (stale_lease, not_found) or the drain is over (closed_: the lease
// is released, and the entry is sent again later with the same idempotency key).
asio::awaitable<bool> Dispatcher::record_until_taken(store::AttemptRecord record) {
    using Recorded = boost::system::result<void>;
    milliseconds delay = options_.record_retry_base;
    for (int tries = 1;; ++tries) {
        record.lease_token = current_lease_token(record.id, record.lease_token);
        ++store_ops_;
        Recorded recorded =
            co_await core::await_call<Recorded>(store_, &store::Store::record_attempt, record);
        --store_ops_;

        if (!recorded && recorded.error() == store::StoreError::stale_lease &&
            current_lease_token(record.id, record.lease_token) != record.lease_token) {
            // Our own claim renewed the lease while this record was on its way: try again under
            // the new token at once. (The store runs writes in order and its callbacks resume us
            // in that order, so the renewal has been seen here before this refusal arrives.)
            continue;
        }
        if (recorded) {
            if (tries > 1) {
                observe::info("attempt recorded",
                              {{"notification_id", record.id}, {"tries", tries}});
            }
            co_return true;
        }
        const boost::system::error_code error = recorded.error();
        if (error == store::StoreError::stale_lease || error == store::StoreError::not_found) {
            observe::warn(
                error == store::StoreError::stale_lease ? "lease lost" : "attempt not recorded",
                {{"notification_id", record.id}, {"error", error.message()}});
            co_return false;
        }
        if (tries == 1 && !closed_) {
            observe::warn("attempt not recorded yet",
                          {{"notification_id", record.id}, {"error", error.message()}});
        }
        if (!closed_) {
            co_await pause(delay);
            delay = std::min(delay * 2, options_.record_retry_max);
        }
        if (closed_) {
            observe::warn("attempt not recorded",
                          {{"notification_id", record.id},
                           {"error", error.message()},
                           {"tries", tries},
                           {"reason", "stopped; the lease was released"}});
            co_return false;
        }
    }
}

std::int64_t Dispatcher::current_lease_token(const std::string& id, std::int64_t fallback) const {
    const auto held = lease_tokens_.find(id);
    return held == lease_tokens_.end() ? fallback : held->second;
}

// Waits `delay`, or less when the drain ends (close_io and drain_and_release cancel the timer).
asio::awaitable<void> Dispatcher::pause(milliseconds delay) {
    asio::steady_timer timer(io_, delay);
    retry_timers_.insert(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    retry_timers_.erase(&timer);
}

void Dispatcher::note_pacing_change(PacingChange change,
                                    const SendResult& result,
                                    std::chrono::steady_clock::time_point now) {
    const std::string_view transport = transport_.name();
    if (change == PacingChange::paused) {
        metrics_.count_pause(transport);
        const auto until = pacer_.paused_until() - now;
        observe::warn(to_string(change),
                      {{"transport", transport},
                       {"status_code", result.status_code},
                       {"pause_ms", std::chrono::ceil<milliseconds>(until).count()},
                       // Whether the provider's Retry-After set the pause ("0" does not).
                       {"retry_after", result.retry_after && result.retry_after->count() > 0}});
        return;
    }
    if (change == PacingChange::breaker_opened) {
        metrics_.count_breaker_opened(transport);
    }
    observe::warn(to_string(change), {{"transport", transport}, {"detail", result.detail}});
}

void Dispatcher::release_slot(const std::string& id) {
    lease_tokens_.erase(id);
    --in_flight_;
    if (saturated_) {
        saturated_ = false;
        wake_pending_ = true;
        wake_timer_.cancel();
    }
    if (stopping_) {
        drain_timer_.cancel();
    }
}

asio::awaitable<void> Dispatcher::drain_and_release() {
    const auto deadline = std::chrono::steady_clock::now() + drain_;
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
        drain_timer_.expires_at(deadline);
        co_await drain_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    closed_ = true;  // results arriving from now on are ignored, records are no longer retried
    for (asio::steady_timer* timer : retry_timers_) {
        timer->cancel();
    }
    if (in_flight_ > 0) {
        observe::warn("drain timed out", {{"abandoned", in_flight_}});
    }

    using Released = boost::system::result<int>;
    ++store_ops_;
    Released released =
        co_await core::await_call<Released>(store_, &store::Store::release_leases, options_.owner);
    --store_ops_;
    if (released) {
        observe::info("leases released", {{"owner", options_.owner}, {"count", *released}});
    } else {
        observe::warn("releasing leases failed", {{"error", released.error().message()}});
    }

    // Records still being written must get their callback before the io_context goes away.
    while (store_ops_ > 0) {
        drain_timer_.expires_after(milliseconds{50});
        co_await drain_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    close_io();
}

}  // namespace herald::delivery
