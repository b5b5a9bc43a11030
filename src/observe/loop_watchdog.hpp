#pragma once

#include "observe/loop_activity.hpp"
#include "observe/metrics.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::observe {

struct LoopWatchdogOptions {
    std::chrono::milliseconds interval{10};  // between probes of one loop
    // A probe later than this is a stall (server.stall_threshold_ms).
    std::chrono::milliseconds stall_threshold{50};
};

// One stall episode of one loop, as reported when it began.
struct LoopStall {
    std::string thread;               // "io-0", …
    std::chrono::nanoseconds lag{0};  // how late the probe was when the stall was seen
    // What LoopActivity named for that thread then; "" for nothing.
    std::string route;
    std::string request_id;
};

// Proves that the I/O threads never block, and reports when one does. Every `interval` it posts
// a tiny probe to each io_context that has none pending and records how late the probe ran
// (herald_event_loop_lag_seconds). A probe that is later than `stall_threshold`, whether it has
// run or is still waiting (so a loop blocked for good is reported while it is blocked), begins
// a stall episode: herald_event_loop_stalls_total counts it once and one warn line "event loop
// stalled" names the thread, the lag so far and the route and request id `activity` holds for
// that thread. When the late probe finally runs, the episode ends with one info line "event
// loop stall ended" carrying the probe's whole lag (the stall's length, less up to one
// interval). A loop is probed again only once its last probe ran, so a blocked loop gets one
// probe and one line, however long it stays blocked.
//
// Shortcoming: a loop blocked for good never runs its probe, so it adds no lag sample and its
// episode never ends; only the stall counter and the warn line show it.
//
// Loop i is named "io-i" in metrics and logs. The io_contexts, `metrics` and `activity` (which
// may be null) must outlive the watchdog; a probe still queued on a loop when the watchdog is
// destroyed runs (or is destroyed with its io_context) harmlessly later.
//
// Threads: start() runs tick() on a thread of its own ("herald-watchdog") until stop(). tick()
// may instead be called by hand (tests), never while that thread runs.
class LoopWatchdog {
public:
    LoopWatchdog(std::vector<boost::asio::io_context*> loops,
                 LoopWatchdogOptions options,
                 Metrics& metrics,
                 const LoopActivity* activity);
    // Stops and joins the thread.
    ~LoopWatchdog();
    LoopWatchdog(const LoopWatchdog&) = delete;
    LoopWatchdog& operator=(const LoopWatchdog&) = delete;

    // Starts the watchdog's thread. Call once, after the loops run: a loop that is not running
    // yet is reported as stalled.
    void start();
    // Stops the thread and waits for it. Safe to call more than once, and without start().
    void stop();

    // One round: records the probes that ran, reports stalls that began, posts new probes.
    // Returns the stalls that began in this round (they have been counted and logged).
    std::vector<LoopStall> tick();

private:
    struct Loop;

    void run();
    void post_probe(const std::shared_ptr<Loop>& loop);
    LoopStall begin_stall(Loop& loop, std::size_t index, std::chrono::nanoseconds lag);
    void end_stall(Loop& loop, std::chrono::nanoseconds lag);

    LoopWatchdogOptions options_;
    const LoopActivity* activity_;
    std::vector<std::shared_ptr<Loop>> loops_;

    std::mutex mutex_;  // guards stopping_
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herald::observe
