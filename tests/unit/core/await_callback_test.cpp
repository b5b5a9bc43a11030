#include "core/await_callback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>

namespace herald::core {
namespace {

// Completes every call on a thread of its own, like the store and the transports do.
class ForeignService {
public:
    ~ForeignService() {
        if (worker_.joinable()) {
            worker_.join();
        }
    }

    void measure(std::string text, std::function<void(std::size_t)> done) {
        if (worker_.joinable()) {
            worker_.join();
        }
        worker_ = std::thread([text = std::move(text), done = std::move(done), this] {
            completed_on_ = std::this_thread::get_id();
            done(text.size());
        });
    }

    std::thread::id completed_on_;

private:
    std::thread worker_;
};

boost::asio::awaitable<void> measure_twice(ForeignService* service,
                                           std::size_t* first,
                                           std::size_t* second,
                                           std::thread::id* resumed_on) {
    // Heap-allocated strings moved into the call, as the API moves its records into the store.
    std::string short_text(100, 'a');
    std::string long_text(250, 'b');
    *first =
        co_await await_call<std::size_t>(*service, &ForeignService::measure, std::move(short_text));
    *second =
        co_await await_call<std::size_t>(*service, &ForeignService::measure, std::move(long_text));
    *resumed_on = std::this_thread::get_id();
}

TEST(AwaitCall, ResumesOnTheCallersThreadWithTheForeignResult) {
    boost::asio::io_context context;
    ForeignService service;
    std::size_t first = 0;
    std::size_t second = 0;
    std::thread::id resumed_on;
    bool finished = false;
    boost::asio::co_spawn(context,
                          measure_twice(&service, &first, &second, &resumed_on),
                          [&](std::exception_ptr error) { finished = !error; });
    context.run();

    EXPECT_TRUE(finished);
    EXPECT_EQ(first, 100u);
    EXPECT_EQ(second, 250u);
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
    EXPECT_NE(service.completed_on_, std::this_thread::get_id());
}

}  // namespace
}  // namespace herald::core
