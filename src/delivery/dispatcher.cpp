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

BackoffPolicy policy_of(const DispatcherOptions& options) {
    BackoffPolicy policy;
    policy.base = options.backoff_base;
    policy.max = options.backoff_max;
    policy.retry_after_max = options.retry_after_max;
    return policy;
}

boost::system::result<mail::Message, std::string> read_payload(const std::string& payload) {
    boost::system::error_code error;
    const boost::json::value json = boost::json::parse(payload, error);
    if (error) {
        return fmt::format("payload is not JSON: {}", error.message());
    }
    return mail::message_from_json(json);
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - since)
        .count();
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
    work_.reset();
}

asio::awaitable<void> Dispatcher::run_loop() {
    while (!stopping_) {
        const int free = options_.concurrency - in_flight_;
        if (free > 0) {
            co_await claim_and_start(free);
        }
        if (stopping_) {
            break;
        }
        co_await wait_for_work();
    }
    co_await drain_and_release();
}

asio::awaitable<void> Dispatcher::claim_and_start(int limit) {
    store::ClaimRequest request;
    request.owner = options_.owner;
    request.now = options_.clock();
    request.limit = limit;
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
    // Entries claimed while a stop was arriving stay leased; the drain releases them.
    if (stopping_) {
        co_return;
    }
    saturated_ = static_cast<int>(claimed->size()) >= limit;
    for (store::ClaimedEntry& entry : *claimed) {
        ++in_flight_;
        start_delivery(std::move(entry));
    }
}

asio::awaitable<void> Dispatcher::wait_for_work() {
    if (!wake_pending_) {
        wake_timer_.expires_after(options_.poll_interval);
        co_await wake_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    wake_pending_ = false;
}

void Dispatcher::start_delivery(store::ClaimedEntry entry) {
    const core::UnixMs started_at = options_.clock();
    const auto started = std::chrono::steady_clock::now();
    if (entry.taken_over) {
        observe::warn("lease taken over", {{"notification_id", entry.id}});
    }

    std::shared_ptr<OutboundMessage> outbound;
    try {
        auto message = read_payload(entry.payload);
        if (!message) {
            SendResult unreadable;
            unreadable.outcome = AttemptOutcome::permanent;
            unreadable.detail = fmt::format("unreadable payload: {}", message.error());
            on_sent(std::move(entry), std::move(unreadable), started_at, started);
            return;
        }
        if (message->message_id.empty()) {
            message->message_id = entry.message_id;
        }
        outbound = std::make_shared<OutboundMessage>();
        outbound->notification_id = entry.id;
        outbound->attempt = entry.attempts + 1;
        outbound->mime = mail::compose(*message);
        outbound->message = std::move(*message);
        outbound->timeout = options_.attempt_timeout;
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
    asio::co_spawn(io_,
                   record(std::move(entry), std::move(result), started_at, started),
                   [this](std::exception_ptr error) {
                       if (!error) {
                           return;
                       }
                       observe::error("recording an attempt failed", {});
                       release_slot();
                   });
}

asio::awaitable<void> Dispatcher::record(store::ClaimedEntry entry,
                                         SendResult result,
                                         core::UnixMs started_at,
                                         std::chrono::steady_clock::time_point started) {
    const int attempt = entry.attempts + 1;
    const core::UnixMs now = options_.clock();
    NextStep step =
        next_step(result, attempt, options_.max_attempts, policy_, now, options_.random);

    store::AttemptRecord record;
    record.id = entry.id;
    record.lease_token = entry.lease_token;
    record.started_at = started_at;
    record.finished_at = now;
    record.outcome = std::string(to_string(result.outcome));
    record.detail = step.detail;
    record.next_status = step.status;
    record.next_due_at = step.due_at;

    using Recorded = boost::system::result<void>;
    ++store_ops_;
    Recorded recorded = co_await core::await_call<Recorded>(
        store_, &store::Store::record_attempt, std::move(record));
    --store_ops_;

    observe::info("delivery attempt",
                  {{"notification_id", entry.id},
                   {"attempt", attempt},
                   {"outcome", to_string(result.outcome)},
                   {"status_code", result.status_code},
                   {"duration_ms", elapsed_ms(started)},
                   {"transport", transport_.name()},
                   {"next_status", store::to_string(step.status)},
                   {"detail", step.detail}});
    if (!recorded) {
        const bool stale = recorded.error() == store::StoreError::stale_lease;
        observe::warn(stale ? "lease lost" : "attempt not recorded",
                      {{"notification_id", entry.id}, {"error", recorded.error().message()}});
    }
    release_slot();
}

void Dispatcher::release_slot() {
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
    closed_ = true;  // results arriving from now on are ignored
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
