#pragma once

#include "delivery/backoff.hpp"
#include "delivery/transport.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

namespace herald::delivery {

// How fast and how hard one transport may push its provider. Every figure has a value that
// switches its mechanism off, so a local maildir can run unpaced.
struct PacingOptions {
    // Token bucket: at most `rate_per_s` sends start per second on average, at most `burst` at
    // once after a quiet spell. 0: no rate limit configured — then, with `learn_rate`, the first
    // throttle sets one: three quarters of the sends started in the second before it; each later
    // throttle (of a send started after the previous decrease) takes a quarter off, and every
    // accepted send adds 0.02/s (about 2 % a second at any rate), so the rate settles just under
    // what the provider allows. A learned rate is forgotten after `learned_rate_memory` without a
    // throttle (a single early 429 must not hold a later burst to a crawl).
    double rate_per_s = 0;
    int burst = 5;
    bool learn_rate = true;
    std::chrono::milliseconds learned_rate_memory{60000};

    // Adaptive concurrency (AIMD): the limit of sends in flight starts at max_concurrency, grows
    // by 1/limit with every send the provider answered promptly, and is multiplied by
    // `decrease_factor` when the provider throttles, times out, fails with a server error, or
    // answers slower than `latency_tolerance` times the fastest recent answer and by more than
    // `latency_slack` (so the jitter of a local disk never counts) — once for all the sends that
    // were in flight at the previous decrease, so a window of failures lowers it once. Never
    // below min_concurrency.
    int max_concurrency = 16;
    int min_concurrency = 1;
    double decrease_factor = 0.5;
    double latency_tolerance = 2.0;  // 0: latency does not lower the limit
    std::chrono::milliseconds latency_slack{50};
    bool adaptive = true;  // false: the limit stays at max_concurrency

    // Circuit breaker: opens after `breaker_failures` consecutive failed sends, or when at least
    // `breaker_failure_percent` of the last `breaker_window` sends failed (with the window
    // full); stays open `breaker_open` (doubling for each failed probe, up to 8 times), then lets
    // one probe through (half-open): its success closes the breaker. Failures are transient and
    // ambiguous outcomes; throttling pauses instead (below) and a permanent refusal is a healthy
    // provider's answer. breaker_failures 0: no breaker.
    int breaker_failures = 5;
    int breaker_failure_percent = 50;
    int breaker_window = 20;
    std::chrono::milliseconds breaker_open{30000};

    // Retry budget: retries (sends of a notification tried before) may spend one token each; a
    // first attempt earns `retry_percent`/100 of a token and the budget also refills by
    // `retry_floor_per_s` a second, never holding more than `retry_burst`. With the budget spent
    // only first attempts are sent. retry_percent 100 and a large floor: no budget.
    int retry_percent = 10;
    double retry_floor_per_s = 1;
    int retry_burst = 10;

    // A throttled send (429, 503, SMTP 421) pauses every send of the transport: until the
    // provider's Retry-After (cut to retry_after_max), or without one for a jittered draw
    // (between a tenth of the ceiling and the ceiling) under throttle_pause doubling with each
    // throttle in a row, up to throttle_pause_max. When the pause ends one send goes first, alone;
    // only an answer that is not a throttle lets the others follow (at the rate).
    std::chrono::milliseconds throttle_pause{1000};
    std::chrono::milliseconds throttle_pause_max{30000};
    std::chrono::milliseconds retry_after_max{3600000};
};

enum class BreakerState { closed = 0, half_open = 1, open = 2 };
std::string_view to_string(BreakerState state);

// What a send's outcome changed in the pacer, for the log and the counters.
enum class PacingChange { none, paused, breaker_opened, breaker_reopened, breaker_closed };
// "delivery paused", "breaker opened", …: the log line's message ("" for none).
std::string_view to_string(PacingChange change);

// What may start now. `sends` new sends, of which at most `retries` retries; when `sends` is 0,
// `recheck` says when asking again may give more (time_point::max(): only when a send ends).
struct Allowance {
    int sends = 0;
    int retries = 0;
    std::chrono::steady_clock::time_point recheck = std::chrono::steady_clock::time_point::max();
};

// The pacer's state, for metrics and logs.
struct PacingLevels {
    double rate_per_s = 0;  // the rate in force, configured or learned; 0: none
    double concurrency_limit = 0;
    BreakerState breaker = BreakerState::closed;
    double retry_budget = 0;
    bool paused = false;
};

// Decides when a transport's sends may start, from what its earlier sends told it. One per
// dispatcher; not thread-safe (the dispatcher's thread only). Time is passed in, so tests drive
// it with a fake clock; `random` draws the jitter of throttle pauses.
//
// The dispatcher asks allowance() before claiming, calls on_start() for each send it starts and
// on_result() with each outcome. A state change of the breaker or of the pause is returned by
// on_result().
class Pacer {
public:
    using Clock = std::chrono::steady_clock;

    Pacer(PacingOptions options, UniformRandom random, Clock::time_point now);

    Allowance allowance(int in_flight, Clock::time_point now);
    void on_start(bool retry, Clock::time_point now);
    PacingChange on_result(const SendResult& result,
                           std::chrono::nanoseconds latency,
                           Clock::time_point now);

    // The end of the current throttle pause (a past time when there is none).
    Clock::time_point paused_until() const { return paused_until_; }
    PacingLevels levels(Clock::time_point now) const;
    const PacingOptions& options() const { return options_; }

private:
    void refill(Clock::time_point now);
    double rate() const { return options_.rate_per_s > 0 ? options_.rate_per_s : learned_rate_; }
    void learn_from_throttle(Clock::time_point started, Clock::time_point now);
    void decrease(Clock::time_point started, Clock::time_point now);
    void observe_latency(std::chrono::nanoseconds latency, Clock::time_point now);
    PacingChange count_failure(bool failed, Clock::time_point now);
    BreakerState breaker_state(Clock::time_point now) const;

    PacingOptions options_;
    UniformRandom random_;

    double tokens_ = 0;
    double learned_rate_ = 0;             // 0 until a throttle teaches one (rate_per_s 0 only)
    Clock::time_point rate_decreased_{};  // when the learned rate last came down
    Clock::time_point last_throttle_{};
    std::deque<Clock::time_point> recent_starts_;  // sends started in the last second
    double retry_tokens_ = 0;
    Clock::time_point refilled_;

    double limit_ = 1;
    Clock::time_point last_decrease_{};
    std::chrono::nanoseconds fastest_{0};  // the fastest answer of the current sample
    std::chrono::nanoseconds sample_fastest_{0};
    int sample_count_ = 0;

    Clock::time_point paused_until_{};
    int throttles_in_a_row_ = 0;
    bool after_pause_ = false;  // a pause ended: one send tests the provider before the rest
    bool pause_probe_ = false;  // that send is in flight

    bool open_ = false;
    bool probing_ = false;  // half-open: the probe is in flight
    Clock::time_point open_until_{};
    int failed_probes_ = 0;
    int failures_in_a_row_ = 0;
    std::deque<bool> window_;  // the last breaker_window outcomes, true = failed
    int window_failures_ = 0;
};

}  // namespace herald::delivery
