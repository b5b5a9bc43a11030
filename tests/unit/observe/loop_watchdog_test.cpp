#include "observe/loop_watchdog.hpp"

#include "support/metrics_text.hpp"
#include "support/wait.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace herald::observe {
namespace {

using namespace std::chrono_literals;

// Most tests drive the watchdog by hand: tick() posts a probe and later reads it back, and the
// loop's io_context runs only when the test polls it, so "blocked" means "not polled yet" and
// every lag has a lower bound set by the test's own sleep.
class LoopWatchdogTest : public ::testing::Test {
protected:
    LoopWatchdog watchdog(std::chrono::milliseconds threshold, const LoopActivity* activity) {
        return LoopWatchdog(
            {&loop_}, LoopWatchdogOptions{.stall_threshold = threshold}, metrics_, activity);
    }

    // Runs the probes waiting on the loop, as its thread would once free. (A poll() that empties
    // the queue leaves the io_context stopped, hence the restart.)
    void run_loop() {
        loop_.restart();
        loop_.poll();
    }

    double value(const std::string& series) const {
        return test::metric_value(metrics_.render(), series).value_or(-1);
    }
    double stalls() const { return value("herald_event_loop_stalls_total{thread=\"io-0\"}"); }
    double probes() const { return value("herald_event_loop_lag_seconds_count{thread=\"io-0\"}"); }
    double lag_sum() const { return value("herald_event_loop_lag_seconds_sum{thread=\"io-0\"}"); }

    boost::asio::io_context loop_;
    Metrics metrics_;
};

TEST_F(LoopWatchdogTest, SeriesOfEveryLoopExistAtZeroBeforeTheFirstProbe) {
    auto dog = watchdog(50ms, nullptr);

    EXPECT_EQ(stalls(), 0);
    EXPECT_EQ(probes(), 0);
}

TEST_F(LoopWatchdogTest, LoopBlockedFor200MsIsOneStallNamingTheRequestItHandles) {
    LoopActivity activity(1);
    activity.begin(0, "/debug/block", "abc-7");
    auto dog = watchdog(50ms, &activity);

    EXPECT_TRUE(dog.tick().empty());  // posts the probe
    std::this_thread::sleep_for(200ms);
    const auto stalls_seen = dog.tick();

    ASSERT_EQ(stalls_seen.size(), 1u);
    EXPECT_EQ(stalls_seen[0].thread, "io-0");
    EXPECT_GE(stalls_seen[0].lag, 200ms);
    EXPECT_EQ(stalls_seen[0].route, "/debug/block");
    EXPECT_EQ(stalls_seen[0].request_id, "abc-7");
    EXPECT_EQ(stalls(), 1);
}

TEST_F(LoopWatchdogTest, StallIsCountedOncePerEpisodeNotPerRound) {
    auto dog = watchdog(50ms, nullptr);
    dog.tick();
    std::this_thread::sleep_for(100ms);

    EXPECT_EQ(dog.tick().size(), 1u);
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(dog.tick().empty());
    run_loop();  // the loop is free again: the late probe runs
    EXPECT_TRUE(dog.tick().empty());

    EXPECT_EQ(stalls(), 1);
    EXPECT_EQ(probes(), 1);
    EXPECT_GE(lag_sum(), 0.2);
}

TEST_F(LoopWatchdogTest, LoopThatStallsAgainAfterRecoveringIsASecondStall) {
    auto dog = watchdog(50ms, nullptr);
    for (int episode = 0; episode < 2; ++episode) {
        dog.tick();
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(dog.tick().size(), 1u);
        run_loop();
        dog.tick();  // records the late probe and posts the next
    }

    EXPECT_EQ(stalls(), 2);
}

TEST_F(LoopWatchdogTest, ProbeThatRanLateBeforeARoundSawItWaitingIsStillAStall) {
    auto dog = watchdog(50ms, nullptr);
    dog.tick();
    std::this_thread::sleep_for(120ms);
    run_loop();  // runs 120 ms after it was posted, before the watchdog looks again

    const auto stalls_seen = dog.tick();

    ASSERT_EQ(stalls_seen.size(), 1u);
    EXPECT_GE(stalls_seen[0].lag, 120ms);
    EXPECT_EQ(stalls_seen[0].route, "");
    EXPECT_EQ(stalls(), 1);
}

TEST_F(LoopWatchdogTest, LoopThatRunsEveryProbeReportsNoStall) {
    // A threshold far above anything this test's few microseconds between tick() and run_loop() can
    // reach, so that only the logic is under test, not the machine's scheduling.
    auto dog = watchdog(10000ms, nullptr);
    for (int round = 0; round < 5; ++round) {
        EXPECT_TRUE(dog.tick().empty());
        run_loop();
    }
    EXPECT_TRUE(dog.tick().empty());

    EXPECT_EQ(stalls(), 0);
    EXPECT_EQ(probes(), 5);
}

TEST_F(LoopWatchdogTest, ThreadReportsALoopBlockedForGoodWhileItIsStillBlocked) {
    std::promise<void> release;
    boost::asio::post(loop_, [blocked = release.get_future().share()] { blocked.wait(); });
    std::thread io([this] { loop_.run(); });
    auto dog = watchdog(50ms, nullptr);

    dog.start();
    const bool reported = test::wait_until([&] { return stalls() >= 1; });
    dog.stop();  // before the loop ends, so that no probe is left waiting on a loop gone idle
    release.set_value();
    io.join();

    EXPECT_TRUE(reported);
    EXPECT_EQ(stalls(), 1);
}

}  // namespace
}  // namespace herald::observe
