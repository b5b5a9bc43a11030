#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace herald::core {

namespace detail {

// The initiation handed to Asio: calls `start` with a callback that posts the value back to the
// awaiting coroutine's executor.
template <typename T, typename Start>
class CallbackInitiation {
public:
    explicit CallbackInitiation(Start start) : start_(std::move(start)) {}

    template <typename Handler>
    void operator()(Handler handler) {
        auto executor = boost::asio::get_associated_executor(handler);
        auto shared = std::make_shared<Handler>(std::move(handler));
        start_([executor, shared](T value) mutable {
            boost::asio::post(executor, [shared, value = std::move(value)]() mutable {
                (*shared)(std::move(value));
            });
        });
    }

private:
    Start start_;
};

}  // namespace detail

// Bridges a callback-style operation that completes on a foreign thread (a store or transport
// thread) into a coroutine. `start` is called with a callback taking one `T`, which it may call
// from any thread, exactly once; the awaiting coroutine resumes on its own executor, never on the
// foreign thread. The operation itself is not cancelled: the coroutine always waits for it.
//
// Never pass a lambda with captures written inside the co_await expression itself: GCC 12
// destroys such a closure temporary twice (a heap corruption seen here with Boost 1.81). Use
// await_call below, std::bind_front, or a named variable.
template <typename T, typename Start>
boost::asio::awaitable<T> await_callback(Start&& start) {
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
        detail::CallbackInitiation<T, std::decay_t<Start>>(std::forward<Start>(start)),
        boost::asio::use_awaitable);
}

// `T result = co_await await_call<T>(object, &Class::method, args...)` for a method whose last
// parameter is the callback: `void Class::method(Args..., std::function<void(T)>)`.
template <typename T, typename Object, typename Method, typename... Args>
boost::asio::awaitable<T> await_call(Object& object, Method method, Args&&... args) {
    return await_callback<T>(std::bind_front(method, &object, std::forward<Args>(args)...));
}

}  // namespace herald::core
