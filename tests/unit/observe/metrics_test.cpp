#include "observe/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::observe {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, EveryIntakeOutcomeIsExposedAtZeroBeforeAnyRequest) {
    Metrics metrics;
    const std::string text = metrics.render();
    for (const char* outcome : {"accepted",
                                "replayed",
                                "deduplicated",
                                "rejected_invalid",
                                "store_unavailable",
                                "client_gone",
                                "deadline_expired",
                                "shed_overload"}) {
        EXPECT_TRUE(has_line(
            text, std::string{"herald_intake_requests_total{outcome=\""} + outcome + "\"} 0"))
            << text;
    }
    EXPECT_TRUE(has_line(text, "herald_outbox_leases_taken_over_total 0")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE herald_intake_requests_total counter")) << text;
}

TEST(Metrics, CountsLandOnTheirOwnSeries) {
    Metrics metrics;
    metrics.count_intake(IntakeOutcome::accepted);
    metrics.count_intake(IntakeOutcome::accepted);
    metrics.count_intake(IntakeOutcome::client_gone);
    metrics.count_attempt("http", "sent");
    metrics.count_attempt("http", "ambiguous");
    metrics.count_attempt("http", "sent");
    metrics.count_leases_taken_over(3);
    metrics.count_leases_taken_over(0);

    const std::string text = metrics.render();
    EXPECT_TRUE(has_line(text, "herald_intake_requests_total{outcome=\"accepted\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "herald_intake_requests_total{outcome=\"client_gone\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "herald_intake_requests_total{outcome=\"replayed\"} 0")) << text;
    EXPECT_TRUE(
        has_line(text, "herald_delivery_attempts_total{outcome=\"sent\",transport=\"http\"} 2"))
        << text;
    EXPECT_TRUE(has_line(
        text, "herald_delivery_attempts_total{outcome=\"ambiguous\",transport=\"http\"} 1"))
        << text;
    EXPECT_TRUE(has_line(text, "herald_outbox_leases_taken_over_total 3")) << text;
}

TEST(Metrics, ExpiredNotificationsAreCountedFromZero) {
    Metrics metrics;
    EXPECT_TRUE(has_line(metrics.render(), "herald_notifications_expired_total 0"));
    metrics.count_expired(2);
    metrics.count_expired(0);
    metrics.count_expired(1);
    EXPECT_TRUE(has_line(metrics.render(), "herald_notifications_expired_total 3"))
        << metrics.render();
}

TEST(Metrics, EventLoopSeriesExistAtZeroOnceTheLoopIsNamed) {
    Metrics metrics;
    metrics.event_loop("io-0");

    const std::string text = metrics.render();
    EXPECT_TRUE(has_line(text, "# TYPE herald_event_loop_lag_seconds histogram")) << text;
    EXPECT_TRUE(has_line(text, "herald_event_loop_lag_seconds_count{thread=\"io-0\"} 0")) << text;
    EXPECT_TRUE(
        has_line(text, "herald_event_loop_lag_seconds_bucket{thread=\"io-0\",le=\"0.001\"} 0"))
        << text;
    EXPECT_TRUE(has_line(text, "herald_event_loop_lag_seconds_bucket{thread=\"io-0\",le=\"1\"} 0"))
        << text;
    EXPECT_TRUE(has_line(text, "herald_event_loop_stalls_total{thread=\"io-0\"} 0")) << text;
}

TEST(Metrics, EventLoopLagAndStallsLandOnTheirThreadsSeries) {
    Metrics metrics;
    auto first = metrics.event_loop("io-0");
    auto second = metrics.event_loop("io-1");
    first.observe_lag(std::chrono::milliseconds(300));
    first.count_stall();
    second.observe_lag(std::chrono::microseconds(200));

    const std::string text = metrics.render();
    EXPECT_TRUE(has_line(text, "herald_event_loop_stalls_total{thread=\"io-0\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "herald_event_loop_stalls_total{thread=\"io-1\"} 0")) << text;
    EXPECT_TRUE(
        has_line(text, "herald_event_loop_lag_seconds_bucket{thread=\"io-0\",le=\"0.25\"} 0"))
        << text;
    EXPECT_TRUE(
        has_line(text, "herald_event_loop_lag_seconds_bucket{thread=\"io-0\",le=\"0.5\"} 1"))
        << text;
    EXPECT_TRUE(
        has_line(text, "herald_event_loop_lag_seconds_bucket{thread=\"io-1\",le=\"0.001\"} 1"))
        << text;
}

}  // namespace
}  // namespace herald::observe
