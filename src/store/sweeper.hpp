#pragma once

#include "store/store.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace herald::store {

// Deletes expired idempotency records in the background. Every `interval` it asks the store to
// sweep batches of `batch` records until a batch comes back short, so a large backlog is cleared
// in many short transactions with intake's writes queued between them, never in one long one.
// A failed sweep is logged and tried again at the next interval.
//
// Threads: one of its own, mostly asleep. The store must outlive the sweeper.
class IdempotencySweeper {
public:
    IdempotencySweeper(Store& store, std::chrono::milliseconds interval, int batch = 1000);
    IdempotencySweeper(const IdempotencySweeper&) = delete;
    IdempotencySweeper& operator=(const IdempotencySweeper&) = delete;
    ~IdempotencySweeper();  // calls stop()

    void start();
    // Stops and joins the thread; a sweep in progress finishes its current batch. Idempotent.
    void stop();

    // Runs one sweep now on the calling thread (blocking until the store answers each batch);
    // returns how many records it deleted, or -1 when the store failed.
    long sweep_once();

private:
    void run();

    Store& store_;
    const std::chrono::milliseconds interval_;
    const int batch_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herald::store
