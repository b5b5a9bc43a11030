#include "delivery/pacer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace herald::delivery {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Successes per sample of the fastest answer: the baseline follows a provider that became
// slower for good after at most this many answers.
constexpr int kLatencySample = 100;
// Tokens are summed from fractions (ten first attempts earn 10 × 0.1): a rounding error must not
// withhold a whole token.
constexpr double kEpsilon = 1e-9;

int whole(double tokens) {
    return static_cast<int>(std::floor(tokens + kEpsilon));
}

// A failed probe doubles the open time, up to this many times.
constexpr int kMaxOpenDoublings = 3;

bool is_failure(AttemptOutcome outcome) {
    return outcome == AttemptOutcome::transient || outcome == AttemptOutcome::ambiguous;
}

PacingOptions with_defaults(PacingOptions options) {
    options.max_concurrency = std::max(options.max_concurrency, 1);
    options.min_concurrency = std::clamp(options.min_concurrency, 1, options.max_concurrency);
    options.burst = std::max(options.burst, 1);
    options.rate_per_s = std::max(options.rate_per_s, 0.0);
    options.decrease_factor = std::clamp(options.decrease_factor, 0.1, 1.0);
    options.breaker_window = std::max(options.breaker_window, 1);
    options.breaker_failure_percent = std::clamp(options.breaker_failure_percent, 1, 101);
    options.retry_percent = std::clamp(options.retry_percent, 0, 100);
    options.retry_floor_per_s = std::max(options.retry_floor_per_s, 0.0);
    options.retry_burst = std::max(options.retry_burst, 1);
    options.throttle_pause = std::max(options.throttle_pause, milliseconds{1});
    options.throttle_pause_max = std::max(options.throttle_pause_max, options.throttle_pause);
    return options;
}

}  // namespace

std::string_view to_string(PacingChange change) {
    switch (change) {
        case PacingChange::none:
            return "";
        case PacingChange::paused:
            return "delivery paused";
        case PacingChange::breaker_opened:
            return "breaker opened";
        case PacingChange::breaker_reopened:
            return "breaker reopened";
        case PacingChange::breaker_closed:
            return "breaker closed";
    }
    return "";
}

std::string_view to_string(BreakerState state) {
    switch (state) {
        case BreakerState::closed:
            return "closed";
        case BreakerState::half_open:
            return "half_open";
        case BreakerState::open:
            return "open";
    }
    return "closed";
}

Pacer::Pacer(PacingOptions options, UniformRandom random, Clock::time_point now)
    : options_(with_defaults(options)),
      random_(std::move(random)),
      tokens_(options_.burst),
      retry_tokens_(options_.retry_burst),
      refilled_(now),
      limit_(options_.max_concurrency) {}

void Pacer::refill(Clock::time_point now) {
    if (now <= refilled_) {
        return;
    }
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    if (learned_rate_ > 0 && now - last_throttle_ > options_.learned_rate_memory) {
        learned_rate_ = 0;  // no throttle for long: the provider's limit may have moved
    }
    tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * rate());
    retry_tokens_ = std::min<double>(options_.retry_burst,
                                     retry_tokens_ + elapsed * options_.retry_floor_per_s);
}

BreakerState Pacer::breaker_state(Clock::time_point now) const {
    if (!open_) {
        return BreakerState::closed;
    }
    return now < open_until_ ? BreakerState::open : BreakerState::half_open;
}

Allowance Pacer::allowance(int in_flight, Clock::time_point now) {
    refill(now);
    Allowance allowance;
    if (now < paused_until_) {
        allowance.recheck = paused_until_;
        return allowance;
    }
    int sends = std::numeric_limits<int>::max();
    if (after_pause_) {
        if (pause_probe_) {
            return allowance;  // its answer decides
        }
        sends = 1;
    }
    switch (breaker_state(now)) {
        case BreakerState::open:
            allowance.recheck = open_until_;
            return allowance;
        case BreakerState::half_open:
            if (probing_) {
                return allowance;  // the probe's outcome decides
            }
            sends = std::min(sends, 1);
            break;
        case BreakerState::closed:
            break;
    }
    const int limit = options_.adaptive ? static_cast<int>(limit_) : options_.max_concurrency;
    sends = std::min(sends, limit - in_flight);
    if (sends <= 0) {
        return allowance;  // a send ending frees a slot
    }
    if (rate() > 0) {
        const int tokens = whole(tokens_);
        if (tokens < 1) {
            // Cut to an hour, so that no rate, however small, overflows the clock's duration.
            const double wait_s = std::min((1.0 - tokens_) / rate(), 3600.0);
            allowance.recheck =
                now +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s)) +
                std::chrono::microseconds{100};
            return allowance;
        }
        sends = std::min(sends, tokens);
    }
    allowance.sends = sends;
    allowance.retries = std::min(sends, whole(retry_tokens_));
    return allowance;
}

void Pacer::on_start(bool retry, Clock::time_point now) {
    refill(now);
    if (rate() > 0) {
        tokens_ = std::max(0.0, tokens_ - 1.0);
    }
    if (options_.rate_per_s <= 0 && options_.learn_rate) {
        recent_starts_.push_back(now);
        while (!recent_starts_.empty() && now - recent_starts_.front() > std::chrono::seconds{1}) {
            recent_starts_.pop_front();
        }
    }
    if (retry) {
        retry_tokens_ = std::max(0.0, retry_tokens_ - 1.0);
    } else {
        retry_tokens_ =
            std::min<double>(options_.retry_burst, retry_tokens_ + options_.retry_percent / 100.0);
    }
    if (breaker_state(now) == BreakerState::half_open) {
        probing_ = true;
    }
    if (after_pause_) {
        pause_probe_ = true;
    }
}

void Pacer::decrease(Clock::time_point started, Clock::time_point now) {
    // Sends already in flight when the limit last came down were part of that signal.
    if (started < last_decrease_) {
        return;
    }
    last_decrease_ = now;
    limit_ = std::max<double>(options_.min_concurrency, limit_ * options_.decrease_factor);
}

void Pacer::observe_latency(nanoseconds latency, Clock::time_point now) {
    if (sample_count_ == 0 || latency < sample_fastest_) {
        sample_fastest_ = latency;
    }
    if (++sample_count_ >= kLatencySample) {
        fastest_ = sample_fastest_;
        sample_count_ = 0;
    }
    const nanoseconds baseline =
        fastest_.count() > 0 ? std::min(fastest_, sample_fastest_) : sample_fastest_;
    const bool slow = options_.latency_tolerance > 0 &&
                      latency > baseline * options_.latency_tolerance &&
                      latency > baseline + options_.latency_slack;
    if (slow) {
        decrease(now - latency, now);
        return;
    }
    limit_ = std::min<double>(options_.max_concurrency, limit_ + 1.0 / limit_);
}

PacingChange Pacer::count_failure(bool failed, Clock::time_point now) {
    const BreakerState before = breaker_state(now);
    if (before != BreakerState::closed) {
        // Only the probe's outcome counts while open; a late answer of an earlier send does not.
        if (!probing_) {
            return PacingChange::none;
        }
        probing_ = false;
        if (failed) {
            failed_probes_ = std::min(failed_probes_ + 1, kMaxOpenDoublings);
            open_until_ = now + options_.breaker_open * (1 << failed_probes_);
            return PacingChange::breaker_reopened;
        }
        open_ = false;
        failed_probes_ = 0;
        failures_in_a_row_ = 0;
        window_.clear();
        window_failures_ = 0;
        return PacingChange::breaker_closed;
    }

    failures_in_a_row_ = failed ? failures_in_a_row_ + 1 : 0;
    window_.push_back(failed);
    window_failures_ += failed ? 1 : 0;
    if (static_cast<int>(window_.size()) > options_.breaker_window) {
        window_failures_ -= window_.front() ? 1 : 0;
        window_.pop_front();
    }
    if (options_.breaker_failures <= 0 || !failed) {
        return PacingChange::none;
    }
    const bool in_a_row = failures_in_a_row_ >= options_.breaker_failures;
    const bool by_ratio = static_cast<int>(window_.size()) >= options_.breaker_window &&
                          window_failures_ * 100 >=
                              options_.breaker_failure_percent * static_cast<int>(window_.size());
    if (!in_a_row && !by_ratio) {
        return PacingChange::none;
    }
    open_ = true;
    probing_ = false;
    open_until_ = now + options_.breaker_open;
    return PacingChange::breaker_opened;
}

void Pacer::learn_from_throttle(Clock::time_point started, Clock::time_point now) {
    if (options_.rate_per_s > 0 || !options_.learn_rate) {
        return;
    }
    last_throttle_ = now;
    // The least a learned rate falls to: one send every ten seconds still finds out when the
    // provider is back.
    constexpr double kFloor = 0.1;
    if (learned_rate_ <= 0) {
        while (!recent_starts_.empty() && now - recent_starts_.front() > std::chrono::seconds{1}) {
            recent_starts_.pop_front();
        }
        learned_rate_ = std::max(kFloor, 0.75 * static_cast<double>(recent_starts_.size()));
        rate_decreased_ = now;
        tokens_ = std::min(tokens_, 1.0);
        return;
    }
    if (started < rate_decreased_) {
        return;  // sent at the old rate: that rate has been lowered already
    }
    learned_rate_ = std::max(kFloor, learned_rate_ * 0.75);
    rate_decreased_ = now;
}

PacingChange Pacer::on_result(const SendResult& result,
                              nanoseconds latency,
                              Clock::time_point now) {
    refill(now);
    const Clock::time_point started = now - latency;
    // Any answer ends the probe after a pause; one that is not a throttle ends the pause's
    // aftermath too.
    pause_probe_ = false;
    if (result.outcome == AttemptOutcome::throttled) {
        after_pause_ = true;
        learn_from_throttle(started, now);
        if (probing_) {
            probing_ = false;  // a throttled probe leaves the breaker half-open for the next one
        }
        if (options_.adaptive) {
            decrease(started, now);
        }
        ++throttles_in_a_row_;
        milliseconds pause{0};
        // "Retry-After: 0" asks for nothing; it gets the default pause like no header at all.
        if (result.retry_after && result.retry_after->count() > 0) {
            pause = std::min(*result.retry_after, options_.retry_after_max);
        } else {
            BackoffPolicy policy;
            policy.base = options_.throttle_pause;
            policy.max = options_.throttle_pause_max;
            const milliseconds ceiling = backoff_ceiling(throttles_in_a_row_, policy);
            // Full jitter, but never shorter than a tenth of the ceiling: a pause of nothing
            // would be no pause at all.
            pause = milliseconds{random_(ceiling.count() / 10, ceiling.count())};
        }
        const Clock::time_point until = now + pause;
        const bool began = paused_until_ <= now;
        paused_until_ = std::max(paused_until_, until);
        return began ? PacingChange::paused : PacingChange::none;
    }
    throttles_in_a_row_ = 0;
    after_pause_ = false;
    const bool accepted =
        result.outcome == AttemptOutcome::sent || result.outcome == AttemptOutcome::permanent;
    if (learned_rate_ > 0 && accepted) {
        learned_rate_ += 0.02;  // the provider took it without a throttle: try a little faster
    }
    const bool failed = is_failure(result.outcome);
    if (options_.adaptive) {
        if (failed) {
            decrease(started, now);
        } else if (result.outcome == AttemptOutcome::sent) {
            observe_latency(latency, now);
        }
    }
    return count_failure(failed, now);
}

PacingLevels Pacer::levels(Clock::time_point now) const {
    PacingLevels levels;
    levels.rate_per_s = rate();
    levels.concurrency_limit =
        options_.adaptive ? std::floor(limit_) : static_cast<double>(options_.max_concurrency);
    levels.breaker = breaker_state(now);
    levels.retry_budget = retry_tokens_;
    levels.paused = now < paused_until_;
    return levels;
}

}  // namespace herald::delivery
