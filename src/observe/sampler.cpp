#include "observe/sampler.hpp"

#include "core/thread_name.hpp"
#include "observe/log.hpp"

namespace herald::observe {

Sampler::Sampler(std::chrono::milliseconds interval, std::vector<std::function<void()>> tasks)
    : interval_(interval), tasks_(std::move(tasks)) {}

Sampler::~Sampler() {
    stop();
}

void Sampler::start() {
    if (!thread_.joinable()) {
        thread_ = std::thread([this] { run(); });
    }
}

void Sampler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Sampler::run() {
    core::name_this_thread("herald-sampler");
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        for (const auto& task : tasks_) {
            try {
                task();
            } catch (const std::exception& e) {
                warn("sampling failed", {{"error", e.what()}});
            }
        }
        lock.lock();
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
}

}  // namespace herald::observe
