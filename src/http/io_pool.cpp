#include "http/io_pool.hpp"

#include "core/thread_name.hpp"
#include "observe/log.hpp"

namespace herald::http {

IoPool::IoPool(std::size_t threads) {
    const std::size_t count = threads == 0 ? 1 : threads;
    for (std::size_t i = 0; i < count; ++i) {
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        guards_.emplace_back(contexts_.back()->get_executor());
    }
}

IoPool::~IoPool() {
    stop();
    join();
}

boost::asio::io_context& IoPool::next() {
    return *contexts_[next_index()];
}

std::size_t IoPool::next_index() {
    return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
}

std::vector<boost::asio::io_context*> IoPool::contexts() {
    std::vector<boost::asio::io_context*> out;
    for (auto& context : contexts_) {
        out.push_back(context.get());
    }
    return out;
}

void IoPool::start() {
    for (auto& context : contexts_) {
        threads_.emplace_back([ctx = context.get(), index = threads_.size()] {
            core::name_this_thread("herald-io-" + std::to_string(index));
            try {
                ctx->run();
            } catch (const std::exception& e) {
                observe::error("io thread stopped by exception", {{"error", e.what()}});
            }
        });
    }
}

void IoPool::release_work() {
    for (auto& guard : guards_) {
        guard.reset();
    }
}

void IoPool::stop() {
    for (auto& context : contexts_) {
        context->stop();
    }
}

void IoPool::join() {
    for (auto& thread : threads_) {
        if (thread.joinable()) {
            thread.join();
        }
    }
    threads_.clear();
}

}  // namespace herald::http
