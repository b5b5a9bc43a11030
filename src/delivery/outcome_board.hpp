#pragma once

#include "store/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace herald::delivery {

// Tells requests that wait for a delivery (Prefer: wait) when their notification reaches a final
// status in this process.
//
// A request subscribes on its I/O thread before the notification is committed, so no outcome can
// slip past between the commit and the wait. The dispatcher publishes from its own thread; the
// waiter wakes on the executor it subscribed with. At most `max_waiters` subscriptions exist at
// once: beyond that subscribe() refuses, and the request answers without waiting. Only outcomes
// recorded by this process are seen (a notification delivered by another instance sharing the
// store times out here and answers 202). Thread-safe.
class OutcomeBoard {
public:
    class Waiter;

    explicit OutcomeBoard(std::size_t max_waiters);
    OutcomeBoard(const OutcomeBoard&) = delete;
    OutcomeBoard& operator=(const OutcomeBoard&) = delete;

    // A waiter for notification `id`, woken on `executor`; null when max_waiters are taken.
    // Dropping the last reference unsubscribes.
    std::shared_ptr<Waiter> subscribe(const std::string& id, boost::asio::any_io_executor executor);

    // Notification `id` reached a final status (sent, failed, expired, cancelled): wakes its
    // waiters. The dispatcher publishes delivery outcomes, the expiry sweeper and the cancel
    // endpoint the others.
    void publish(const std::string& id, store::Status status);

    std::size_t waiters() const;

private:
    friend class Waiter;
    void unsubscribe(const std::string& id, Waiter* waiter);

    const std::size_t max_waiters_;
    mutable std::mutex mutex_;
    std::unordered_multimap<std::string, Waiter*> waiters_;  // guarded by mutex_
};

// One subscription. Used only on the executor it was subscribed with.
class OutcomeBoard::Waiter {
public:
    Waiter(OutcomeBoard& board, std::string id, boost::asio::any_io_executor executor);
    ~Waiter();

    // Suspends until the outcome is published, interrupt() is called, or `deadline` passes.
    // Returns the final status when it was published, nullopt otherwise.
    boost::asio::awaitable<std::optional<store::Status>> wait_until(
        std::chrono::steady_clock::time_point deadline);

    // Ends the current or next wait early (the client left). Call on the waiter's executor.
    void interrupt();

private:
    friend class OutcomeBoard;
    void deliver(store::Status status);  // on the waiter's executor

    OutcomeBoard& board_;
    const std::string id_;
    boost::asio::steady_timer timer_;
    std::optional<store::Status> outcome_;
    bool interrupted_ = false;
};

}  // namespace herald::delivery
