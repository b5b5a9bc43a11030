#include "delivery/outcome_board.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace herald::delivery {

OutcomeBoard::OutcomeBoard(std::size_t max_waiters) : max_waiters_(max_waiters) {}

std::shared_ptr<OutcomeBoard::Waiter> OutcomeBoard::subscribe(
    const std::string& id, boost::asio::any_io_executor executor) {
    {
        std::lock_guard lock(mutex_);
        if (waiters_.size() >= max_waiters_) {
            return nullptr;
        }
    }
    auto waiter = std::make_shared<Waiter>(*this, id, std::move(executor));
    std::lock_guard lock(mutex_);
    waiters_.emplace(id, waiter.get());
    return waiter;
}

void OutcomeBoard::publish(const std::string& id, store::Status status) {
    std::lock_guard lock(mutex_);
    auto [begin, end] = waiters_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
        // The waiter unsubscribes under this lock before it is destroyed, and the posted
        // function holds no pointer to it: it looks the waiter up again when it runs.
        Waiter* waiter = it->second;
        boost::asio::post(waiter->timer_.get_executor(), [this, id, waiter, status] {
            std::unique_lock relock(mutex_);
            auto [first, last] = waiters_.equal_range(id);
            for (auto at = first; at != last; ++at) {
                if (at->second == waiter) {
                    relock.unlock();
                    waiter->deliver(status);
                    return;
                }
            }
        });
    }
}

std::size_t OutcomeBoard::waiters() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

void OutcomeBoard::unsubscribe(const std::string& id, Waiter* waiter) {
    std::lock_guard lock(mutex_);
    auto [begin, end] = waiters_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
        if (it->second == waiter) {
            waiters_.erase(it);
            return;
        }
    }
}

OutcomeBoard::Waiter::Waiter(OutcomeBoard& board,
                             std::string id,
                             boost::asio::any_io_executor executor)
    : board_(board), id_(std::move(id)), timer_(std::move(executor)) {}

OutcomeBoard::Waiter::~Waiter() {
    board_.unsubscribe(id_, this);
}

boost::asio::awaitable<std::optional<store::Status>> OutcomeBoard::Waiter::wait_until(
    std::chrono::steady_clock::time_point deadline) {
    // deliver() and interrupt() run on this executor, so between the checks and the wait nothing
    // can be missed: a wake-up that comes first sets its flag, one that comes later cancels.
    while (!outcome_ && !interrupted_ && std::chrono::steady_clock::now() < deadline) {
        timer_.expires_at(deadline);
        co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return outcome_;
}

void OutcomeBoard::Waiter::interrupt() {
    interrupted_ = true;
    timer_.cancel();
}

void OutcomeBoard::Waiter::deliver(store::Status status) {
    outcome_ = status;
    timer_.cancel();
}

}  // namespace herald::delivery
