#include "observe/loop_watchdog.hpp"

#include "core/thread_name.hpp"
#include "observe/log.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <limits>

namespace herald::observe {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::rep kNotRun = std::numeric_limits<Clock::rep>::min();

std::int64_t whole_ms(std::chrono::nanoseconds lag) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(lag).count();
}

}  // namespace

// One probed loop. Everything but `ran_at` is touched only by the thread that calls tick();
// `ran_at` is written by the probe on the loop's own thread. Shared with the queued probe, so a
// probe that runs after the watchdog is gone writes into memory it still owns.
struct LoopWatchdog::Loop {
    Loop(boost::asio::io_context& c, std::string n, Metrics::EventLoop s)
        : context(c), name(std::move(n)), series(s) {}

    boost::asio::io_context& context;
    const std::string name;
    Metrics::EventLoop series;
    bool probing = false;  // a probe was posted; it has run once ran_at != kNotRun
    Clock::time_point posted_at;
    bool stalled = false;  // the current probe began a stall episode
    LoopStall stall;       // that episode's report, for the line that ends it
    std::atomic<Clock::rep> ran_at{kNotRun};
};

LoopWatchdog::LoopWatchdog(std::vector<boost::asio::io_context*> loops,
                           LoopWatchdogOptions options,
                           Metrics& metrics,
                           const LoopActivity* activity)
    : options_(options), activity_(activity) {
    for (std::size_t i = 0; i < loops.size(); ++i) {
        assert(loops[i] != nullptr);
        std::string name = "io-" + std::to_string(i);
        auto series = metrics.event_loop(name);
        loops_.push_back(std::make_shared<Loop>(*loops[i], std::move(name), series));
    }
}

LoopWatchdog::~LoopWatchdog() {
    stop();
}

void LoopWatchdog::start() {
    assert(!thread_.joinable());
    thread_ = std::thread([this] { run(); });
}

void LoopWatchdog::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void LoopWatchdog::run() {
    core::name_this_thread("herald-watchdog");
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            tick();
        } catch (const std::exception& e) {
            // Only allocation can fail here; the next round tries again.
            error("loop watchdog round failed", {{"error", e.what()}});
        }
        lock.lock();
        wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
}

std::vector<LoopStall> LoopWatchdog::tick() {
    std::vector<LoopStall> began;
    const auto now = Clock::now();
    for (std::size_t i = 0; i < loops_.size(); ++i) {
        Loop& loop = *loops_[i];
        const Clock::rep ran = loop.ran_at.load(std::memory_order_acquire);
        if (loop.probing && ran == kNotRun) {
            const auto waited = now - loop.posted_at;
            if (!loop.stalled && waited > options_.stall_threshold) {
                began.push_back(begin_stall(loop, i, waited));
            }
            continue;  // one probe at a time: a blocked loop gets no second one
        }
        if (loop.probing) {
            const auto lag = std::max(Clock::duration::zero(),
                                      Clock::time_point{Clock::duration{ran}} - loop.posted_at);
            loop.series.observe_lag(lag);
            if (!loop.stalled && lag > options_.stall_threshold) {
                // It ran late before a round saw it waiting (this thread itself was late).
                began.push_back(begin_stall(loop, i, lag));
            }
            if (loop.stalled) {
                end_stall(loop, lag);
            }
        }
        post_probe(loops_[i]);
    }
    return began;
}

void LoopWatchdog::post_probe(const std::shared_ptr<Loop>& loop) {
    loop->ran_at.store(kNotRun, std::memory_order_relaxed);
    loop->posted_at = Clock::now();
    loop->probing = true;
    boost::asio::post(loop->context, [loop] {
        loop->ran_at.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    });
}

LoopStall LoopWatchdog::begin_stall(Loop& loop, std::size_t index, std::chrono::nanoseconds lag) {
    LoopActivity::Current current = activity_ ? activity_->current(index) : LoopActivity::Current{};
    loop.stalled = true;
    loop.stall = LoopStall{loop.name, lag, std::move(current.route), std::move(current.request_id)};
    loop.series.count_stall();
    warn("event loop stalled",
         {{"thread", loop.name},
          {"lag_ms", whole_ms(lag)},
          {"route", loop.stall.route},
          {"request_id", loop.stall.request_id}});
    return loop.stall;
}

void LoopWatchdog::end_stall(Loop& loop, std::chrono::nanoseconds lag) {
    loop.stalled = false;
    info("event loop stall ended",
         {{"thread", loop.name},
          {"lag_ms", whole_ms(lag)},
          {"route", loop.stall.route},
          {"request_id", loop.stall.request_id}});
}

}  // namespace herald::observe
