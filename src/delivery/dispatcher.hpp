#pragma once

#include "core/time.hpp"
#include "delivery/backoff.hpp"
#include "delivery/outcome_board.hpp"
#include "delivery/pacer.hpp"
#include "delivery/transport.hpp"
#include "observe/metrics.hpp"
#include "observe/trace.hpp"
#include "store/store.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace herald::delivery {

struct DispatcherOptions {
    std::string owner;     // names this dispatcher's leases in the store; unique per instance
    int concurrency = 16;  // the most sends in flight at once (at least 1)
    int max_attempts = 8;  // a notification fails after this many transient/ambiguous attempts
    std::chrono::milliseconds backoff_base{1000};
    std::chrono::milliseconds backoff_max{300000};
    std::chrono::milliseconds retry_after_max{3600000};  // cap on a provider's Retry-After
    // Rate, adaptive concurrency, breaker, retry budget and throttle pauses of the transport's
    // sends. Its max_concurrency and retry_after_max are taken from the fields above.
    PacingOptions pacing;
    std::chrono::milliseconds attempt_timeout{30000};  // each send's deadline
    // How long a claim is leased. Raised to attempt_timeout + 5 s when shorter, so a lease never
    // expires under a send that is still within its deadline.
    std::chrono::milliseconds lease{60000};
    std::chrono::milliseconds poll_interval{500};  // how often to look for due entries unwoken
    // A record the store could not take (see Dispatcher) is tried again after this, the delay
    // doubling up to record_retry_max.
    std::chrono::milliseconds record_retry_base{100};
    std::chrono::milliseconds record_retry_max{5000};

    // Told of every final outcome this dispatcher records (for requests waiting on delivery).
    OutcomeBoard* outcomes = nullptr;
    observe::Metrics* metrics = nullptr;  // null: counted nowhere

    std::function<core::UnixMs()> clock;  // empty: core::unix_now_ms
    UniformRandom random;                 // empty: a std::mt19937_64 seeded from random_device
};

// What becomes of a notification after one attempt (pure, for tests and for the dispatcher).
struct NextStep {
    store::Status status = store::Status::sent;  // sent, failed or retrying
    core::UnixMs due_at = 0;                     // when retrying: the next attempt's time
    std::string detail;
};

// sent → sent; permanent → failed; throttled → retrying at now + the provider's Retry-After (cut
// to policy.retry_after_max; now without one: the transport's pause decides), never failed;
// transient or ambiguous → retrying at now + retry_delay(), or failed ("gave up after N
// attempts: …") once `attempt` reaches `max_attempts`. `attempt` counts this attempt and the
// earlier ones that were not throttled.
NextStep next_step(const SendResult& result,
                   int attempt,
                   int max_attempts,
                   const BackoffPolicy& policy,
                   core::UnixMs now,
                   const UniformRandom& random);

// Moves notifications from the outbox to the transport and records each attempt.
//
// Pacing: before each claim the dispatcher asks its Pacer how many sends may start (rate,
// adaptive concurrency, breaker, throttle pause) and how many of them may be retries (the retry
// budget); it claims no more than that, so entries it may not send yet stay in the outbox,
// unleased. A throttled attempt pauses the whole transport; the notification is due again when
// the pause ends and the rate then spreads the backlog out.
//
// Threads: one thread of its own running an io_context (not an HTTP I/O thread). Everything the
// dispatcher decides happens there; store and transport callbacks hop onto it. The loop claims
// due entries (up to the free send slots) under a lease, sends each through the transport, and
// records the outcome with the entry's fencing token. It claims again at once when woken (wake())
// or when a send frees a slot that a full claim was waiting for, and otherwise every
// poll_interval. A payload that cannot be read fails the notification (permanent).
//
// Traces (W3C context stored with the notification at intake): the first attempt gets an
// "outbox wait" span from the notification's creation to its claim, and every attempt a
// "delivery attempt" span (kind client) whose context the transport sends on (traceparent).
//
// Logs one "delivery attempt" line per attempt and "lease taken over" for entries whose previous
// owner's lease expired. A record refused as stale_lease (another owner took the entry) or
// not_found is logged and dropped.
//
// An outcome is never dropped for any other failure (overloaded, unavailable, shutting_down…):
// dropping it would leave the entry leased, and it would be sent again when the lease expired.
// The record is tried again after record_retry_base, doubling up to record_retry_max, for as
// long as the dispatcher runs; the entry stays in flight meanwhile (its send slot stays taken).
// Should the lease expire during that time and a claim of this dispatcher return the same entry,
// it is not sent again: the pending record adopts the new lease token instead.
//
// Lifetime: `store` and `transport` must outlive the dispatcher. start() once; stop() stops
// claiming, waits up to `drain` for sends in flight to finish and be recorded (records the store
// refuses keep being retried during the drain), then gives back the leases still held
// (Store::release_leases) and joins. Sends still running and records still unwritten after the
// drain are abandoned: late results are ignored, and their entries, released, are sent again
// later with the same idempotency key. The destructor calls stop(0ms).
class Dispatcher {
public:
    Dispatcher(store::Store& store, Transport& transport, DispatcherOptions options);
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    void start();
    // Thread-safe; cheap. Makes the dispatcher claim now instead of at the next poll.
    void wake();
    // Thread-safe and idempotent; must not be called from a store or transport callback.
    void stop(std::chrono::milliseconds drain);

private:
    struct Gate;

    boost::asio::awaitable<void> run_loop();
    boost::asio::awaitable<void> claim_and_start(int limit, int retries);
    void publish_pacing(std::chrono::steady_clock::time_point now);
    void note_pacing_change(PacingChange change,
                            const SendResult& result,
                            std::chrono::steady_clock::time_point now);
    boost::asio::awaitable<void> wait_for_work();
    boost::asio::awaitable<void> drain_and_release();
    void start_delivery(store::ClaimedEntry entry);
    void on_sent(store::ClaimedEntry entry,
                 SendResult result,
                 core::UnixMs started_at,
                 std::chrono::steady_clock::time_point started);
    boost::asio::awaitable<void> record(store::ClaimedEntry entry,
                                        SendResult result,
                                        core::UnixMs started_at,
                                        std::chrono::steady_clock::time_point started);
    // True once the store took the record; false when it was given up (see above).
    boost::asio::awaitable<bool> record_until_taken(store::AttemptRecord record);
    boost::asio::awaitable<void> pause(std::chrono::milliseconds delay);
    std::int64_t current_lease_token(const std::string& id, std::int64_t fallback) const;
    void release_slot(const std::string& id);
    void begin_stop(std::chrono::milliseconds drain);
    void close_io();

    store::Store& store_;
    Transport& transport_;
    const DispatcherOptions options_;
    const BackoffPolicy policy_;
    const std::chrono::milliseconds lease_;
    observe::Metrics& metrics_;
    Pacer pacer_;  // io_ thread only

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::shared_ptr<Gate> gate_;  // how foreign threads reach io_ while it is open

    // io_ thread only:
    boost::asio::steady_timer wake_timer_;
    boost::asio::steady_timer drain_timer_;
    int in_flight_ = 0;  // claimed entries not yet recorded
    // The newest lease token of each entry in flight, by notification id.
    std::unordered_map<std::string, std::int64_t> lease_tokens_;
    // The timers of records waiting to be tried again; cancelled when the drain ends.
    std::unordered_set<boost::asio::steady_timer*> retry_timers_;
    // The span of each attempt in flight, by notification id: started when the send is handed to
    // the transport, ended when its outcome is recorded (a child of the intake request's span).
    std::unordered_map<std::string, observe::Span> attempt_spans_;
    int store_ops_ = 0;  // store calls awaiting their callback
    bool wake_pending_ = false;
    bool claim_failing_ = false;  // the last claim failed: its warning was already logged
    bool saturated_ = false;  // sends are held by the concurrency limit: a freed slot should claim
    bool more_due_ = false;   // the last claim got all it asked for: more may be due
    // When the pacer may allow more sends (max: only when a send ends).
    std::chrono::steady_clock::time_point recheck_ = std::chrono::steady_clock::time_point::max();
    bool stopping_ = false;
    bool closed_ = false;  // past the drain: late results are ignored
    std::chrono::milliseconds drain_{0};

    std::atomic<bool> wake_posted_{false};  // a wake-up is queued and not yet run

    std::mutex stop_mutex_;
    bool started_ = false;  // guarded by stop_mutex_
    std::thread thread_;
};

}  // namespace herald::delivery
