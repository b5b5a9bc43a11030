#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <memory>

namespace herald::mockmail {

// The provider's concurrency cap: at most `limit` sends are worked on at once (0: no cap).
// Beyond it a send is either refused at once (Mode::refuse: the mock answers 503 with
// Retry-After: 1, as a provider shedding load does) or waits in a FIFO queue for a slot
// (Mode::queue: its latency then starts when it gets one, so a provider with limit L and latency
// D serves at most L / D sends a second, however many arrive).
//
// One thread only (the mock's io_context). A slot taken must be given back with release();
// Slot does that on destruction.
class SendSlots {
public:
    enum class Mode { refuse, queue };

    SendSlots(boost::asio::io_context& io, std::size_t limit, Mode mode);

    // True once the caller holds a slot; false when it is refused (Mode::refuse, cap reached).
    boost::asio::awaitable<bool> acquire();
    void release();

    std::size_t queued() const { return waiters_.size(); }
    std::size_t peak_queued() const { return peak_queued_; }
    std::size_t limit() const { return limit_; }

private:
    boost::asio::io_context& io_;
    std::size_t limit_;
    Mode mode_;
    std::size_t busy_ = 0;
    std::size_t peak_queued_ = 0;
    // Each waiter sleeps on its own timer; release() hands its slot to the oldest by cancelling
    // that timer (the slot stays counted in busy_).
    std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace herald::mockmail
