#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace herald::observe {

// Runs a few cheap measurements every `interval` on a thread of its own ("herald-sampler"), so
// that gauges which cost a query or a walk of /proc are never computed during a scrape on an I/O
// thread. A task may hand work to another thread (a store query with a callback) and return; it
// must not block for long, and an exception it throws is logged and the round goes on. The first
// round runs at start(). stop() (also the destructor) wakes and joins the thread; tasks must stay
// callable until then.
class Sampler {
public:
    Sampler(std::chrono::milliseconds interval, std::vector<std::function<void()>> tasks);
    ~Sampler();
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    void start();
    void stop();

private:
    void run();

    const std::chrono::milliseconds interval_;
    const std::vector<std::function<void()>> tasks_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace herald::observe
