// The event-loop watchdog, seen from outside: a herald started with HERALD_DEBUG_BLOCKING_ROUTE=1
// serves POST /debug/block, which blocks its I/O thread on purpose; the stall must show in
// /metrics and in one log line naming that request. Without the variable the route is absent.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace herald::test {
namespace {

class Watchdog : public IntegrationTest {
protected:
    static HttpResponse block(HeraldPeer& herald, int ms) {
        HttpRequest request;
        request.method = "POST";
        request.target = "/debug/block?ms=" + std::to_string(ms);
        return herald.client().send(request);
    }

    // The sum of herald_event_loop_{name}{thread="io-N"} over every I/O thread; -1 when the
    // series of io-0 is missing.
    static double over_threads(HeraldPeer& herald, const std::string& name) {
        const auto scraped = herald.client().get("/metrics");
        EXPECT_EQ(scraped.status, 200) << scraped.describe();
        double total = -1;
        for (int n = 0;; ++n) {
            const auto value = metric_value(
                scraped.body,
                "herald_event_loop_" + name + "{thread=\"io-" + std::to_string(n) + "\"}");
            if (!value) {
                return total;
            }
            total = (total < 0 ? 0 : total) + *value;
        }
    }

    // The lines of herald.err whose "msg" is `message`, parsed.
    static std::vector<boost::json::value> log_events(HeraldPeer& herald,
                                                      const std::string& message) {
        std::vector<boost::json::value> events;
        std::ifstream file(herald.dir() / "herald.err");
        for (std::string line; std::getline(file, line);) {
            auto event = parse_json(line);
            if (event && string_at(*event, "msg") == message) {
                events.push_back(std::move(*event));
            }
        }
        return events;
    }

    static std::vector<boost::json::value> events_on_route(HeraldPeer& herald,
                                                           const std::string& message,
                                                           const std::string& route) {
        std::vector<boost::json::value> found;
        for (auto& event : log_events(herald, message)) {
            if (string_at(event, "route") == route) {
                found.push_back(std::move(event));
            }
        }
        return found;
    }
};

TEST_F(Watchdog, BlockedIoThreadIsCountedAndLoggedOnceWithTheRouteAndRequestIdThatBlockedIt) {
    HeraldOptions options;
    options.env["HERALD_DEBUG_BLOCKING_ROUTE"] = "1";
    auto& herald = start_herald(options);

    const auto response = block(herald, 300);

    ASSERT_EQ(response.status, 200) << response.describe();
    const auto request_id = response.headers.get("X-Request-Id");
    ASSERT_TRUE(request_id.has_value()) << response.describe();
    EXPECT_TRUE(wait_until([&] { return over_threads(herald, "stalls_total") >= 1; }))
        << herald.logs();
    // Lines are written by a background thread; the episode's end line comes last.
    ASSERT_TRUE(wait_until([&] {
        return !events_on_route(herald, "event loop stall ended", "/debug/block").empty();
    })) << herald.logs();
    const auto stalled = events_on_route(herald, "event loop stalled", "/debug/block");
    ASSERT_EQ(stalled.size(), 1u) << herald.logs();
    EXPECT_EQ(string_at(stalled[0], "request_id"), *request_id) << json_text(stalled[0]);
    EXPECT_EQ(string_at(stalled[0], "level"), "warn") << json_text(stalled[0]);
    EXPECT_GE(int_at(stalled[0], "lag_ms", -1), 50) << json_text(stalled[0]);
    EXPECT_EQ(string_at(stalled[0], "thread").rfind("io-", 0), 0u) << json_text(stalled[0]);
    EXPECT_EQ(log_events(herald, "debug blocking route enabled").size(), 1u);
    for (const auto& event : log_events(herald, "unknown environment variable ignored")) {
        EXPECT_NE(string_at(event, "name"), "HERALD_DEBUG_BLOCKING_ROUTE");
    }
}

TEST_F(Watchdog, WithoutTheVariableTheBlockingRouteIsAbsentAndNormalRequestsStallNothing) {
    // The default threshold (50 ms) would also turn a loaded test machine's scheduling delay into
    // a stall; at 1 s only a real block can count, and none happens here.
    auto& herald = start_herald(with_config("[server]\nstall_threshold_ms = 1000\n"));

    EXPECT_EQ(block(herald, 300).status, 404);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(herald.client().get("/healthz").status, 200);
        accepted_id(herald.post_notification(json_body(baseline_notification())));
    }

    // The watchdog runs: its probes are being measured.
    EXPECT_TRUE(wait_until([&] { return over_threads(herald, "lag_seconds_count") >= 1; }));
    EXPECT_EQ(over_threads(herald, "stalls_total"), 0);
    EXPECT_TRUE(log_events(herald, "event loop stalled").empty()) << herald.logs();
    EXPECT_TRUE(log_events(herald, "debug blocking route enabled").empty());
}

TEST_F(Watchdog, VariableSetToAnythingButOneLeavesTheBlockingRouteOut) {
    HeraldOptions options;
    options.env["HERALD_DEBUG_BLOCKING_ROUTE"] = "true";
    auto& herald = start_herald(options);

    EXPECT_EQ(block(herald, 10).status, 404);
    EXPECT_TRUE(log_events(herald, "debug blocking route enabled").empty());
}

}  // namespace
}  // namespace herald::test
