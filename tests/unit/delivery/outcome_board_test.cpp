#include "delivery/outcome_board.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace herald::delivery {
namespace {

using namespace std::chrono_literals;
using Outcome = std::optional<store::Status>;

// Runs one wait on `io` to its end and returns what it saw.
Outcome run_wait(boost::asio::io_context& io,
                 std::shared_ptr<OutcomeBoard::Waiter> waiter,
                 std::chrono::steady_clock::duration budget) {
    auto result = boost::asio::co_spawn(
        io, waiter->wait_until(std::chrono::steady_clock::now() + budget), boost::asio::use_future);
    io.restart();
    io.run();
    return result.get();
}

TEST(OutcomeBoard, OutcomePublishedBeforeTheWaitStartsIsNotMissed) {
    boost::asio::io_context io;
    OutcomeBoard board(8);
    auto waiter = board.subscribe("n1", io.get_executor());
    ASSERT_NE(waiter, nullptr);

    board.publish("n1", store::Status::sent);

    EXPECT_EQ(run_wait(io, waiter, 60s), store::Status::sent);
}

TEST(OutcomeBoard, OutcomeFromAnotherThreadWakesTheWaiter) {
    boost::asio::io_context io;
    OutcomeBoard board(8);
    auto waiter = board.subscribe("n1", io.get_executor());
    std::thread publisher([&] {
        std::this_thread::sleep_for(20ms);
        board.publish("n1", store::Status::failed);
    });

    const Outcome outcome = run_wait(io, waiter, 60s);
    publisher.join();

    EXPECT_EQ(outcome, store::Status::failed);
}

TEST(OutcomeBoard, OtherNotificationsDoNotWakeTheWaiterAndTheWaitEndsEmpty) {
    boost::asio::io_context io;
    OutcomeBoard board(8);
    auto waiter = board.subscribe("n1", io.get_executor());

    board.publish("n2", store::Status::sent);

    EXPECT_EQ(run_wait(io, waiter, 30ms), std::nullopt);
}

TEST(OutcomeBoard, InterruptEndsTheWaitEmpty) {
    boost::asio::io_context io;
    OutcomeBoard board(8);
    auto waiter = board.subscribe("n1", io.get_executor());
    boost::asio::post(io, [waiter] { waiter->interrupt(); });

    EXPECT_EQ(run_wait(io, waiter, 60s), std::nullopt);
}

TEST(OutcomeBoard, SubscriptionsBeyondTheCapAreRefusedAndFreedOnRelease) {
    boost::asio::io_context io;
    OutcomeBoard board(2);
    auto first = board.subscribe("n1", io.get_executor());
    auto second = board.subscribe("n1", io.get_executor());
    EXPECT_NE(first, nullptr);
    EXPECT_NE(second, nullptr);
    EXPECT_EQ(board.subscribe("n2", io.get_executor()), nullptr);

    first.reset();

    EXPECT_EQ(board.waiters(), 1u);
    EXPECT_NE(board.subscribe("n2", io.get_executor()), nullptr);
}

TEST(OutcomeBoard, PublishingToAReleasedWaiterIsHarmless) {
    boost::asio::io_context io;
    OutcomeBoard board(8);
    auto waiter = board.subscribe("n1", io.get_executor());
    board.publish("n1", store::Status::sent);
    waiter.reset();

    io.run();  // the posted wake-up finds no waiter

    EXPECT_EQ(board.waiters(), 0u);
}

}  // namespace
}  // namespace herald::delivery
