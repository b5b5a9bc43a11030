#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace herald::http {

// The I/O threads: one io_context per thread, so a connection and everything it does stays on
// one thread (no locks, no strands). Connections are spread over the contexts round-robin.
// Nothing that blocks may run on these threads.
class IoPool {
public:
    explicit IoPool(std::size_t threads);
    ~IoPool();
    IoPool(const IoPool&) = delete;
    IoPool& operator=(const IoPool&) = delete;

    std::size_t size() const { return contexts_.size(); }
    boost::asio::io_context& at(std::size_t index) { return *contexts_[index]; }
    // The next context in round-robin order. Thread-safe.
    boost::asio::io_context& next();
    // The index of the next context in round-robin order (for at()). Thread-safe.
    std::size_t next_index();
    // Every context, indexed as at(), e.g. for the loop watchdog. They live as long as the pool.
    std::vector<boost::asio::io_context*> contexts();

    void start();
    // Lets run() return once each context has no more work.
    void release_work();
    // Stops every context at once, abandoning pending handlers.
    void stop();
    void join();

private:
    using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<WorkGuard> guards_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace herald::http
