#include "store/sweeper.hpp"

#include "core/thread_name.hpp"
#include "core/time.hpp"
#include "observe/log.hpp"

#include <algorithm>
#include <future>

namespace herald::store {

IdempotencySweeper::IdempotencySweeper(Store& store, std::chrono::milliseconds interval, int batch)
    : store_(store), interval_(interval), batch_(std::max(1, batch)) {}

IdempotencySweeper::~IdempotencySweeper() {
    stop();
}

void IdempotencySweeper::start() {
    thread_ = std::thread([this] {
        core::name_this_thread("herald-sweeper");
        run();
    });
}

void IdempotencySweeper::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

long IdempotencySweeper::sweep_once() {
    long deleted = 0;
    for (;;) {
        std::promise<boost::system::result<int>> promise;
        auto answer = promise.get_future();
        store_.sweep_idempotency(core::unix_now_ms(), batch_, [&promise](auto result) {
            promise.set_value(std::move(result));
        });
        const auto swept = answer.get();
        if (!swept) {
            observe::warn("idempotency sweep failed", {{"error", swept.error().message()}});
            return -1;
        }
        deleted += *swept;
        if (*swept < batch_) {
            return deleted;
        }
        const std::lock_guard lock(mutex_);
        if (stopping_) {
            return deleted;
        }
    }
}

void IdempotencySweeper::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
                return;
            }
        }
        const long deleted = sweep_once();
        if (deleted > 0) {
            observe::info("idempotency keys expired", {{"deleted", deleted}});
        }
    }
}

ExpirySweeper::ExpirySweeper(Store& store,
                             std::chrono::milliseconds interval,
                             OnExpired on_expired,
                             int batch)
    : store_(store),
      interval_(interval),
      on_expired_(std::move(on_expired)),
      batch_(std::max(1, batch)) {}

ExpirySweeper::~ExpirySweeper() {
    stop();
}

void ExpirySweeper::start() {
    thread_ = std::thread([this] {
        core::name_this_thread("herald-expiry");
        run();
    });
}

void ExpirySweeper::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

long ExpirySweeper::sweep_once() {
    using Expired = boost::system::result<std::vector<std::string>>;
    long expired = 0;
    for (;;) {
        std::promise<Expired> promise;
        auto answer = promise.get_future();
        store_.expire_due(core::unix_now_ms(), batch_, [&promise](Expired result) {
            promise.set_value(std::move(result));
        });
        const Expired batch = answer.get();
        if (!batch) {
            observe::warn("expiry sweep failed", {{"error", batch.error().message()}});
            return -1;
        }
        expired += static_cast<long>(batch->size());
        if (!batch->empty() && on_expired_) {
            on_expired_(*batch);
        }
        if (batch->size() < static_cast<std::size_t>(batch_)) {
            return expired;
        }
        const std::lock_guard lock(mutex_);
        if (stopping_) {
            return expired;
        }
    }
}

void ExpirySweeper::run() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
                return;
            }
        }
        const long expired = sweep_once();
        if (expired > 0) {
            observe::info("notifications expired", {{"count", expired}});
        }
    }
}

}  // namespace herald::store
