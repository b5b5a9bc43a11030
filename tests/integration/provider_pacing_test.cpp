// Protecting the provider: throttling (429/503 with and without Retry-After), outages, the
// circuit breaker, the retry budget and the rate of the drain afterwards. The provider is the
// real herald-mockmail process; what it received (each call's time, status and Idempotency-Key,
// which is the notification id) is read back from it, not from herald's log. Timings are
// printed; the assertions are counts, orders and bounds that follow from the configuration.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

struct ProviderCall {
    std::int64_t at_ms = 0;
    int answer = 0;
    std::string id;  // the Idempotency-Key herald sent: the notification id
};

std::vector<ProviderCall> calls_of(MockmailPeer& provider) {
    std::vector<ProviderCall> calls;
    for (const auto& call : provider.calls()) {
        ProviderCall c;
        c.at_ms = int_at(call, "received_at_ms", 0);
        c.answer = static_cast<int>(int_at(call, "answer", 0));
        c.id = string_at(call, "idempotency_key");
        calls.push_back(std::move(c));
    }
    return calls;
}

// The most calls that arrived within any `window_ms` span.
std::size_t busiest_window(const std::vector<ProviderCall>& calls, std::int64_t window_ms) {
    std::vector<std::int64_t> times;
    for (const auto& call : calls) {
        times.push_back(call.at_ms);
    }
    std::sort(times.begin(), times.end());
    std::size_t most = 0;
    std::size_t first = 0;
    for (std::size_t last = 0; last < times.size(); ++last) {
        while (times[last] - times[first] >= window_ms) {
            ++first;
        }
        most = std::max(most, last - first + 1);
    }
    return most;
}

// Accepted (2xx) provider calls per notification id.
std::map<std::string, int> accepted_per_id(const std::vector<ProviderCall>& calls) {
    std::map<std::string, int> accepted;
    for (const auto& call : calls) {
        if (call.answer >= 200 && call.answer < 300) {
            ++accepted[call.id];
        }
    }
    return accepted;
}

std::vector<std::string> log_lines_with(HeraldPeer& herald, const std::string& text) {
    std::ifstream file(herald.dir() / "herald.err");
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) {
        if (line.find(text) != std::string::npos) {
            lines.push_back(line);
        }
    }
    return lines;
}

double metric(HeraldPeer& herald, const std::string& series) {
    const auto response = herald.client().get("/metrics");
    return metric_value(response.body, series).value_or(-1);
}

std::string post_one(HeraldPeer& herald, const HeaderList& headers = {}) {
    const auto response = herald.post_notification(json_body(baseline_notification()), headers);
    EXPECT_TRUE(response.status == 202 || response.status == 200) << response.describe();
    const auto json = response.json();
    return json ? string_at(*json, "id") : std::string{};
}

class ProviderPacing : public IntegrationTest {
protected:
    // herald delivering over http to a mock with `mock`'s faults and `env` settings.
    HeraldPeer& start_pair(MockmailOptions mock, std::map<std::string, std::string> env = {}) {
        provider_ = &start_mockmail(std::move(mock));
        HeraldOptions options;
        options.transport = provider_->send_url();
        options.env = std::move(env);
        return start_herald(std::move(options));
    }

    MockmailPeer& mock() { return *provider_; }

    // Waits until every id is `sent` (or the cap passes); returns how many are.
    std::size_t wait_all_sent(HeraldPeer& herald,
                              const std::vector<std::string>& ids,
                              std::chrono::milliseconds cap = kGenerousWait) {
        std::size_t sent = 0;
        const auto deadline = std::chrono::steady_clock::now() + cap;
        for (const auto& id : ids) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            const auto last = herald.wait_for_status(id, {"sent", "failed"}, std::max(left, 1ms));
            sent += last && string_at(*last, "status") == "sent" ? 1 : 0;
        }
        return sent;
    }

    MockmailPeer* provider_ = nullptr;
};

// L5 (a): every send gets 429 with Retry-After: 120 for 120 s; the client asks Prefer: wait=3.
TEST_F(ProviderPacing, TwoMinutesOf429WithRetryAfter120GetOneCallAndTheClientA202) {
    MockmailOptions throttling;
    throttling.fail_status = 429;
    throttling.fail_for_ms = 120000;
    throttling.retry_after = "120";
    auto& herald = start_pair(throttling);

    const auto posted = std::chrono::steady_clock::now();
    const auto response =
        herald.post_notification(json_body(baseline_notification()), {{"Prefer", "wait=3"}});
    const auto answered_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - posted)
                                 .count();
    std::cout << "[ timing ] Prefer: wait=3 answered in " << answered_ms << " ms\n";
    ASSERT_EQ(response.status, 202) << response.describe();
    const std::string id = string_at(*response.json(), "id");
    // A second notification arrives during the pause: the whole transport waits, not only the
    // throttled notification.
    const std::string second = post_one(herald);

    ASSERT_TRUE(wait_until([&] { return !calls_of(mock()).empty(); }));
    const std::int64_t first_call_ms = calls_of(mock()).front().at_ms;
    const auto view = herald.wait_for_status(id, {"retrying", "failed"});
    ASSERT_TRUE(view);
    EXPECT_EQ(string_at(*view, "status"), "retrying") << json_text(*view);
    EXPECT_EQ(int_at(*view, "attempts", -1), 1);

    // Watch the provider until just before the 120 s are over: nothing more arrives.
    const auto watch_until = posted + 118s;
    while (std::chrono::steady_clock::now() < watch_until) {
        ASSERT_EQ(calls_of(mock()).size(), 1u) << "a call came during the provider's pause";
        ASSERT_EQ(string_at(*herald.get_notification(id).json(), "status"), "retrying");
        std::this_thread::sleep_for(2s);
    }
    EXPECT_GE(metric(herald, "herald_delivery_pauses_total{transport=\"http\"}"), 1);
    EXPECT_EQ(
        metric(herald, "herald_delivery_attempts_total{outcome=\"throttled\",transport=\"http\"}"),
        1);

    // After the pause both go, the first no earlier than 120 s after its throttled call.
    ASSERT_EQ(wait_all_sent(herald, {id, second}), 2u) << herald.logs();
    const auto calls = calls_of(mock());
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0].id, id);
    EXPECT_EQ(calls[0].answer, 429);
    for (std::size_t i = 1; i < calls.size(); ++i) {
        EXPECT_GE(calls[i].at_ms - first_call_ms, 120000) << "call " << i;
        EXPECT_EQ(calls[i].answer, 200);
    }
    EXPECT_EQ(accepted_per_id(calls), (std::map<std::string, int>{{id, 1}, {second, 1}}));
}

// L5 (b): one 429 with Retry-After: 2, then success.
TEST_F(ProviderPacing, OneThrottleWithRetryAfter2IsSentOnTheSecondCallTwoSecondsLater) {
    MockmailOptions once;
    once.fail_status = 429;
    once.fail_count = 1;
    once.retry_after = "2";
    auto& herald = start_pair(once);

    const std::string id = post_one(herald);
    ASSERT_EQ(wait_all_sent(herald, {id}), 1u) << herald.logs();
    const auto calls = calls_of(mock());
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].answer, 429);
    EXPECT_EQ(calls[1].answer, 200);
    std::cout << "[ timing ] calls " << calls[1].at_ms - calls[0].at_ms << " ms apart\n";
    EXPECT_GE(calls[1].at_ms - calls[0].at_ms, 2000);
    const auto view = herald.get_notification(id).json();
    EXPECT_EQ(int_at(*view, "attempts", -1), 2);
}

// L5 (c): 503 with an HTTP-date far in the future: a long pause, cut to the configured maximum.
TEST_F(ProviderPacing, UnavailableUntilAFarDateIsAPauseCutToRetryAfterMax) {
    MockmailOptions far;
    far.fail_status = 503;
    far.fail_count = 1;
    far.retry_after = "Fri, 31 Dec 9999 23:59:59 GMT";
    auto& herald = start_pair(far, {{"HERALD_DELIVERY_RETRY_AFTER_MAX_MS", "3000"}});

    const std::string id = post_one(herald);
    ASSERT_EQ(wait_all_sent(herald, {id}), 1u) << herald.logs();
    const auto calls = calls_of(mock());
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_GE(calls[1].at_ms - calls[0].at_ms, 3000);
    const auto paused = log_lines_with(herald, "\"msg\":\"delivery paused\"");
    ASSERT_EQ(paused.size(), 1u);
    EXPECT_NE(paused[0].find("\"pause_ms\":3000"), std::string::npos) << paused[0];
}

// L5 (d): hostile Retry-After values. None is believed; each gets the default throttle pause
// (delivery.throttle_pause_ms: a draw between a tenth of it and all of it).
TEST_F(ProviderPacing, HostileRetryAfterValuesGetTheDefaultPause) {
    for (const std::string value : {"-5", "abc", "99999999999", "0"}) {
        SCOPED_TRACE("Retry-After: " + value);
        MockmailOptions hostile;
        hostile.fail_status = 429;
        hostile.fail_count = 1;
        hostile.retry_after = value;
        provider_ = &start_mockmail(hostile);
        HeraldOptions options;
        options.transport = provider_->send_url();
        options.env = {{"HERALD_DELIVERY_THROTTLE_PAUSE_MS", "1000"}};
        auto& herald = start_herald(std::move(options), "herald-" + std::to_string(value.size()));

        const std::string id = post_one(herald);
        ASSERT_EQ(wait_all_sent(herald, {id}), 1u) << herald.logs();
        EXPECT_TRUE(herald.running());
        const auto calls = calls_of(mock());
        ASSERT_EQ(calls.size(), 2u);
        EXPECT_GE(calls[1].at_ms - calls[0].at_ms, 100);
        const auto paused = log_lines_with(herald, "\"msg\":\"delivery paused\"");
        ASSERT_EQ(paused.size(), 1u);
        EXPECT_NE(paused[0].find("\"retry_after\":false"), std::string::npos) << paused[0];
        const auto at = paused[0].find("\"pause_ms\":");
        ASSERT_NE(at, std::string::npos);
        const long pause_ms = std::stol(paused[0].substr(at + 11));
        EXPECT_GE(pause_ms, 100);
        EXPECT_LE(pause_ms, 1000);
    }
}

// L5 (e): 200 queued while the provider answers 503 without Retry-After for 10 s.
TEST_F(ProviderPacing, TenSecondsOf503DrainWithoutABurstAndWithinTheRetryBudget) {
    constexpr int kNotifications = 200;
    constexpr double kRate = 40;
    constexpr int kBurst = 5;
    MockmailOptions outage;
    outage.fail_status = 503;
    outage.fail_for_ms = 10000;
    auto& herald = start_pair(outage,
                              {{"HERALD_DELIVERY_RATE_PER_S", "40"},
                               {"HERALD_DELIVERY_BURST", std::to_string(kBurst)},
                               {"HERALD_DELIVERY_RETRY_BUDGET_PERCENT", "10"},
                               {"HERALD_DELIVERY_RETRY_BUDGET_FLOOR_PER_S", "1"},
                               {"HERALD_DELIVERY_RETRY_BUDGET_BURST", "10"}});
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::string> ids;
    for (int i = 0; i < kNotifications; ++i) {
        ids.push_back(post_one(herald));
    }
    ASSERT_EQ(wait_all_sent(herald, ids), ids.size()) << herald.logs();
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const auto calls = calls_of(mock());
    std::size_t refused = 0;
    for (const auto& call : calls) {
        refused += call.answer == 503 ? 1 : 0;
    }
    const auto accepted = accepted_per_id(calls);
    EXPECT_EQ(accepted.size(), ids.size());
    for (const auto& [id, count] : accepted) {
        EXPECT_EQ(count, 1) << id;
    }
    // Every call beyond one per notification is a retry. The budget allows its burst, the floor
    // for the time spent, and a tenth of the first attempts.
    const std::size_t retries = calls.size() - ids.size();
    const double budget = 10 + 1 * elapsed_s + 0.1 * kNotifications;
    const std::size_t busiest = busiest_window(calls, 1000);
    std::cout << "[ figures ] calls " << calls.size() << ", refused " << refused << ", retries "
              << retries << " (budget " << budget << "), busiest second " << busiest
              << " calls, drained in " << elapsed_s << " s\n";
    EXPECT_GT(refused, 0u);
    EXPECT_LE(static_cast<double>(retries), budget);
    // No burst at recovery: the token bucket starts at most burst + rate × 1 s in any second
    // (a tenth more allowed for the jitter of the calls' arrival at the provider).
    EXPECT_LE(static_cast<double>(busiest), kBurst + kRate * 1.1);
    EXPECT_GE(
        metric(herald, "herald_delivery_attempts_total{outcome=\"throttled\",transport=\"http\"}"),
        static_cast<double>(refused));
    EXPECT_GE(metric(herald, "herald_delivery_pauses_total{transport=\"http\"}"), 1);
    // The pauses are drawn, not fixed: they are not all the ceiling of their step.
    std::set<std::string> pauses;
    for (const auto& line : log_lines_with(herald, "\"msg\":\"delivery paused\"")) {
        const auto at = line.find("\"pause_ms\":");
        pauses.insert(line.substr(at, line.find_first_of(",}", at) - at));
    }
    EXPECT_FALSE(pauses.empty());
    EXPECT_FALSE(pauses == (std::set<std::string>{"\"pause_ms\":1000"}));
}

// The provider is down (connection refused) while a queue builds, then comes back on its port.
TEST_F(ProviderPacing, ProviderDownThenBackDeliversEachOnceAndNoFasterThanTheRate) {
    constexpr int kNotifications = 60;
    constexpr double kRate = 20;
    constexpr int kBurst = 3;
    MockmailOptions first;
    provider_ = &start_mockmail(first);
    const std::uint16_t port = provider_->port();
    HeraldOptions options;
    options.transport = provider_->send_url();
    options.env = {{"HERALD_DELIVERY_RATE_PER_S", "20"},
                   {"HERALD_DELIVERY_BURST", std::to_string(kBurst)},
                   {"HERALD_DELIVERY_BREAKER_OPEN_MS", "1000"},
                   {"HERALD_DELIVERY_BACKOFF_BASE_MS", "200"},
                   {"HERALD_DELIVERY_BACKOFF_MAX_MS", "2000"}};
    auto& herald = start_herald(std::move(options));
    provider_->stop();

    std::vector<std::string> ids;
    for (int i = 0; i < kNotifications; ++i) {
        ids.push_back(post_one(herald));
    }
    // The breaker opens on the refused connections: the queue waits instead of hammering.
    ASSERT_TRUE(wait_until([&] {
        return metric(herald, "herald_delivery_breaker_opened_total{transport=\"http\"}") >= 1;
    })) << herald.logs();
    std::this_thread::sleep_for(3s);  // the outage goes on for a while

    MockmailOptions again;
    again.port = port;
    provider_ = &start_mockmail(again);
    ASSERT_EQ(wait_all_sent(herald, ids), ids.size()) << herald.logs();

    const auto calls = calls_of(mock());
    const auto accepted = accepted_per_id(calls);
    EXPECT_EQ(accepted.size(), ids.size());
    for (const auto& [id, count] : accepted) {
        EXPECT_EQ(count, 1) << id;
    }
    EXPECT_EQ(calls.size(), ids.size());  // the provider, once back, saw no repeat at all
    const std::size_t busiest = busiest_window(calls, 1000);
    std::cout << "[ figures ] busiest second after recovery: " << busiest << " calls (rate "
              << kRate << "/s, burst " << kBurst << ")\n";
    EXPECT_LE(static_cast<double>(busiest), kBurst + kRate * 1.1);
    EXPECT_EQ(metric(herald, "herald_delivery_breaker_state{transport=\"http\"}"), 0);
}

TEST_F(ProviderPacing, BreakerOpensOnConsecutiveFailuresAndClosesAfterASuccessfulProbe) {
    MockmailOptions failing;
    failing.fail_status = 500;
    failing.fail_count = 5;
    auto& herald = start_pair(failing,
                              {{"HERALD_DELIVERY_BREAKER_FAILURES", "5"},
                               {"HERALD_DELIVERY_BREAKER_OPEN_MS", "1500"},
                               {"HERALD_DELIVERY_BACKOFF_BASE_MS", "50"},
                               {"HERALD_DELIVERY_BACKOFF_MAX_MS", "100"},
                               {"HERALD_DELIVERY_CONCURRENCY", "1"}});
    EXPECT_EQ(metric(herald, "herald_delivery_breaker_state{transport=\"http\"}"), 0);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(post_one(herald));
    }
    ASSERT_TRUE(wait_until([&] {
        return metric(herald, "herald_delivery_breaker_state{transport=\"http\"}") == 2;
    })) << herald.logs();
    EXPECT_EQ(calls_of(mock()).size(), 5u);  // open: nothing more reaches the provider

    ASSERT_EQ(wait_all_sent(herald, ids), ids.size()) << herald.logs();
    EXPECT_EQ(metric(herald, "herald_delivery_breaker_state{transport=\"http\"}"), 0);
    EXPECT_EQ(metric(herald, "herald_delivery_breaker_opened_total{transport=\"http\"}"), 1);
    const auto opened = log_lines_with(herald, "\"msg\":\"breaker opened\"");
    const auto closed = log_lines_with(herald, "\"msg\":\"breaker closed\"");
    EXPECT_EQ(opened.size(), 1u);
    EXPECT_EQ(closed.size(), 1u);
    // The probe after the open time was a single call, answered 200, before the rest went.
    const auto calls = calls_of(mock());
    ASSERT_EQ(calls.size(), 10u);
    EXPECT_EQ(calls[5].answer, 200);
    EXPECT_GE(calls[5].at_ms - calls[4].at_ms, 1500);
}

TEST_F(ProviderPacing, RetryBudgetBoundsTheRetriesOfAProviderThatAlwaysFails) {
    constexpr int kNotifications = 20;
    MockmailOptions failing;
    failing.fail_status = 500;
    failing.fail_count = 1000000;
    auto& herald = start_pair(failing,
                              {{"HERALD_DELIVERY_BREAKER_FAILURES", "0"},
                               {"HERALD_DELIVERY_BACKOFF_BASE_MS", "10"},
                               {"HERALD_DELIVERY_BACKOFF_MAX_MS", "20"},
                               {"HERALD_DELIVERY_MAX_ATTEMPTS", "1000"},
                               {"HERALD_DELIVERY_RETRY_BUDGET_PERCENT", "10"},
                               {"HERALD_DELIVERY_RETRY_BUDGET_FLOOR_PER_S", "1"},
                               {"HERALD_DELIVERY_RETRY_BUDGET_BURST", "2"}});
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < kNotifications; ++i) {
        post_one(herald);
    }
    // Without a budget, 20 notifications retried every 20 ms would make ~1000 calls a second.
    ASSERT_TRUE(wait_until([&] { return calls_of(mock()).size() >= kNotifications + 3; }))
        << herald.logs();
    std::this_thread::sleep_for(3s);
    const std::size_t calls = calls_of(mock()).size();
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double budget = 2 + 1 * elapsed_s + 0.1 * kNotifications;
    std::cout << "[ figures ] " << calls - kNotifications << " retries in " << elapsed_s
              << " s; budget " << budget << "\n";
    EXPECT_LE(static_cast<double>(calls - kNotifications), budget);
    EXPECT_LT(metric(herald, "herald_delivery_retry_budget{transport=\"http\"}"), 1);
}

}  // namespace
}  // namespace herald::test
