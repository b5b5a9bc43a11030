#pragma once

#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace herald::core {

// Bridges a callback-style operation that completes on a foreign thread (a store or transport
// thread) into a coroutine. `start` receives a callback taking one `T`; it may call it from any
// thread, exactly once. The coroutine resumes on its own executor, never on the foreign thread.
//
// Cancellation: the operation itself is not cancelled; the coroutine always waits for its result.
template <typename T, typename Start>
boost::asio::awaitable<T> await_callback(Start start) {
    auto executor = co_await boost::asio::this_coro::executor;
    co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
        [executor, start = std::move(start)](auto handler) mutable {
            using Handler = decltype(handler);
            auto shared = std::make_shared<Handler>(std::move(handler));
            start([executor, shared](T value) mutable {
                boost::asio::post(executor, [shared, value = std::move(value)]() mutable {
                    (*shared)(std::move(value));
                });
            });
        },
        boost::asio::use_awaitable);
}

}  // namespace herald::core
