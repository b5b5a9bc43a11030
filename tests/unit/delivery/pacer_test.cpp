#include "delivery/pacer.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace herald::delivery {
namespace {

using std::chrono::milliseconds;
using Clock = Pacer::Clock;

// A fixed point on the steady clock that the tests move forward by hand.
const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours{1};

SendResult result_of(AttemptOutcome outcome, std::optional<milliseconds> retry_after = {}) {
    SendResult result;
    result.outcome = outcome;
    result.retry_after = retry_after;
    return result;
}

// Jitter pinned to the top of its range, so a pause's length is known.
std::int64_t highest(std::int64_t, std::int64_t high) {
    return high;
}

// Everything but the mechanism under test switched off.
PacingOptions quiet() {
    PacingOptions options;
    options.max_concurrency = 4;
    options.adaptive = false;
    options.learn_rate = false;
    options.breaker_failures = 0;
    options.retry_percent = 100;
    options.retry_floor_per_s = 1000;
    options.retry_burst = 1000;
    return options;
}

TEST(Pacer, RateLimitLetsTheBurstThroughThenOneSendPerInterval) {
    PacingOptions options = quiet();
    options.max_concurrency = 100;
    options.rate_per_s = 10;
    options.burst = 3;
    Pacer pacer(options, highest, kStart);

    Allowance first = pacer.allowance(0, kStart);
    ASSERT_EQ(first.sends, 3);
    for (int i = 0; i < 3; ++i) {
        pacer.on_start(false, kStart);
    }
    const Allowance empty = pacer.allowance(3, kStart);
    EXPECT_EQ(empty.sends, 0);
    // The next token is 100 ms away; the pacer says when to ask again.
    EXPECT_GE(empty.recheck, kStart + milliseconds{100});
    EXPECT_LE(empty.recheck, kStart + milliseconds{101});
    EXPECT_EQ(pacer.allowance(3, kStart + milliseconds{99}).sends, 0);
    EXPECT_EQ(pacer.allowance(3, kStart + milliseconds{100}).sends, 1);
}

TEST(Pacer, RateLimitNeverBanksMoreThanTheBurst) {
    PacingOptions options = quiet();
    options.max_concurrency = 100;
    options.rate_per_s = 10;
    options.burst = 2;
    Pacer pacer(options, highest, kStart);
    EXPECT_EQ(pacer.allowance(0, kStart + std::chrono::hours{1}).sends, 2);
}

TEST(Pacer, ATinyRateAsksAgainWithinTheHourInsteadOfOverflowing) {
    PacingOptions options = quiet();
    options.rate_per_s = 1e-12;
    options.burst = 1;
    Pacer pacer(options, highest, kStart);
    ASSERT_EQ(pacer.allowance(0, kStart).sends, 1);
    pacer.on_start(false, kStart);
    const Allowance empty = pacer.allowance(1, kStart);
    EXPECT_EQ(empty.sends, 0);
    EXPECT_GT(empty.recheck, kStart);
    EXPECT_LE(empty.recheck, kStart + std::chrono::hours{1} + milliseconds{1});
}

TEST(Pacer, WithoutARateTheFirstThrottleSetsThreeQuartersOfTheLastSecondsSends) {
    PacingOptions options = quiet();
    options.max_concurrency = 1000;
    options.learn_rate = true;
    Pacer pacer(options, highest, kStart);
    EXPECT_EQ(pacer.levels(kStart).rate_per_s, 0);
    for (int i = 0; i < 40; ++i) {
        pacer.on_start(false, kStart + milliseconds{i * 25});  // 40 in one second
    }
    const Clock::time_point throttled = kStart + milliseconds{1000};
    pacer.on_result(
        result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{5}, throttled);
    EXPECT_DOUBLE_EQ(pacer.levels(throttled).rate_per_s, 30);

    // A send made before that decrease does not lower it again; one made after it does.
    pacer.on_result(
        result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{50}, throttled);
    EXPECT_DOUBLE_EQ(pacer.levels(throttled).rate_per_s, 30);
    const Clock::time_point later = throttled + milliseconds{2000};
    pacer.on_result(
        result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{50}, later);
    EXPECT_DOUBLE_EQ(pacer.levels(later).rate_per_s, 22.5);

    // Every accepted send adds 0.02/s; a failure does not.
    pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{5}, later);
    pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{5}, later);
    EXPECT_DOUBLE_EQ(pacer.levels(later).rate_per_s, 22.52);
}

TEST(Pacer, ALearnedRateSpacesTheSendsAndIsForgottenWithoutThrottles) {
    PacingOptions options = quiet();
    options.max_concurrency = 1000;
    options.learn_rate = true;
    options.learned_rate_memory = milliseconds{60000};
    Pacer pacer(options, highest, kStart);
    for (int i = 0; i < 4; ++i) {
        pacer.on_start(false, kStart);
    }
    pacer.on_result(
        result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{5}, kStart);
    const Clock::time_point after = pacer.paused_until();
    ASSERT_EQ(pacer.allowance(0, after).sends, 1);  // the probe
    pacer.on_start(false, after);
    pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{5}, after);
    // Three sends a second learned: the second's tokens are what may go (the probe took one).
    const Allowance next = pacer.allowance(0, after);
    ASSERT_EQ(next.sends, 3);
    for (int i = 0; i < 3; ++i) {
        pacer.on_start(false, after);
    }
    const Allowance spent = pacer.allowance(0, after);
    EXPECT_EQ(spent.sends, 0);
    EXPECT_GE(spent.recheck, after + milliseconds{300});  // about a third of a second
    EXPECT_LE(spent.recheck, after + milliseconds{340});
    // A minute without a throttle: the learned rate is gone, sends are unlimited again.
    const Clock::time_point much_later = kStart + milliseconds{62000};
    EXPECT_EQ(pacer.allowance(0, much_later).sends, 1000);
    EXPECT_EQ(pacer.levels(much_later).rate_per_s, 0);
}

TEST(Pacer, AConfiguredRateIsNeverChangedByThrottling) {
    PacingOptions options = quiet();
    options.rate_per_s = 10;
    Pacer pacer(options, highest, kStart);
    pacer.on_result(
        result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{5}, kStart);
    EXPECT_DOUBLE_EQ(pacer.levels(kStart).rate_per_s, 10);
}

TEST(Pacer, SendsInFlightHoldBackNewOnesAtTheConcurrencyLimit) {
    Pacer pacer(quiet(), highest, kStart);
    EXPECT_EQ(pacer.allowance(0, kStart).sends, 4);
    const Allowance full = pacer.allowance(4, kStart);
    EXPECT_EQ(full.sends, 0);
    EXPECT_EQ(full.recheck, Clock::time_point::max());  // only a finished send frees a slot
}

TEST(Pacer, ThrottleWithRetryAfterPausesEverySendUntilThen) {
    Pacer pacer(quiet(), highest, kStart);
    pacer.on_start(false, kStart);
    EXPECT_EQ(
        pacer.on_result(
            result_of(AttemptOutcome::throttled, milliseconds{120000}), milliseconds{5}, kStart),
        PacingChange::paused);
    const Allowance paused = pacer.allowance(0, kStart + milliseconds{119999});
    EXPECT_EQ(paused.sends, 0);
    EXPECT_EQ(paused.recheck, kStart + milliseconds{120000});
    EXPECT_TRUE(pacer.levels(kStart).paused);

    // When it ends, one send goes alone; its success lets the rest follow.
    const Clock::time_point after = kStart + milliseconds{120000};
    ASSERT_EQ(pacer.allowance(0, after).sends, 1);
    pacer.on_start(true, after);
    EXPECT_EQ(pacer.allowance(1, after).sends, 0);
    pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{5}, after);
    EXPECT_EQ(pacer.allowance(0, after).sends, 4);
}

TEST(Pacer, AThrottledProbeAfterAPauseStartsTheNextPause) {
    PacingOptions options = quiet();
    options.throttle_pause = milliseconds{1000};
    Pacer pacer(options, highest, kStart);
    pacer.on_result(result_of(AttemptOutcome::throttled), milliseconds{5}, kStart);
    const Clock::time_point after = pacer.paused_until();
    ASSERT_EQ(pacer.allowance(0, after).sends, 1);
    pacer.on_start(false, after);
    EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::throttled), milliseconds{5}, after),
              PacingChange::paused);
    EXPECT_EQ(pacer.paused_until(), after + milliseconds{2000});
    EXPECT_EQ(pacer.allowance(0, after + milliseconds{2000}).sends, 1);
}

TEST(Pacer, ThrottlePauseIsCutToRetryAfterMax) {
    PacingOptions options = quiet();
    options.retry_after_max = milliseconds{3000};
    Pacer pacer(options, highest, kStart);
    pacer.on_result(
        result_of(AttemptOutcome::throttled, std::chrono::hours{24}), milliseconds{5}, kStart);
    EXPECT_EQ(pacer.paused_until(), kStart + milliseconds{3000});
}

TEST(Pacer, ThrottleWithoutRetryAfterPausesForAGrowingJitteredTime) {
    PacingOptions options = quiet();
    options.throttle_pause = milliseconds{1000};
    options.throttle_pause_max = milliseconds{4000};
    Pacer pacer(options, highest, kStart);
    Clock::time_point now = kStart;
    for (const int expected_ms : {1000, 2000, 4000, 4000}) {
        pacer.on_result(result_of(AttemptOutcome::throttled), milliseconds{5}, now);
        EXPECT_EQ(pacer.paused_until(), now + milliseconds{expected_ms});
        now = pacer.paused_until();
    }
    // A send that is not throttled starts the growth again.
    ASSERT_EQ(pacer.allowance(0, now).sends, 1);
    pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{5}, now);
    pacer.on_result(result_of(AttemptOutcome::throttled), milliseconds{5}, now);
    EXPECT_EQ(pacer.paused_until(), now + milliseconds{1000});
}

TEST(Pacer, RetryAfterZeroGetsTheDefaultPause) {
    PacingOptions options = quiet();
    options.throttle_pause = milliseconds{1000};
    Pacer pacer(options, highest, kStart);
    pacer.on_result(result_of(AttemptOutcome::throttled, milliseconds{0}), milliseconds{5}, kStart);
    EXPECT_EQ(pacer.paused_until(), kStart + milliseconds{1000});
}

TEST(Pacer, ThrottlePauseJitterStaysBetweenATenthAndTheCeiling) {
    PacingOptions options = quiet();
    options.throttle_pause = milliseconds{1000};
    std::int64_t low_seen = -1;
    std::int64_t high_seen = -1;
    Pacer pacer(
        options,
        [&](std::int64_t low, std::int64_t high) {
            low_seen = low;
            high_seen = high;
            return low;
        },
        kStart);
    pacer.on_result(result_of(AttemptOutcome::throttled), milliseconds{5}, kStart);
    EXPECT_EQ(low_seen, 100);
    EXPECT_EQ(high_seen, 1000);
    EXPECT_EQ(pacer.paused_until(), kStart + milliseconds{100});
}

TEST(Pacer, BreakerOpensAfterConsecutiveFailuresAndProbesOnceWhenHalfOpen) {
    PacingOptions options = quiet();
    options.breaker_failures = 3;
    options.breaker_open = milliseconds{1000};
    Pacer pacer(options, highest, kStart);

    EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{5}, kStart),
              PacingChange::none);
    EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::ambiguous), milliseconds{5}, kStart),
              PacingChange::none);
    EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{5}, kStart),
              PacingChange::breaker_opened);
    EXPECT_EQ(pacer.levels(kStart).breaker, BreakerState::open);
    const Allowance open = pacer.allowance(0, kStart + milliseconds{999});
    EXPECT_EQ(open.sends, 0);
    EXPECT_EQ(open.recheck, kStart + milliseconds{1000});

    const Clock::time_point half_open = kStart + milliseconds{1000};
    EXPECT_EQ(pacer.levels(half_open).breaker, BreakerState::half_open);
    ASSERT_EQ(pacer.allowance(0, half_open).sends, 1);
    pacer.on_start(false, half_open);
    EXPECT_EQ(pacer.allowance(1, half_open).sends, 0);  // one probe at a time
    EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{5}, half_open),
              PacingChange::breaker_closed);
    EXPECT_EQ(pacer.levels(half_open).breaker, BreakerState::closed);
    EXPECT_EQ(pacer.allowance(0, half_open).sends, 4);
}

TEST(Pacer, BreakerReopensForLongerWhenTheProbeFails) {
    PacingOptions options = quiet();
    options.breaker_failures = 1;
    options.breaker_open = milliseconds{1000};
    Pacer pacer(options, highest, kStart);
    pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{5}, kStart);

    Clock::time_point probe_at = kStart + milliseconds{1000};
    for (const int open_ms : {2000, 4000, 8000, 8000}) {
        ASSERT_EQ(pacer.allowance(0, probe_at).sends, 1);
        pacer.on_start(false, probe_at);
        EXPECT_EQ(pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{5}, probe_at),
                  PacingChange::breaker_reopened);
        EXPECT_EQ(pacer.allowance(0, probe_at + milliseconds{open_ms - 1}).sends, 0);
        probe_at += milliseconds{open_ms};
    }
}

TEST(Pacer, BreakerOpensOnTheFailureRatioOfAFullWindow) {
    PacingOptions options = quiet();
    options.breaker_failures = 100;
    options.breaker_window = 10;
    options.breaker_failure_percent = 50;
    Pacer pacer(options, highest, kStart);
    PacingChange change = PacingChange::none;
    // Alternating failures never make 100 in a row; the fifth failure in ten sends opens it.
    for (int i = 0; i < 10 && change == PacingChange::none; ++i) {
        const auto outcome = i % 2 == 0 ? AttemptOutcome::sent : AttemptOutcome::transient;
        change = pacer.on_result(result_of(outcome), milliseconds{5}, kStart);
    }
    EXPECT_EQ(change, PacingChange::breaker_opened);
}

TEST(Pacer, PermanentRefusalsAndThrottlesDoNotOpenTheBreaker) {
    PacingOptions options = quiet();
    options.breaker_failures = 2;
    Pacer pacer(options, highest, kStart);
    for (int i = 0; i < 5; ++i) {
        pacer.on_result(result_of(AttemptOutcome::permanent), milliseconds{5}, kStart);
        pacer.on_result(
            result_of(AttemptOutcome::throttled, milliseconds{1000}), milliseconds{5}, kStart);
    }
    EXPECT_EQ(pacer.levels(kStart).breaker, BreakerState::closed);
}

TEST(Pacer, RetryBudgetIsSpentByRetriesAndEarnedByFirstAttempts) {
    PacingOptions options = quiet();
    options.max_concurrency = 100;
    options.retry_percent = 10;
    options.retry_floor_per_s = 0;
    options.retry_burst = 2;
    Pacer pacer(options, highest, kStart);

    EXPECT_EQ(pacer.allowance(0, kStart).retries, 2);
    pacer.on_start(true, kStart);
    pacer.on_start(true, kStart);
    const Allowance spent = pacer.allowance(0, kStart);
    EXPECT_EQ(spent.retries, 0);
    EXPECT_EQ(spent.sends, 100);  // first attempts still go
    for (int i = 0; i < 10; ++i) {
        pacer.on_start(false, kStart);  // ten first attempts earn one retry
    }
    EXPECT_EQ(pacer.allowance(0, kStart).retries, 1);
}

TEST(Pacer, RetryBudgetFloorRefillsOverTimeUpToItsBurst) {
    PacingOptions options = quiet();
    options.retry_percent = 0;
    options.retry_floor_per_s = 2;
    options.retry_burst = 3;
    Pacer pacer(options, highest, kStart);
    for (int i = 0; i < 3; ++i) {
        pacer.on_start(true, kStart);
    }
    EXPECT_EQ(pacer.allowance(0, kStart).retries, 0);
    EXPECT_EQ(pacer.allowance(0, kStart + milliseconds{500}).retries, 1);
    EXPECT_EQ(pacer.allowance(0, kStart + std::chrono::hours{1}).retries, 3);
}

TEST(Pacer, AdaptiveLimitHalvesOncePerWindowOfFailuresAndGrowsBackAdditively) {
    PacingOptions options = quiet();
    options.adaptive = true;
    options.max_concurrency = 16;
    options.decrease_factor = 0.5;
    Pacer pacer(options, highest, kStart);
    EXPECT_EQ(pacer.levels(kStart).concurrency_limit, 16);

    // Sixteen sends started together all time out: one signal, one halving.
    const Clock::time_point later = kStart + milliseconds{1000};
    for (int i = 0; i < 16; ++i) {
        pacer.on_result(result_of(AttemptOutcome::ambiguous), milliseconds{1000}, later);
    }
    EXPECT_EQ(pacer.levels(later).concurrency_limit, 8);
    // A send started after that decrease counts again.
    pacer.on_result(result_of(AttemptOutcome::throttled, milliseconds{1}),
                    milliseconds{10},
                    later + milliseconds{20});
    EXPECT_EQ(pacer.levels(later).concurrency_limit, 4);

    // Four prompt successes add about one.
    for (int i = 0; i < 4; ++i) {
        pacer.on_result(
            result_of(AttemptOutcome::sent), milliseconds{10}, later + milliseconds{50});
    }
    EXPECT_EQ(pacer.levels(later).concurrency_limit, 4);  // 4 + 4 × 1/limit ≈ 4.9, floored
    pacer.on_result(result_of(AttemptOutcome::sent), milliseconds{10}, later + milliseconds{50});
    EXPECT_EQ(pacer.levels(later).concurrency_limit, 5);
}

TEST(Pacer, AdaptiveLimitNeverFallsBelowTheMinimum) {
    PacingOptions options = quiet();
    options.adaptive = true;
    options.min_concurrency = 3;
    Pacer pacer(options, highest, kStart);
    Clock::time_point now = kStart;
    for (int i = 0; i < 10; ++i) {
        now += milliseconds{100};
        pacer.on_result(result_of(AttemptOutcome::transient), milliseconds{1}, now);
    }
    EXPECT_EQ(pacer.levels(now).concurrency_limit, 3);
}

TEST(Pacer, SlowAnswersLowerTheLimitOnlyBeyondToleranceAndSlack) {
    PacingOptions options = quiet();
    options.adaptive = true;
    options.max_concurrency = 8;
    options.latency_tolerance = 2.0;
    options.latency_slack = milliseconds{50};
    Pacer pacer(options, highest, kStart);
    Clock::time_point now = kStart;
    const auto answer = [&](milliseconds latency) {
        now += milliseconds{1000};
        pacer.on_result(result_of(AttemptOutcome::sent), latency, now);
    };
    answer(milliseconds{10});
    answer(milliseconds{40});  // four times slower, but within the slack: a local disk's jitter
    EXPECT_EQ(pacer.levels(now).concurrency_limit, 8);
    answer(milliseconds{100});  // ten times the fastest and 90 ms over it
    EXPECT_EQ(pacer.levels(now).concurrency_limit, 4);
}

}  // namespace
}  // namespace herald::delivery
