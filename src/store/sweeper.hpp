#pragma once

#include "store/store.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Marks notifications `expired` once their expiry passes without a send (Store::expire_due).
// Every `interval` it expires batches of `batch` until a batch comes back short, so a large
// backlog expiring at once is handled in short transactions with intake's writes between them.
// `on_expired` gets the ids of each batch (to wake waiting requests and count them); it runs on
// the sweeper's thread and must not block for long. A failed batch is logged and tried again at
// the next interval. claim_due never leases an expired entry, so between sweeps a notification
// past its expiry stays `queued` or `retrying` in GET but is not sent.
//
// Threads: one of its own, mostly asleep. The store must outlive the sweeper.
class ExpirySweeper {
public:
    using OnExpired = std::function<void(const std::vector<std::string>& ids)>;

    ExpirySweeper(Store& store,
                  std::chrono::milliseconds interval,
                  OnExpired on_expired,
                  int batch = 500);
    ExpirySweeper(const ExpirySweeper&) = delete;
    ExpirySweeper& operator=(const ExpirySweeper&) = delete;
    ~ExpirySweeper();  // calls stop()

    void start();
    // Stops and joins the thread; a sweep in progress finishes its current batch. Idempotent.
    void stop();

    // Runs one sweep now on the calling thread (blocking until the store answers each batch);
    // returns how many notifications it expired, or -1 when the store failed.
    long sweep_once();

private:
    void run();

    Store& store_;
    const std::chrono::milliseconds interval_;
    const OnExpired on_expired_;
    const int batch_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herald::store
