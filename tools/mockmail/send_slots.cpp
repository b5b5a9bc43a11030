#include "send_slots.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace herald::mockmail {

namespace asio = boost::asio;

SendSlots::SendSlots(asio::io_context& io, std::size_t limit, Mode mode)
    : io_(io), limit_(limit), mode_(mode) {}

asio::awaitable<bool> SendSlots::acquire() {
    if (limit_ == 0 || busy_ < limit_) {
        ++busy_;
        co_return true;
    }
    if (mode_ == Mode::refuse) {
        co_return false;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_);
    timer->expires_at(asio::steady_timer::time_point::max());
    waiters_.push_back(timer);
    peak_queued_ = std::max(peak_queued_, waiters_.size());
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return true;  // release() handed us its slot
}

void SendSlots::release() {
    if (limit_ == 0) {
        return;
    }
    if (waiters_.empty()) {
        --busy_;
        return;
    }
    waiters_.front()->cancel();
    waiters_.pop_front();
}

}  // namespace herald::mockmail
