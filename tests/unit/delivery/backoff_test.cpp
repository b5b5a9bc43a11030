#include "delivery/backoff.hpp"

#include "delivery/dispatcher.hpp"

#include <gtest/gtest.h>

#include <random>

namespace herald::delivery {
namespace {

using std::chrono::milliseconds;

BackoffPolicy policy(std::int64_t base, std::int64_t max, std::int64_t retry_after_max = 3600000) {
    BackoffPolicy p;
    p.base = milliseconds{base};
    p.max = milliseconds{max};
    p.retry_after_max = milliseconds{retry_after_max};
    return p;
}

UniformRandom always_high() {
    return [](std::int64_t, std::int64_t high) { return high; };
}

UniformRandom always_low() {
    return [](std::int64_t low, std::int64_t) { return low; };
}

TEST(BackoffCeiling, DoublesFromBaseUntilTheCap) {
    const BackoffPolicy p = policy(1000, 300000);
    EXPECT_EQ(backoff_ceiling(1, p), milliseconds{1000});
    EXPECT_EQ(backoff_ceiling(2, p), milliseconds{2000});
    EXPECT_EQ(backoff_ceiling(3, p), milliseconds{4000});
    EXPECT_EQ(backoff_ceiling(9, p), milliseconds{256000});
    EXPECT_EQ(backoff_ceiling(10, p), milliseconds{300000});
    EXPECT_EQ(backoff_ceiling(11, p), milliseconds{300000});
}

TEST(BackoffCeiling, NeverOverflowsForHugeAttemptsOrBases) {
    EXPECT_EQ(backoff_ceiling(1'000'000, policy(1000, 300000)), milliseconds{300000});
    const std::int64_t huge = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(backoff_ceiling(200, policy(huge / 3, huge)), milliseconds{huge});
    EXPECT_EQ(backoff_ceiling(5, policy(huge, 1000)), milliseconds{1000});
}

TEST(BackoffCeiling, IsZeroForNonsenseInput) {
    EXPECT_EQ(backoff_ceiling(0, policy(1000, 300000)), milliseconds{0});
    EXPECT_EQ(backoff_ceiling(-3, policy(1000, 300000)), milliseconds{0});
    EXPECT_EQ(backoff_ceiling(2, policy(0, 300000)), milliseconds{0});
    EXPECT_EQ(backoff_ceiling(2, policy(-5, 300000)), milliseconds{0});
}

TEST(RetryDelay, DrawsBetweenZeroAndTheCeiling) {
    const BackoffPolicy p = policy(1000, 300000);
    std::int64_t asked_low = -1;
    std::int64_t asked_high = -1;
    const UniformRandom spy = [&](std::int64_t low, std::int64_t high) {
        asked_low = low;
        asked_high = high;
        return low;
    };
    retry_delay(4, p, std::nullopt, spy);
    EXPECT_EQ(asked_low, 0);
    EXPECT_EQ(asked_high, 8000);

    EXPECT_EQ(retry_delay(4, p, std::nullopt, always_low()), milliseconds{0});
    EXPECT_EQ(retry_delay(4, p, std::nullopt, always_high()), milliseconds{8000});
    EXPECT_EQ(retry_delay(30, p, std::nullopt, always_high()), milliseconds{300000});
}

TEST(RetryDelay, StaysInRangeWithARealRandomSource) {
    const BackoffPolicy p = policy(100, 5000);
    std::mt19937_64 engine(42);
    const UniformRandom random = [&](std::int64_t low, std::int64_t high) {
        return std::uniform_int_distribution<std::int64_t>(low, high)(engine);
    };
    bool saw_low_half = false;
    bool saw_high_half = false;
    for (int i = 0; i < 2000; ++i) {
        const int attempt = 1 + i % 10;
        const auto ceiling = backoff_ceiling(attempt, p);
        const auto delay = retry_delay(attempt, p, std::nullopt, random);
        ASSERT_GE(delay.count(), 0);
        ASSERT_LE(delay, ceiling);
        saw_low_half = saw_low_half || delay < ceiling / 2;
        saw_high_half = saw_high_half || delay > ceiling / 2;
    }
    EXPECT_TRUE(saw_low_half);
    EXPECT_TRUE(saw_high_half);
}

TEST(RetryDelay, ClampsAMisbehavingRandomSourceIntoRange) {
    const BackoffPolicy p = policy(1000, 300000);
    const UniformRandom wild = [](std::int64_t, std::int64_t high) { return high * 10; };
    EXPECT_EQ(retry_delay(1, p, std::nullopt, wild), milliseconds{1000});
    const UniformRandom negative = [](std::int64_t, std::int64_t) { return -7; };
    EXPECT_EQ(retry_delay(1, p, std::nullopt, negative), milliseconds{0});
}

TEST(RetryDelay, NeverWaitsLessThanTheProvidersRetryAfter) {
    const BackoffPolicy p = policy(1000, 300000);
    EXPECT_EQ(retry_delay(1, p, milliseconds{120000}, always_low()), milliseconds{120000});
    EXPECT_EQ(retry_delay(1, p, milliseconds{120000}, always_high()), milliseconds{120000});
    // A short Retry-After does not shorten the jittered backoff.
    EXPECT_EQ(retry_delay(5, p, milliseconds{10}, always_high()), milliseconds{16000});
    EXPECT_EQ(retry_delay(5, p, milliseconds{0}, always_low()), milliseconds{0});
}

TEST(RetryDelay, CapsTheRetryAfterFloorAtTheConfiguredMaximum) {
    const BackoffPolicy p = policy(1000, 300000, 600000);
    EXPECT_EQ(retry_delay(1, p, milliseconds{86400000}, always_low()), milliseconds{600000});
    EXPECT_EQ(retry_delay(1, p, milliseconds{-5000}, always_low()), milliseconds{0});
}

SendResult result(AttemptOutcome outcome, std::string detail = "why") {
    SendResult r;
    r.outcome = outcome;
    r.detail = std::move(detail);
    return r;
}

TEST(NextStep, SentIsFinal) {
    const NextStep step =
        next_step(result(AttemptOutcome::sent), 1, 8, policy(1000, 300000), 5000, always_high());
    EXPECT_EQ(step.status, store::Status::sent);
}

TEST(NextStep, PermanentFailsAtOnce) {
    const NextStep step = next_step(result(AttemptOutcome::permanent, "HTTP 400"),
                                    1,
                                    8,
                                    policy(1000, 300000),
                                    5000,
                                    always_high());
    EXPECT_EQ(step.status, store::Status::failed);
    EXPECT_EQ(step.detail, "HTTP 400");
}

TEST(NextStep, TransientAndAmbiguousRetryAfterTheBackoff) {
    for (const auto outcome : {AttemptOutcome::transient, AttemptOutcome::ambiguous}) {
        const NextStep step =
            next_step(result(outcome), 3, 8, policy(1000, 300000), 5000, always_high());
        EXPECT_EQ(step.status, store::Status::retrying);
        EXPECT_EQ(step.due_at, 5000 + 4000);
    }
}

TEST(NextStep, HonoursRetryAfter) {
    SendResult throttled = result(AttemptOutcome::transient, "HTTP 429");
    throttled.retry_after = milliseconds{120000};
    const NextStep step = next_step(throttled, 1, 8, policy(1000, 300000), 5000, always_low());
    EXPECT_EQ(step.status, store::Status::retrying);
    EXPECT_EQ(step.due_at, 5000 + 120000);
}

TEST(NextStep, FailsWithTheReasonWhenAttemptsRunOut) {
    const NextStep step = next_step(result(AttemptOutcome::transient, "HTTP 503"),
                                    8,
                                    8,
                                    policy(1000, 300000),
                                    5000,
                                    always_low());
    EXPECT_EQ(step.status, store::Status::failed);
    EXPECT_EQ(step.detail, "gave up after 8 attempts: HTTP 503");
}

}  // namespace
}  // namespace herald::delivery
